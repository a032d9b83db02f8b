"""What every adapter shares: client construction, error classification and retries.

Retries (stamina, a typed layer over tenacity) cover 429 (honouring Retry-After up to a cap), 5xx,
timeouts and connection errors, with exponential backoff and jitter. 4xx other than 429 are never retried:
a validation error will not change by asking again. The retry budget is also capped by a deadline so a
Lambda never retries past its remaining time.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import httpx
import stamina

from hrsync.errors import (
    AuthenticationError,
    RecordNotFoundError,
    RejectedBySystemError,
    TransientSystemError,
)
from hrsync.observability import redact

if TYPE_CHECKING:
    from stamina._core import _RetryContextIterator  # retry_context's return type: stamina names no public one

TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=30.0)
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=30.0)


@dataclass
class RetryPolicy:
    """How hard to retry. One instance is shared by a connection's adapters; a use case sets `deadline`
    (seconds left in this invocation) so retries never outlive the Lambda."""

    attempts: int = 4
    max_wait_s: float = 20.0
    wait_initial_s: float = 0.2
    deadline: Callable[[], float] | None = None

    def seconds_left(self) -> float:
        return self.deadline() if self.deadline else float("inf")


class RateBudget:
    """A client-side limit on calls a second to one system, shared by every thread of a process.

    A connection's target limit is divided between the worker processes that may run at once, so together
    they stay under it. Calls are spaced at the rate; time the process left unused (between two SQS batches,
    say) is credited for up to `burst_s`, so a worker that paused catches up instead of losing its share. The
    credits of all the workers add up to `burst_s` of the whole limit, the burst a token bucket of that size
    at the target allows. A new budget starts with its whole credit: a process that has made no call has been
    idle as long as any, and the workers' credits still add up to one burst. On a 429 the rate halves (never
    below MIN_RATE) and the credit goes, then the rate climbs back by a tenth of the ceiling per second of
    calm: additive increase, multiplicative decrease.
    """

    MIN_RATE = 1.0

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic, *, burst_s: float = 0.0) -> None:
        self.ceiling = max(self.MIN_RATE, rate_per_s)
        self.rate = self.ceiling
        self.burst_s = burst_s
        self._clock = clock
        self._next = clock() - burst_s  # a process that has made no call yet has its whole credit
        self._calm_since = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait before using it."""
        with self._lock:
            now = self._clock()
            if self.rate < self.ceiling:
                self.rate = min(self.ceiling, self.rate + self.ceiling / 10 * (now - self._calm_since))
                self._calm_since = now
            # Unused time counts for at most burst_s: that many seconds of calls may go at once.
            start = max(self._next, now - max(0.0, self.burst_s - 1 / self.rate))
            self._next = start + 1 / self.rate
            return max(0.0, start - now)

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)

    def throttled(self) -> None:
        """The system answered 429: halve the rate and drop any credit."""
        with self._lock:
            now = self._clock()
            self.rate = max(self.MIN_RATE, self.rate / 2)
            self._next = max(self._next, now)
            self._calm_since = now


