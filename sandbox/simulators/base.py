"""Shared machinery for the simulated vendor systems: HTTP server, routing, control surface, faults.

A simulator is a real HTTP/1.1 server on loopback (standard library only) that speaks one vendor's API shape.
Each vendor module declares its routes with `@route` and fills in the state hooks of `Simulator`.

Control surface (no vendor auth, never subject to faults, never in the request log):

- `POST /_sandbox/reset`: empty records, departments, faults and the request log.
- `PUT|GET /_sandbox/records`: replace / read all records, in the vendor's own JSON shape.
- `PUT|GET /_sandbox/departments`: likewise for departments.
- `PUT|GET /_sandbox/faults`: `{latency_ms, error_rate, error_status, error_methods, rate_limit_per_s, errors}`, all
  optional. `errors` is a mix of error answers, e.g. `[{"rate": 0.3, "status": 429, "retry_after": 1},
  {"rate": 0.1, "status": 503}]`; `retry_after` (whole seconds) is sent as `Retry-After`, and a 429 entry
  without one sends `Retry-After: 1`. A bad value answers 400 `{"message", "field"}` naming the field
  (`errors[1].rate`).
- `GET /_sandbox/requests?since=N`: the request log of vendor routes, `{method, path, query, status, time}`
  per request in arrival order from index N; `query` is the raw query string, `time` ISO-8601 UTC.

Faults on vendor routes, in this order: sleep `latency_ms`; over `rate_limit_per_s` (one token bucket shared
by all connections, burst of one second) answer 429 with `Retry-After` in whole seconds; with probability
`error_rate` answer `error_status` (default 500), else an entry of `errors` with its own rate: one random draw per
request picks at most one of them (`error_rate` and the entries' rates may sum to at most 1). Only methods in
`error_methods` (default: all) draw errors. Then auth, then routing, then the handler.
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import email.utils
import functools
import json
import math
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = "127.0.0.1"
CONTROL_PREFIX = "/_sandbox"
INT32_MAX = 2**31 - 1

Handler = Callable[["Request"], Any]


class HttpError(Exception):
    """Ends a request with a JSON error response: `{"message": ...}` plus any extra body fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def to_response(self) -> Response:
        return Response(self.status, {"message": self.message, **self.extra}, self.headers)


