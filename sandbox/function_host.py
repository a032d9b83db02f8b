"""Lambda functions run locally: each instance is its own Python process, serving one invocation at a time.

    spec = function_specs(cfn_template, resources, app_root)["ApiFunction"]
    pool = FunctionPool(spec, host_environment(spec, local_aws_env, app_root), size=2)
    result = pool.invoke(b'{"path": "/"}')   # -> Invocation(payload=b"...", error=False)

The parent binds each instance's loopback socket and hands it to the child, so the port is known before the
child has imported anything, requests wait in the socket's backlog while it cold-starts, and a restarted
child takes over the same socket. The child (`python -m sandbox.function_host`) uses only the standard
library before it imports the handler, imports `<code dir>/<module>.py` by file path, and answers
`POST /invoke` with the handler's JSON result, or a Lambda-style error object and `X-Function-Error`.
Like Lambda, an invocation that outlives the function's Timeout ends the instance (Sandbox.Timedout), and
an instance that crashes (Runtime.ExitError) is replaced for the next invocation.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.localaws import StackResources

LOOPBACK = "127.0.0.1"
FUNCTION_ERROR_HEADER = "X-Function-Error"
EXITING_HEADER = "X-Host-Exiting"  # the child stops after this response (the invocation timed out)
# The child enforces the function's timeout itself; the parent only backstops a child that stops answering,
# allowing for the init phase (Lambda gives it its own 10 s) on top of the timeout.
BACKSTOP_SECONDS = 15.0
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
_REPO_ROOT = Path(__file__).resolve().parents[1]
# Variables of this process that must not leak into a function's environment.
_PRIVATE_ENV_PREFIXES = ("AWS_", "POWERTOOLS_", "_X_AMZN", "_HANDLER", "LAMBDA_", "PYTHONPATH")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the template declares it, with references resolved to local values."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    environment: dict[str, str] = field(default_factory=dict)
    layer_dirs: tuple[Path, ...] = ()
    runtime: str = "python3.12"

    @property
    def name(self) -> str:
        """The function's local name: its logical id (what `Ref` gives locally)."""
        return self.logical_id