class RetryableStatusError(Exception):
    """An answer worth asking again for (429, 5xx), raised inside a retry attempt."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"status {status}")
        self.status = status
        self.retry_after = retry_after


def retry_attempts(policy: RetryPolicy, transport_errors: tuple[type[Exception], ...]) -> _RetryContextIterator:
    """The retry attempts for one request under `policy` (`for` or `async for` them): a RetryableStatusError is
    retried after its Retry-After, capped, or with exponential backoff and jitter; a timeout or connection error
    (`transport_errors`, the client library's own) with backoff; nothing once less than 2 s of the deadline is
    left, and a Retry-After never waits past it."""
    return stamina.retry_context(
        on=retry_rule(policy, transport_errors),
        attempts=policy.attempts,
        timeout=None,
        wait_initial=policy.wait_initial_s,
        wait_max=policy.max_wait_s,
    )


def retry_rule(
    policy: RetryPolicy, transport_errors: tuple[type[Exception], ...]
) -> Callable[[Exception], bool | float]:
    """Whether `exc` is worth another try under `policy`: False, True (back off), or seconds to wait."""

    def should_retry(exc: Exception) -> bool | float:
        if isinstance(exc, RetryableStatusError):
            if policy.seconds_left() < 2:
                return False
            if exc.retry_after is not None:
                return min(exc.retry_after, policy.max_wait_s, max(0.0, policy.seconds_left() - 1))
            return True
        return isinstance(exc, transport_errors) and policy.seconds_left() >= 2

    return should_retry


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context (httpx's defaults) for every client: each client made its own, which cost 21 ms of CPU
    and almost 1 MB each (profiled: a read's 64 per-thread clients, and every worker invocation's two)."""
    return httpx.create_ssl_context()


def build_client(base_url: str, headers: dict[str, str] | None = None, auth: httpx.Auth | None = None) -> httpx.Client:
    """An httpx client with explicit timeouts and a reusable connection pool."""
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        headers={"Accept": "application/json", **(headers or {})},
        auth=auth,
        timeout=TIMEOUT,
        limits=LIMITS,
        verify=tls_context(),
    )


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is not used by these systems)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_message(status: int, body_json: Callable[[], object]) -> str:
    """The system's own message for a refused request, redacted and shortened."""
    try:
        body = body_json()
    except ValueError:
        return f"status {status}"
    message = ""
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("detail") or body.get("title") or "")
        errors = body.get("errors")
        if isinstance(errors, list):
            fields = [str(e.get("field")) for e in errors if isinstance(e, dict) and e.get("field")]
            if fields:
                message = f"{message} (fields: {', '.join(fields)})".strip()
    return redact(message)[:300] or f"status {status}"


def request_with_retries(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    system: str,
    policy: RetryPolicy,
    budget: RateBudget | None = None,
    **kwargs: object,
) -> httpx.Response:
    """Send one request with retries on 429 (Retry-After), 5xx, timeouts and connection errors, each attempt
    within `budget`, if any. Returns the first answer that is not worth retrying, whatever its status; raises
    TransientSystemError when the retries ran out."""
    try:
        for attempt in retry_attempts(policy, (httpx.TimeoutException, httpx.TransportError)):
            with attempt:
                if budget is not None:
                    budget.acquire()
                response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
                if response.status_code == 429 and budget is not None:
                    budget.throttled()
                if response.status_code == 429 or response.status_code >= 500:
                    raise RetryableStatusError(
                        response.status_code, retry_after_seconds(response.headers.get("Retry-After"))
                    )
    except RetryableStatusError as exc:
        raise TransientSystemError(f"{system} answered {exc.status} after {policy.attempts} tries") from exc
    except httpx.TimeoutException as exc:
        raise TransientSystemError(f"{system} timed out") from exc
    except httpx.TransportError as exc:
        raise TransientSystemError(f"{system} could not be reached ({type(exc).__name__})") from exc
    return response


def send(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    system: str,
    policy: RetryPolicy,
    budget: RateBudget | None = None,
    **kwargs: object,
) -> httpx.Response:
    """Send one request with retries (see request_with_retries); return a 2xx response or raise a domain error."""
    response = request_with_retries(client, method, path, system=system, policy=policy, budget=budget, **kwargs)
    check_status(response.status_code, method, path, system=system, body=response.json)
    return response


def check_status(status: int, method: str, path: str, *, system: str, body: Callable[[], object]) -> None:
    """Raise the domain error for an answer that is not a success; `body` gives its JSON (ValueError if none)."""
    if status in (401, 403):
        raise AuthenticationError(f"{system} refused the credentials ({status})")
    if status == 404:
        raise RecordNotFoundError(f"{system} has no such record ({method} {_path_only(path)})")
    if status >= 400:
        raise RejectedBySystemError(f"{system} rejected the request: {_error_message(status, body)}", status)


def _path_only(path: str) -> str:
    return path.split("?", 1)[0]


def json_body(response: httpx.Response, *, system: str) -> object:
    """The response's JSON, or a transient error naming the system when it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise TransientSystemError(f"{system} answered with a body that is not JSON") from exc


__all__ = [
    "RateBudget",
    "RetryPolicy",
    "RetryableStatusError",
    "build_client",
    "check_status",
    "json_body",
    "request_with_retries",
    "retry_after_seconds",
    "retry_attempts",
    "retry_rule",
    "send",
    "tls_context",
]
