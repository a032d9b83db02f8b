"""The whole application on loopback: moto as AWS, the template's functions, event sources, the API and the
simulated vendor systems, with one demo connection per connector created through the API.

    with LocalStack() as stack:                      # python -m sandbox.stack (make up) runs this until Ctrl-C
        client = stack.api_client()                  # httpx.Client with base_url and x-api-key set
        client.post(f"/connections/{stack.connections['staffology-expensein']}/syncs")
        stack.wait_idle()

`.hrsync/local.json` records the endpoints for other processes (the CLI, the demo):
`{"api", "api_key", "aws_endpoint", "lambda_endpoint", "region", "queues": {...}, "systems": {...},
"connections": {...}}`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, TypeVar

from sandbox.emulator import EventSourceEmulator, async_retry_attempts, schedules, sqs_event_sources
from sandbox.function_host import FunctionPool, FunctionSpec, function_specs, host_environment
from sandbox.local_api import LocalApi, api_routes, api_stage
from sandbox.localaws import REGION, LocalAws, StackResources, load_template, translate_template

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POOL_SIZE = 2  # instances per function without a ScalingConfig (Lambda's minimum MaximumConcurrency)
DEFAULT_INITIAL_RUN_TIMEOUT_SECONDS = 120.0
CONNECTION_ID_PREFIX = "demo-"

log = logging.getLogger(__name__)
_Part = TypeVar("_Part")


class LocalStackError(RuntimeError):
    """The local stack could not be brought up."""


# --------------------------------------------------------------------------------------------- systems
@dataclass(frozen=True)
class SimulatedSystem:
    """How the stack starts one vendor simulator and describes it to a connection."""

    create: Callable[[], Any]
    api_base: Callable[[Any], str]
    connection_config: Callable[[Any], dict[str, Any]]
    credentials: Callable[[Any], dict[str, Any]]


def _staffology() -> Any:
    from sandbox.simulators.staffology import StaffologySimulator

    return StaffologySimulator()


def _expensein() -> Any:
    from sandbox.simulators.expensein import ExpenseInSimulator

    return ExpenseInSimulator()


def _micropay() -> Any:
    from sandbox.simulators.micropay import MicrOpaySimulator

    return MicrOpaySimulator()


def _access_ess() -> Any:
    from sandbox.simulators.access_ess import AccessEssSimulator

    return AccessEssSimulator()


def _worknice() -> Any:
    from sandbox.simulators.worknice import WorkniceSimulator

    return WorkniceSimulator()


# The demo connection's Worknice integration id (micropay-worknice keeps it in target.employer_id).
WORKNICE_INTEGRATION_ID = "int-micropay-demo"


def _expensein_base(simulator: Any) -> str:
    from sandbox.simulators.expensein import API_PREFIX

    return f"{simulator.url}{API_PREFIX}"


def _benefits() -> Any:
    from sandbox.simulators.benefits import BenefitsSimulator

    return BenefitsSimulator()


SYSTEMS: dict[str, SimulatedSystem] = {
    "staffology": SimulatedSystem(
        create=_staffology,
        api_base=lambda sim: sim.url,
        connection_config=lambda sim: {"base_url": sim.url, "employer_id": sim.employer_id, "system": "staffology"},
        credentials=lambda sim: {"api_key": sim.api_key},
    ),
    "benefits": SimulatedSystem(
        create=_benefits,
        api_base=lambda sim: sim.scim_url,
        connection_config=lambda sim: {"base_url": sim.scim_url},
        credentials=lambda sim: {"api_key": sim.api_key},
    ),
    "expensein": SimulatedSystem(
        create=_expensein,
        api_base=_expensein_base,
        connection_config=lambda sim: {"base_url": _expensein_base(sim)},
        credentials=lambda sim: {"api_key": sim.api_key},
    ),
    "micropay": SimulatedSystem(
        create=_micropay,
        api_base=lambda sim: sim.url,
        connection_config=lambda sim: {"base_url": sim.url},
        credentials=lambda sim: {"api_key": sim.api_key, "username": sim.username, "password": sim.password},
    ),
    "worknice": SimulatedSystem(
        create=_worknice,
        api_base=lambda sim: sim.url,
        connection_config=lambda sim: {"base_url": sim.url, "employer_id": WORKNICE_INTEGRATION_ID},
        credentials=lambda sim: {"api_key": sim.token},
    ),
    "ess": SimulatedSystem(
        create=_access_ess,
        api_base=lambda sim: sim.url,
        connection_config=lambda sim: {"base_url": sim.url},
        credentials=lambda sim: {"api_key": sim.api_key},
    ),
}


# Connectors whose source is chosen per connection: the systems their demo connection uses.
DEMO_SYSTEMS = {"hr-benefits": ("staffology", "benefits")}


def connector_systems(connector: str) -> tuple[str, str]:
    """A connector's (source, target) systems: connectors are named `<source>-<target>` unless DEMO_SYSTEMS
    names them."""
    if connector in DEMO_SYSTEMS:
        return DEMO_SYSTEMS[connector]
    source, _, target = connector.partition("-")
    if not target:
        raise LocalStackError(f"connector {connector!r} is not named <source>-<target>")
    return source, target


# --------------------------------------------------------------------------------------------- stack
class LocalStack:
    """Everything `make up` runs, started in order and stopped in reverse; a context manager.

    Ports are free loopback ports unless given. `parameters` override template parameter defaults;
    `concurrency` sets instances per function (default: the SQS event source's MaximumConcurrency, else 2).
    With `state_dir=None` nothing is written (no local.json, function logs go to this process's stderr).
    """

    def __init__(
        self,
        *,
        template: Path | None = None,
        app_root: Path | None = None,
        parameters: Mapping[str, Any] | None = None,
        concurrency: Mapping[str, int] | None = None,
        simulators: bool = True,
        connections: bool = True,
        state_dir: Path | None = REPO_ROOT / ".hrsync",
        retry_delay: int = 1,
        initial_run_timeout: float = DEFAULT_INITIAL_RUN_TIMEOUT_SECONDS,
        api_port: int = 0,
        lambda_port: int = 0,
        region: str = REGION,
    ) -> None:
        self.template_path = template or REPO_ROOT / "template.yaml"
        self.app_root = app_root or self.template_path.parent
        self.parameters = dict(parameters or {})
        self.concurrency = dict(concurrency or {})
        self.run_simulators = simulators
        self.create_connections = connections and simulators
        self.state_dir = state_dir
        self.retry_delay = retry_delay
        self.initial_run_timeout = initial_run_timeout
        self.region = region
        self._api_port = api_port
        self._lambda_port = lambda_port

        self.aws: LocalAws | None = None
        self.resources: StackResources | None = None
        self.functions: dict[str, FunctionSpec] = {}
        self.pools: dict[str, FunctionPool] = {}
        self.emulator: EventSourceEmulator | None = None
        self.api: LocalApi | None = None
        self.simulators: dict[str, Any] = {}
        self.systems: dict[str, str] = {}
        self.connections: dict[str, str] = {}
        self._logs: list[IO[bytes]] = []

    # ----------------------------------------------------------------------------------------- endpoints
    @property
    def api_url(self) -> str:
        return self._require(self.api).url

    @property
    def api_key(self) -> str:
        return self._require(self.api).api_key

    @property
    def aws_endpoint(self) -> str:
        return self._require(self.aws).endpoint_url

    @property
    def lambda_endpoint(self) -> str:
        return self._require(self.emulator).url

    @property
    def state_file(self) -> Path | None:
        return self.state_dir / "local.json" if self.state_dir is not None else None

    @staticmethod
    def _require(part: _Part | None) -> _Part:
        if part is None:
            raise LocalStackError("the local stack is not running")
        return part

    def state(self) -> dict[str, Any]:
        """What local.json holds: where everything listens and which connections exist."""
        return {
            "api": self.api_url,
            "api_key": self.api_key,
            "aws_endpoint": self.aws_endpoint,
            "lambda_endpoint": self.lambda_endpoint,
            "region": self.region,
            "queues": self.queues(),
            "systems": dict(self.systems),
            "connections": dict(self.connections),
        }

    def queues(self) -> dict[str, str]:
        """Logical id -> URL of every SQS queue in the template (the CLI's `dlq` commands use them)."""
        resources = self._require(self.resources)
        return {
            name: resources.ref(name)
            for name, resource in resources.template.get("Resources", {}).items()
            if resource.get("Type") == "AWS::SQS::Queue"
        }

    # ----------------------------------------------------------------------------------------- helpers
    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for the local AWS (Lambda: the emulator's Invoke endpoint)."""
        if service == "lambda":
            kwargs.setdefault("endpoint_url", self.lambda_endpoint)
        return self._require(self.aws).client(service, **kwargs)

    @property
    def env(self) -> dict[str, str]:
        """Environment that points boto3 in another process at this stack."""
        return {**self._require(self.aws).env, "AWS_ENDPOINT_URL_LAMBDA": self.lambda_endpoint}

    def api_client(self, **kwargs: Any) -> Any:
        """An httpx.Client for the local API, with the API key header set."""
        import httpx

        headers = {"x-api-key": self.api_key, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=kwargs.pop("timeout", 60), **kwargs)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no invocation is in flight and the event-source queues are empty (else TimeoutError)."""
        return self._require(self.emulator).wait_idle(timeout)

    def idle(self) -> bool:
        return bool(self._require(self.emulator).idle())

    def fire_schedule(self, function: str, *, wait: bool = False) -> Any:
        """Fire `function`'s schedule now (see EventSourceEmulator.fire_schedule)."""
        return self._require(self.emulator).fire_schedule(function, wait=wait)

    def invoke(self, function: str, payload: Any = b"{}") -> Any:
        """Invoke a function synchronously and return its Invocation."""
        return self._require(self.emulator).invoke(function, payload)

    # ----------------------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Bring everything up; on any failure, stop what started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()
        log_dir = self.state_dir / "logs" if self.state_dir is not None else None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        self.aws = LocalAws(region=self.region, log_path=log_dir / "moto.log" if log_dir else None).start()
        sam_template = load_template(self.template_path)
        cfn_template = translate_template(sam_template, self.aws.client("iam"), region=self.region)
        self.resources = resources = self.aws.deploy(cfn_template, self.parameters)

        sources = sqs_event_sources(cfn_template, resources)
        self.emulator = EventSourceEmulator(
            sources,
            schedules(cfn_template, resources),
            sqs_client_factory=lambda: self._require(self.aws).client("sqs"),
            region=self.region,
            account_id=resources.account_id,
            async_retries=async_retry_attempts(cfn_template, resources),
            retry_delay=self.retry_delay,
            port=self._lambda_port,
        )
        self.functions = function_specs(cfn_template, resources, self.app_root)
        base_env = {**self.aws.env, "AWS_ENDPOINT_URL_LAMBDA": self.emulator.url}
        for logical_id, spec in self.functions.items():
            size = self.concurrency.get(logical_id) or max(
                [s.maximum_concurrency or 0 for s in sources if s.function == logical_id] + [DEFAULT_POOL_SIZE]
            )
            log_stream = self._open_log(log_dir / f"{logical_id}.log") if log_dir else None
            self.pools[logical_id] = FunctionPool(
                spec, host_environment(spec, base_env, self.app_root), size=size, log_stream=log_stream
            )
        for pool in self.pools.values():
            pool.warm(1)
        self.emulator.start(self.pools)
        self.api = LocalApi(
            api_routes(sam_template),
            self.emulator.invoke,
            stage=api_stage(sam_template, resources),
            port=self._api_port,
        ).start()
        if self.run_simulators:
            self._start_simulators()
        if self.create_connections:
            self._create_connections()
        self._write_state()
        log.info("local stack up in %.1f s", time.monotonic() - started)

    def _open_log(self, path: Path) -> IO[bytes]:
        stream = path.open("ab")
        self._logs.append(stream)
        return stream

    def _start_simulators(self) -> None:
        for name, system in SYSTEMS.items():
            simulator = system.create().start()
            self.simulators[name] = simulator
            self.systems[name] = system.api_base(simulator)

    def pause_events(self, function: str) -> None:
        """Stop feeding `function` from its SQS event sources (as disabling the mapping would)."""
        emulator = self._require(self.emulator)
        emulator.paused |= {source.logical_id for source in emulator.sqs_sources if source.function == function}

    def resume_events(self, function: str) -> None:
        emulator = self._require(self.emulator)
        emulator.paused -= {source.logical_id for source in emulator.sqs_sources if source.function == function}

    def connectors(self) -> dict[str, str]:
        """Connector name -> the function that runs it (functions with a CONNECTOR variable)."""
        return {
            spec.environment["CONNECTOR"]: logical_id
            for logical_id, spec in self.functions.items()
            if "CONNECTOR" in spec.environment
        }

    def _create_connections(self) -> None:
        secrets = self.client("secretsmanager")
        with self.api_client() as api:
            for connector, function in self.connectors().items():
                source, target = connector_systems(connector)
                if source not in self.simulators or target not in self.simulators:
                    log.warning("no simulators for connector %s; no demo connection", connector)
                    continue
                connection_id = f"{CONNECTION_ID_PREFIX}{connector}"
                secret_name = f"{self.functions[function].environment.get('SECRET_PREFIX', 'hrsync/')}{connection_id}"
                source_sim, target_sim = self.simulators[source], self.simulators[target]
                secrets.create_secret(
                    Name=secret_name,
                    SecretString=json.dumps(
                        {
                            "source": SYSTEMS[source].credentials(source_sim),
                            "target": SYSTEMS[target].credentials(target_sim),
                        }
                    ),
                )
                response = api.put(
                    f"/connections/{connection_id}",
                    json={
                        "connector": connector,
                        "source": SYSTEMS[source].connection_config(source_sim),
                        "target": SYSTEMS[target].connection_config(target_sim),
                        "secret_name": secret_name,
                        "options": {},
                    },
                )
                if response.is_error:
                    raise LocalStackError(
                        f"PUT /connections/{connection_id} answered {response.status_code}: {response.text}"
                    )
                self.connections[connector] = connection_id
                self._wait_for_initial_run(api, connection_id)
        self._require(self.emulator).wait_idle(self.initial_run_timeout)

    def _wait_for_initial_run(self, api: Any, connection_id: str) -> None:
        deadline = time.monotonic() + self.initial_run_timeout
        while True:
            response = api.get(f"/connections/{connection_id}")
            if response.is_success and response.json().get("running_run") is None:
                return
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"connection {connection_id}'s initial run did not finish in {self.initial_run_timeout:g} s:"
                    f" {response.status_code} {response.text[:500]}"
                )
            time.sleep(0.25)

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.state(), indent=2) + "\n", encoding="utf-8")

    def _remove_state(self) -> None:
        # Only our own: another stack (an e2e session, `make up`) may have written the file since.
        if self.state_file is None or self.api is None:
            return
        with contextlib.suppress(FileNotFoundError, ValueError):
            if json.loads(self.state_file.read_text(encoding="utf-8")).get("api") == self.api.url:
                self.state_file.unlink()

    def stop(self) -> None:
        """Stop everything that started, in reverse order; safe to call twice."""
        self._remove_state()
        if self.api is not None:
            self.api.stop()
        if self.emulator is not None:
            self.emulator.stop()
        for pool in self.pools.values():
            pool.stop()
        for simulator in self.simulators.values():
            simulator.stop()
        if self.aws is not None:
            self.aws.stop()
        for stream in self._logs:
            stream.close()
        self.api = self.emulator = self.aws = None
        self.pools, self.simulators, self._logs = {}, {}, []


# --------------------------------------------------------------------------------------------- main
def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    """`python -m sandbox.stack`: run the local stack in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="Run hrsync's local stack until interrupted.")
    parser.add_argument(
        "--parameter",
        action="append",
        type=_parameter,
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter (repeatable)",
    )
    parser.add_argument("--api-port", type=int, default=0, help="local API port (default: a free one)")
    parser.add_argument("--no-connections", action="store_true", help="do not create the demo connections")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbose else logging.WARNING)

    started, stop_requested = threading.Event(), threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if not started.is_set():
            raise KeyboardInterrupt  # interrupts start(), which stops whatever it had started
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = LocalStack(parameters=dict(args.parameter), connections=not args.no_connections, api_port=args.api_port)
    try:
        stack.start()
        started.set()
        state = stack.state()
        print(f"hrsync local stack is up (details in {stack.state_file})")
        print(f"  API          {state['api']}   (header x-api-key: {state['api_key']})")
        print(f"  AWS (moto)   {state['aws_endpoint']}")
        print(f"  Lambda       {state['lambda_endpoint']}")
        for name, url in state["systems"].items():
            print(f"  {name:<12} {url}")
        for connector, connection in state["connections"].items():
            print(f"  connection   {connection} ({connector})")
        print("Ctrl-C to stop.", flush=True)
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