def function_specs(
    cfn_template: Mapping[str, Any], resources: StackResources, app_root: Path
) -> dict[str, FunctionSpec]:
    """Every Python AWS::Lambda::Function in the translated template, keyed by logical id.

    Code and layer folders come from `Code.S3Key`/`Content.S3Key` (see `sandbox.localaws.translate_template`),
    relative to `app_root`. A layer folder with a `python/` subfolder is a built layer; otherwise the folder
    itself is the import root (SAM builds `layers/hrsync/` into `python/` at deploy time).
    """
    from sandbox.localaws import local_code_path

    template_resources = cfn_template.get("Resources") or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in template_resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        if "Condition" in resource and not resources.condition(resource["Condition"]):
            continue
        properties = resource.get("Properties") or {}
        runtime = str(properties.get("Runtime", ""))
        code_path = local_code_path(properties.get("Code"))
        if not runtime.startswith("python") or code_path is None:
            log.warning("%s: only Python functions with a local CodeUri run locally; skipped", logical_id)
            continue
        layer_dirs = []
        for layer in properties.get("Layers") or []:
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            content = ((template_resources.get(layer_id) or {}).get("Properties") or {}).get("Content")
            layer_path = local_code_path(content)
            if layer_path is not None:
                layer_dir = app_root / layer_path
                layer_dirs.append(layer_dir / "python" if (layer_dir / "python").is_dir() else layer_dir)
        variables = resources.resolve((properties.get("Environment") or {}).get("Variables")) or {}
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=app_root / code_path,
            handler=str(properties.get("Handler", "app.handler")),
            timeout=int(resources.resolve(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS))),
            memory_mb=int(resources.resolve(properties.get("MemorySize", DEFAULT_MEMORY_MB))),
            environment={key: _env_string(value) for key, value in variables.items()},
            layer_dirs=tuple(layer_dirs),
            runtime=runtime,
        )
    return specs


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def host_environment(spec: FunctionSpec, base_env: Mapping[str, str], app_root: Path) -> dict[str, str]:
    """The environment of one instance: this process's (minus AWS/Lambda variables), the function's, then
    the Lambda runtime's own variables and `base_env` (the local AWS endpoint and credentials)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_PRIVATE_ENV_PREFIXES)}
    env.update(spec.environment)
    env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "hrsync")
    env.update(base_env)
    import_roots = [*spec.layer_dirs, app_root, _REPO_ROOT]
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            "PYTHONPATH": os.pathsep.join(str(path) for path in dict.fromkeys(import_roots)),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# --------------------------------------------------------------------------------------------- parent side
@dataclass(frozen=True)
class Invocation:
    """What one invocation returned: the JSON payload, and whether it is a function error object."""

    payload: bytes
    error: bool = False
    request_id: str = ""
    duration_ms: float = 0.0

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


def error_payload(error_type: str, message: str, request_id: str = "") -> bytes:
    """A Lambda-style error object."""
    body: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id:
        body["requestId"] = request_id
    return json.dumps(body).encode()


class FunctionHost:
    """One instance of a function: a child process on its own loopback socket, restarted when it dies."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], *, log_stream: IO[bytes] | None = None) -> None:
        self.spec = spec
        self._env = dict(env)
        self._log_stream = log_stream
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self._socket.listen(16)
        self.port: int = self._socket.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> FunctionHost:
        """Start the child (again); requests queue on the socket until it has imported the handler."""
        self._kill()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox.function_host",
                "--listen-fd",
                str(self._socket.fileno()),
                "--code-dir",
                str(self.spec.code_dir),
                "--handler",
                self.spec.handler,
                "--timeout",
                str(self.spec.timeout),
            ],
            pass_fds=(self._socket.fileno(),),
            stdin=subprocess.PIPE,  # the child exits when this closes, even if this process is killed
            stdout=self._log_stream,
            stderr=self._log_stream,
            env=self._env,
            cwd=self.spec.code_dir,
            start_new_session=True,  # Ctrl-C stops the stack, which then stops its children in order
        )
        self.starts += 1
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def invoke(self, payload: bytes, request_id: str | None = None) -> Invocation:
        """Run one invocation; a crash or timeout becomes an error result and the child is restarted."""
        request_id = request_id or str(uuid.uuid4())
        if not self.alive:
            self.start()
        started = time.monotonic()
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.spec.timeout + BACKSTOP_SECONDS)
        try:
            connection.request("POST", "/invoke", body=payload, headers={"X-Request-Id": request_id})
            response = connection.getresponse()
            body = response.read()
            error = response.getheader(FUNCTION_ERROR_HEADER) is not None
            if response.getheader(EXITING_HEADER):
                self._wait_exit()
                self.start()
        except TimeoutError:
            self.start()  # the child stopped answering: replace it, as Lambda replaces a stuck sandbox
            body = error_payload(
                "Sandbox.Timedout", f"Task timed out after {self.spec.timeout:.2f} seconds", request_id
            )
            error = True
        except (ConnectionError, http.client.HTTPException):
            exit_status = self._wait_exit()
            self.start()
            body = error_payload(
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited with error: exit status {exit_status}",
                request_id,
            )
            error = True
        finally:
            connection.close()
        return Invocation(body, error, request_id, (time.monotonic() - started) * 1000)

    def _wait_exit(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdin is not None:
            process.stdin.close()

    def stop(self) -> None:
        """Stop the child (closing its stdin lets it exit on its own) and release the socket."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._socket.close()


class FunctionPool:
    """Up to `size` instances of one function, started on demand; an invocation waits for a free one."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        *,
        size: int,
        log_stream: IO[bytes] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"{spec.logical_id}: a pool needs at least one instance")
        self.spec = spec
        self.size = size
        self._env = dict(env)
        self._log_stream = log_stream
        self._hosts: list[FunctionHost] = []
        self._idle: list[FunctionHost] = []
        self._condition = threading.Condition()
        self._closed = False
        self.invocations = 0  # finished invocations, and the seconds they took (Lambda's billed duration)
        self.busy_seconds = 0.0

    @property
    def busy(self) -> int:
        with self._condition:
            return len(self._hosts) - len(self._idle)

    @property
    def instances(self) -> int:
        with self._condition:
            return len(self._hosts)

    def warm(self, count: int = 1) -> None:
        """Start up to `count` instances now, so the first invocations skip most of the cold start."""
        with self._condition:
            while len(self._hosts) < min(count, self.size):
                host = FunctionHost(self.spec, self._env, log_stream=self._log_stream).start()
                self._hosts.append(host)
                self._idle.append(host)

    def invoke(self, payload: bytes, request_id: str | None = None) -> Invocation:
        host = self._acquire()
        started = time.monotonic()
        try:
            return host.invoke(payload, request_id)
        finally:
            with self._condition:
                self.invocations += 1
                self.busy_seconds += time.monotonic() - started
            self._release(host)

    def pids(self) -> list[int]:
        """The process ids of the running instances (for `make bench`'s memory figures)."""
        with self._condition:
            return [host.pid for host in self._hosts if host.pid is not None]

    def _acquire(self) -> FunctionHost:
        with self._condition:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id} is stopped")
                if self._idle:
                    return self._idle.pop()
                if len(self._hosts) < self.size:
                    host = FunctionHost(self.spec, self._env, log_stream=self._log_stream).start()
                    self._hosts.append(host)
                    return host
                self._condition.wait()

    def _release(self, host: FunctionHost) -> None:
        with self._condition:
            self._idle.append(host)
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._closed = True
            hosts, self._hosts, self._idle = self._hosts, [], []
            self._condition.notify_all()
        for host in hosts:
            host.stop()