@dataclass(frozen=True)
class Response:
    """What a handler answers when 200 with a JSON body is not enough. A `bytes` body is sent as it is."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request, with typed accessors for query parameters."""

    method: str
    path: str
    query_string: str
    headers: Message
    body: bytes
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, list[str]] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        """The first value of a query parameter; an empty value counts as absent."""
        values = self.query.get(name)
        return values[0] if values and values[0] != "" else None

    def int_param(self, name: str, default: int, *, minimum: int = 0, maximum: int = INT32_MAX) -> int:
        raw = self.param(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise HttpError(400, f"The value '{raw}' is not valid for {name}: expected an integer") from None
        if not minimum <= value <= maximum:
            raise HttpError(400, f"{name} must be between {minimum} and {maximum}")
        return value

    def bool_param(self, name: str, default: bool) -> bool:
        raw = self.param(name)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise HttpError(400, f"The value '{raw}' is not valid for {name}: expected true or false")
        return lowered == "true"

    def choice_param(self, name: str, choices: Iterable[str]) -> str | None:
        """An enum parameter, matched case-insensitively and returned in its canonical spelling."""
        raw = self.param(name)
        if raw is None:
            return None
        by_lower = {choice.lower(): choice for choice in choices}
        try:
            return by_lower[raw.strip().lower()]
        except KeyError:
            allowed = ", ".join(by_lower.values())
            raise HttpError(400, f"The value '{raw}' is not valid for {name}: expected one of {allowed}") from None

    def uuid_param(self, name: str) -> str | None:
        raw = self.param(name)
        if raw is None:
            return None
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise HttpError(400, f"The value '{raw}' is not valid for {name}: expected a uuid") from None

    def datetime_param(self, name: str) -> datetime | None:
        """An ISO-8601 date or date-time; naive values are taken as UTC."""
        raw = self.param(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise HttpError(400, f"The value '{raw}' is not valid for {name}: expected a date-time") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def json(self) -> Any:
        """The body parsed as JSON; a missing or malformed body is a 400."""
        if not self.body.strip():
            raise HttpError(400, "A JSON request body is required")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"The request body is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    attribute: str


def route[F: Callable[..., Any]](method: str, pattern: str) -> Callable[[F], F]:
    """Declare a method of a `Simulator` subclass as the handler of `method` + `pattern`.

    `{name}` in the pattern matches one path segment and arrives in `request.path_params`. Routes are tried in
    declaration order (base class first), so declare literal paths before a `{placeholder}` sibling.
    """

    def mark(handler: F) -> F:
        handler.__sandbox_route__ = (method.upper(), pattern)  # type: ignore[attr-defined]
        return handler

    return mark


def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    return re.compile(regex)


DEFAULT_RETRY_AFTER_S = 1  # what a 429 entry of the error mix sends when it names no retry_after
MAX_ERROR_ENTRIES = 10


@dataclass(frozen=True)
class ErrorEntry:
    """One kind of error answer in the mix: answered to `rate` of the requests that draw errors."""

    rate: float
    status: int
    retry_after: int | None = None

    def response(self) -> Response:
        retry_after = self.retry_after
        if retry_after is None and self.status == 429:
            retry_after = DEFAULT_RETRY_AFTER_S
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        message = "Too many requests" if self.status == 429 else f"Simulated fault ({self.status})"
        return Response(self.status, {"message": message}, headers)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rate": self.rate, "status": self.status}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


@dataclass(frozen=True)
class Faults:
    """Injected faults; None means off."""

    latency_ms: float | None = None
    error_rate: float | None = None
    error_status: int | None = None
    rate_limit_per_s: float | None = None
    error_methods: tuple[str, ...] | None = None  # only these methods draw errors; None = all
    errors: tuple[ErrorEntry, ...] = ()

    @classmethod
    def from_json(cls, body: Any) -> Faults:
        if not isinstance(body, dict):
            raise HttpError(400, "faults must be a JSON object")
        known = {"latency_ms", "error_rate", "error_status", "rate_limit_per_s", "error_methods", "errors"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise HttpError(400, f"unknown fault field: {unknown[0]}", extra={"field": unknown[0]})
        faults = cls(
            latency_ms=_fault_number(body, "latency_ms", lambda v: v >= 0, "a number >= 0"),
            error_rate=_fault_number(body, "error_rate", lambda v: 0 <= v <= 1, "a number from 0 to 1"),
            error_status=_fault_status(body, "error_status"),
            rate_limit_per_s=_fault_number(body, "rate_limit_per_s", lambda v: v > 0, "a number > 0"),
            error_methods=_fault_methods(body),
            errors=_fault_errors(body),
        )
        if (faults.error_rate or 0) + sum(entry.rate for entry in faults.errors) > 1 + 1e-9:
            raise HttpError(
                400, "errors: error_rate and the rates in errors must sum to at most 1", extra={"field": "errors"}
            )
        return faults

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "error_status": self.error_status or 500,
            "rate_limit_per_s": self.rate_limit_per_s,
            "error_methods": list(self.error_methods) if self.error_methods is not None else None,
            "errors": [entry.to_json() for entry in self.errors] or None,
        }

    def draw_error(self, method: str, draw: Callable[[], float]) -> Response | None:
        """The error answer for one request, if the draw picks one; one draw covers error_rate and the mix."""
        if not self.error_rate and not self.errors:
            return None
        if self.error_methods is not None and method not in self.error_methods:
            return None
        value = draw()
        threshold = self.error_rate or 0.0
        if value < threshold:
            status = self.error_status or 500
            return Response(status, {"message": f"Simulated fault ({status})"})
        for entry in self.errors:
            threshold += entry.rate
            if value < threshold:
                return entry.response()
        return None


def _fault_errors(body: dict[str, Any]) -> tuple[ErrorEntry, ...]:
    value = body.get("errors")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ERROR_ENTRIES:
        raise HttpError(
            400,
            f"errors must be a list of at most {MAX_ERROR_ENTRIES} objects {{rate, status, retry_after}}",
            extra={"field": "errors"},
        )
    entries = []
    for index, raw in enumerate(value):
        where = f"errors[{index}]"
        if not isinstance(raw, dict):
            raise HttpError(400, f"{where} must be an object {{rate, status, retry_after}}", extra={"field": where})
        unknown = sorted(set(raw) - {"rate", "status", "retry_after"})
        if unknown:
            field = f"{where}.{unknown[0]}"
            raise HttpError(400, f"unknown fault field: {field}", extra={"field": field})
        if raw.get("rate") is None:
            raise HttpError(400, f"{where}.rate is required", extra={"field": f"{where}.rate"})
        if raw.get("status") is None:
            raise HttpError(400, f"{where}.status is required", extra={"field": f"{where}.status"})
        rate = _fault_number(raw, "rate", lambda v: 0 <= v <= 1, "a number from 0 to 1", where=where)
        status = _fault_status(raw, "status", where=where)
        retry_after = raw.get("retry_after")
        if retry_after is not None and (
            isinstance(retry_after, bool) or not isinstance(retry_after, int) or not 0 <= retry_after <= 3600
        ):
            field = f"{where}.retry_after"
            raise HttpError(400, f"{field} must be whole seconds from 0 to 3600", extra={"field": field})
        entries.append(ErrorEntry(rate=rate or 0.0, status=status or 500, retry_after=retry_after))
    return tuple(entries)


def _fault_methods(body: dict[str, Any]) -> tuple[str, ...] | None:
    value = body.get("error_methods")
    if value is None:
        return None
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(m, str) or m.upper() not in methods for m in value)
    ):
        raise HttpError(400, f"error_methods must be a list of {', '.join(methods)}", extra={"field": "error_methods"})
    return tuple(m.upper() for m in value)