# --------------------------------------------------------------------------------------------- child side
class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, request_id: str, timeout: int) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        region = os.environ.get("AWS_REGION", "eu-west-2")
        self.function_name = name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEFAULT_MEMORY_MB))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = f"local/[$LATEST]{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load_handler(code_dir: Path, handler: str) -> Any:
    module_path, _, function_name = handler.rpartition(".")
    module_name = module_path.replace("/", ".")
    spec = importlib.util.spec_from_file_location(module_name, code_dir / f"{module_path}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named '{module_name}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, function_name)


def _error_object(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class _InvokeHandler(BaseHTTPRequestHandler):
    server: _FunctionServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        request_id = self.headers.get("X-Request-Id") or str(uuid.uuid4())

        def on_timeout(signum: int, frame: FrameType | None) -> None:
            # Lambda stops the runtime when an invocation times out: answer, then exit without unwinding
            # (an exception could be swallowed by the handler's own `except`).
            timeout = self.server.timeout_seconds
            print(f"{request_id} Task timed out after {timeout:.2f} seconds", flush=True)
            message = f"Task timed out after {timeout:.2f} seconds"
            self.respond(error_payload("Sandbox.Timedout", message, request_id), error=True, exiting=True)
            os._exit(0)

        signal.signal(signal.SIGALRM, on_timeout)
        signal.setitimer(signal.ITIMER_REAL, self.server.timeout_seconds)
        try:
            body, error = self.server.run(raw, request_id)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.respond(body, error=error)

    def respond(self, body: bytes, *, error: bool, exiting: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if error:
            self.send_header(FUNCTION_ERROR_HEADER, "Unhandled")
        if exiting:
            self.send_header(EXITING_HEADER, "1")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Lambda's own START/END/REPORT lines are written instead


class _FunctionServer(HTTPServer):
    def __init__(self, listen_fd: int, code_dir: Path, handler: str, timeout: int) -> None:
        super().__init__((LOOPBACK, 0), _InvokeHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = socket.socket(fileno=listen_fd)
        self.server_address = self.socket.getsockname()
        self.timeout_seconds = timeout
        self.handler: Any = None
        self.init_error: dict[str, Any] | None = None
        try:
            self.handler = _load_handler(code_dir, handler)
        except Exception as exc:
            module = handler.rpartition(".")[0]
            self.init_error = _error_object(
                exc, "Runtime.ImportModuleError", f"Unable to import module '{module}': {exc}"
            )
            traceback.print_exc()

    def run(self, raw: bytes, request_id: str) -> tuple[bytes, bool]:
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        started = time.monotonic()
        error: dict[str, Any] | None = self.init_error
        result: bytes = b""
        if error is None:
            try:
                event = json.loads(raw) if raw else {}
                value = self.handler(event, LambdaContext(request_id, self.timeout_seconds))
            except Exception as exc:
                error = _error_object(exc)
                print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                traceback.print_exc()
            else:
                try:
                    result = json.dumps(value).encode()
                except (TypeError, ValueError) as exc:
                    error = _error_object(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}")
        duration = (time.monotonic() - started) * 1000
        print(f"END RequestId: {request_id}", flush=True)
        print(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms", flush=True)
        if error is not None:
            error["requestId"] = request_id
            return json.dumps(error).encode(), True
        return result, False


def _exit_when_parent_goes() -> None:
    sys.stdin.buffer.read()  # EOF: the parent closed our stdin or died
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """Child process entry point: serve invocations of one handler on an inherited socket."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--code-dir", type=Path, required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_SECONDS)
    args = parser.parse_args(argv)
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    sys.path.insert(0, str(args.code_dir))  # like /var/task: first on the path, for the handler's siblings
    server = _FunctionServer(args.listen_fd, args.code_dir, args.handler, args.timeout)
    server.serve_forever()


if __name__ == "__main__":
    main()