def _fault_number(
    body: dict[str, Any], name: str, valid: Callable[[float], bool], expected: str, *, where: str = ""
) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not valid(value):
        field = f"{where}.{name}" if where else name
        raise HttpError(400, f"{field} must be {expected}", extra={"field": field})
    return float(value)


def _fault_status(body: dict[str, Any], name: str, *, where: str = "") -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        field = f"{where}.{name}" if where else name
        raise HttpError(400, f"{field} must be an integer from 400 to 599", extra={"field": field})
    return value


class TokenBucket:
    """A rate limit shared by every connection: `rate` tokens a second, holding at most one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """Take a token: None when allowed, else the whole seconds to wait (at least 1)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / self._rate))


def utc_timestamp() -> str:
    return _iso(time.time())


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=4)
def _http_date(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


class Simulator(abc.ABC):
    """A simulated vendor system served on loopback; subclasses declare routes and fill in the state hooks.

    Route handlers and the state hooks run while holding one lock, so subclasses never lock themselves.
    """

    display_name: ClassVar[str] = "sandbox"
    default_port: ClassVar[int] = 0
    _routes: ClassVar[tuple[Route, ...]] = ()
    _vendor_routes: ClassVar[tuple[Route, ...]] = ()  # the vendor's own, tried without the control routes

    def __init__(self, *, port: int = 0) -> None:
        self._requested_port = port
        self._server: _SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._state_lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._request_log: list[dict[str, Any]] = []
        self._faults = Faults()
        self._bucket: TokenBucket | None = None
        self._random = random.Random()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes: list[Route] = []
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                declared = getattr(member, "__sandbox_route__", None)
                if declared and not any(r.attribute == name for r in routes):
                    method, pattern = declared
                    routes.append(Route(method, pattern, _compile(pattern), name))
        cls._routes = tuple(routes)
        cls._vendor_routes = tuple(r for r in routes if not r.pattern.startswith(CONTROL_PREFIX))

    # --- state hooks -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def clear_state(self) -> None:
        """Forget all records and departments."""

    @abc.abstractmethod
    def load_records(self, records: list[Any]) -> None:
        """Replace all records; raise HttpError(400) naming the index of a record that cannot be loaded."""

    @abc.abstractmethod
    def dump_records(self) -> list[Any]:
        """All records in the vendor's JSON shape, including anything a client wrote."""

    @abc.abstractmethod
    def load_departments(self, departments: list[Any]) -> None:
        """Replace all departments; raise HttpError(400) naming the index of a bad one."""

    @abc.abstractmethod
    def dump_departments(self) -> list[Any]:
        """All departments in the shape `load_departments` takes."""

    @abc.abstractmethod
    def is_authorized(self, request: Request) -> bool:
        """Whether the request carries the vendor credentials."""

    def unauthorized(self) -> Response:
        return Response(401, {"message": "Unauthorized"})

    def today(self) -> date:
        return datetime.now(UTC).date()

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Serve on a background thread; port 0 picks a free port."""
        if self._server is not None:
            raise RuntimeError(f"{self.display_name} simulator is already running")
        self._server = _SimulatorServer((LOOPBACK, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.display_name} simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8101`, without a trailing slash."""
        return f"http://{LOOPBACK}:{self.port}"

    # --- dispatch ----------------------------------------------------------------------------------------
    def dispatch(self, method: str, target: str, headers: Message, body: bytes) -> Response:
        """Answer one request; never raises."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        request = Request(
            method=method.upper(),
            path=path,
            query_string=parts.query,
            headers=headers,
            body=body,
            query=parse_qs(parts.query, keep_blank_values=True),
        )
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return self._answer(request, authorize=False)
        response = self._answer_vendor(request)
        self._record(request, response.status)
        return response

    def _answer_vendor(self, request: Request) -> Response:
        faults = self._faults
        bucket = self._bucket
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if bucket is not None:
            wait = bucket.take()
            if wait is not None:
                return Response(429, {"message": "Too many requests"}, {"Retry-After": str(wait)})
        error = faults.draw_error(request.method, self._random.random)
        if error is not None:
            return error
        return self._answer(request, authorize=True)

    def _answer(self, request: Request, *, authorize: bool) -> Response:
        try:
            if authorize and not self.is_authorized(request):
                return self.unauthorized()
            handler, path_params = self._match(request, self._vendor_routes if authorize else self._routes)
            request = Request(
                method=request.method,
                path=request.path,
                query_string=request.query_string,
                headers=request.headers,
                body=request.body,
                path_params=path_params,
                query=request.query,
            )
            with self._state_lock:
                result = handler(request)
        except HttpError as exc:
            return exc.to_response()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            return Response(500, {"message": f"Simulator error: {type(exc).__name__}: {exc}"})
        return result if isinstance(result, Response) else Response(200, result)

    def _match(self, request: Request, routes: tuple[Route, ...]) -> tuple[Handler, dict[str, str]]:
        allowed: list[str] = []
        for candidate in routes:
            found = candidate.regex.fullmatch(request.path)
            if found is None:
                continue
            if candidate.method != request.method:
                allowed.append(candidate.method)
                continue
            params = {name: unquote(value) for name, value in found.groupdict().items()}
            return getattr(self, candidate.attribute), params
        if allowed:
            raise HttpError(405, f"Method {request.method} is not allowed here", headers={"Allow": ", ".join(allowed)})
        raise HttpError(404, f"No route for {request.method} {request.path}")

    def _record(self, request: Request, status: int) -> None:
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "status": status,
            "at": time.time(),  # made ISO-8601 when the log is read: formatting each was 8% of a request's CPU
        }
        with self._log_lock:
            self._request_log.append(entry)

    @staticmethod
    def json_list(request: Request, what: str) -> list[Any]:
        body = request.json()
        if not isinstance(body, list):
            raise HttpError(400, f"{what} must be a JSON array")
        return body

    # --- control surface ---------------------------------------------------------------------------------
    @route("POST", "/_sandbox/reset")
    def _control_reset(self, request: Request) -> Any:
        self.clear_state()
        self._faults, self._bucket = Faults(), None
        with self._log_lock:
            self._request_log.clear()
        return {"reset": True}

    @route("PUT", "/_sandbox/records")
    def _control_put_records(self, request: Request) -> Any:
        self.load_records(self.json_list(request, "records"))
        return self.dump_records()

    @route("GET", "/_sandbox/records")
    def _control_get_records(self, request: Request) -> Any:
        return self.dump_records()

    @route("PUT", "/_sandbox/departments")
    def _control_put_departments(self, request: Request) -> Any:
        self.load_departments(self.json_list(request, "departments"))
        return self.dump_departments()

    @route("GET", "/_sandbox/departments")
    def _control_get_departments(self, request: Request) -> Any:
        return self.dump_departments()

    @route("PUT", "/_sandbox/faults")
    def _control_put_faults(self, request: Request) -> Any:
        faults = Faults.from_json(request.json())
        self._faults = faults
        self._bucket = TokenBucket(faults.rate_limit_per_s) if faults.rate_limit_per_s else None
        return faults.to_json()

    @route("GET", "/_sandbox/faults")
    def _control_get_faults(self, request: Request) -> Any:
        return self._faults.to_json()

    @route("GET", "/_sandbox/requests")
    def _control_get_requests(self, request: Request) -> Any:
        since = request.int_param("since", 0)
        with self._log_lock:
            entries = self._request_log[since:]
        return [{**{k: v for k, v in entry.items() if k != "at"}, "time": _iso(entry["at"])} for entry in entries]

    # --- command line ------------------------------------------------------------------------------------
    @classmethod  # noqa: B027 - an optional hook, empty by default
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Vendor-specific command-line options."""

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Self:
        return cls(port=args.port)

    @classmethod
    def main(cls, argv: Sequence[str] | None = None) -> int:
        """Run in the foreground until Ctrl-C or SIGTERM."""
        parser = argparse.ArgumentParser(
            prog=f"python -m {cls.__module__}", description=f"Simulated {cls.display_name} on {LOOPBACK}."
        )
        parser.add_argument("--port", type=int, default=cls.default_port, help="0 picks a free port")
        cls.add_arguments(parser)
        simulator = cls.from_arguments(parser.parse_args(argv))
        stopping = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with simulator:
                print(f"{cls.display_name} simulator listening on {simulator.url}", flush=True)
                while not stopping.wait(0.5):
                    pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0


class _SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup of the host; loopback needs none.
        socketserver.TCPServer.server_bind(self)
        self.server_name = LOOPBACK
        self.server_port = self.server_address[1]

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """End idle keep-alive connections so a stopped simulator answers nothing."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hrsync-sandbox/1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections
    server: _SimulatorServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(Response(400, {"message": f"Unreadable request body: {exc}"}))
            return
        self._send(self.server.simulator.dispatch(self.command, self.path, self.headers, body))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second (formatting it for each answer was 4% of its CPU)."""
        return _http_date(int(time.time() if timestamp is None else timestamp))

    def _send(self, response: Response) -> None:
        # bytes are sent as they are (an embedded application's own answer, with its own Content-Type)
        raw = isinstance(response.body, bytes)
        payload = b"" if response.body is None else response.body if raw else json.dumps(response.body).encode()
        self.send_response(response.status)
        if response.status not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
            if payload and not raw:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log under /_sandbox/requests replaces stderr access lines
