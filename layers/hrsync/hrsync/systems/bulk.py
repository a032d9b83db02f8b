"""Many GETs to one system at once, on one thread: aiohttp's event loop, for the reads a run makes by the thousand.

A full read of Staffology fetches every employee's details, one GET each (its list gives ids only): 10,000
requests for 10,000 employees, before anything can be planned. That read is CPU-bound, not latency-bound.
Profiled on `make bench` (40 ms latency on every call), one GET with the mapping to an Employee cost:

- httpx, sync, 64 threads with a client each: 1.15 ms of CPU (its client layer, httpcore's pool and h11's
  pure-Python parser, and the GIL passed between the threads); 128 threads cost more, not less;
- httpx, async: 4.7 ms (httpcore checks every pooled connection on each request);
- aiohttp on one event loop (its HTTP parser is C): 0.25 ms, with the first try outside the retry machinery
  (see _retry). The 10,000 details took about 3 s, 256 at a time, instead of 11.4 s.

So this one kind of read goes through aiohttp. Every other call stays on httpx (systems/http.py), and this one
keeps the same RetryPolicy, retry rule and errors: a 429 or 5xx is retried after Retry-After or with backoff, a
timeout or lost connection with backoff, and 401/403, 404 and other 4xx become AuthenticationError,
RecordNotFoundError and RejectedBySystemError.

A source publishes no rate limit (Staffology's is undocumented), so the requests in flight adapt instead: a 429
halves them (down to MIN_IN_FLIGHT), and each run of answers as long as the current limit adds one back, up to
`concurrency`. Additive increase, multiplicative decrease, as the target's RateBudget does with its rate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import aiohttp

from hrsync.errors import ExternalSystemError, TransientSystemError
from hrsync.systems.http import (
    RetryableStatusError,
    RetryPolicy,
    check_status,
    retry_after_seconds,
    retry_attempts,
    retry_rule,
    tls_context,
)

CONCURRENCY = 256  # requests in flight at most: 10,000 GETs at 40 ms take 1.6 s at 256, 3.1 s at 128
MIN_IN_FLIGHT = 2
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=20.0)
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, TimeoutError)
_WORTH_RETRYING: tuple[type[Exception], ...] = (RetryableStatusError, *_TRANSPORT_ERRORS)


class InFlight:
    """How many requests may be in flight at once, adapting to 429s (see the module's docstring)."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.allowed = self.ceiling
        self._in_flight = 0
        self._waiting = 0
        self._calm = 0  # answers without a 429 since the limit last moved
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        if self._in_flight >= self.allowed:  # one event loop: no other reader runs between a check and its use
            self._waiting += 1
            async with self._changed:
                await self._changed.wait_for(lambda: self._in_flight < self.allowed)
            self._waiting -= 1
        self._in_flight += 1

    async def __aexit__(self, *exc: object) -> None:
        self._in_flight -= 1
        if self._waiting:
            async with self._changed:
                self._changed.notify_all()

    def answered(self, status: int) -> None:
        if status == 429:
            self.allowed, self._calm = max(min(MIN_IN_FLIGHT, self.ceiling), self.allowed // 2), 0
            return
        self._calm += 1
        if self._calm >= self.allowed and self.allowed < self.ceiling:
            self.allowed, self._calm = self.allowed + 1, 0


class BulkReader:
    """GETs under one base URL, `concurrency` at a time, each with the retries of `policy`."""

    def __init__(
        self,
        base_url: str,
        *,
        system: str,
        policy: RetryPolicy,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._system = system
        self._policy = policy
        self._headers = {"Accept": "application/json", **(headers or {})}
        if basic_auth:
            self._headers["Authorization"] = aiohttp.encode_basic_auth(*basic_auth)
        self._concurrency = max(1, concurrency)

    def get_json[R](
        self,
        paths: Sequence[str],
        parse: Callable[[int, object], R],
        failed: Callable[[int, ExternalSystemError], R],
    ) -> list[R]:
        """GET every path (relative to the base URL); in the paths' order, `parse(index, JSON body)` of each answer
        or `failed(index, error)` for a request that ended in a domain error. Blocks until all are done; runs
        its own event loop, so call it from a thread that has none running (a handler's)."""
        if not paths:
            return []
        return asyncio.run(self._all(paths, parse, failed))

    async def _all[R](
        self,
        paths: Sequence[str],
        parse: Callable[[int, object], R],
        failed: Callable[[int, ExternalSystemError], R],
    ) -> list[R]:
        results: list[R | None] = [None] * len(paths)
        todo = iter(range(len(paths)))  # shared by the readers: a fixed number of them, never a task per path
        gate = InFlight(self._concurrency)
        connector = aiohttp.TCPConnector(limit=self._concurrency, ssl=tls_context())
        async with aiohttp.ClientSession(headers=self._headers, timeout=TIMEOUT, connector=connector) as session:

            async def reader() -> None:
                for index in todo:
                    try:
                        body = await self._get(session, gate, paths[index])
                    except ExternalSystemError as exc:
                        results[index] = failed(index, exc)
                    else:
                        results[index] = parse(index, body)

            await asyncio.gather(*(reader() for _ in range(min(self._concurrency, len(paths)))))
        return results  # type: ignore[return-value]  # every index was filled by one reader

    async def _get(self, session: aiohttp.ClientSession, gate: InFlight, path: str) -> object:
        system = self._system
        try:
            try:
                status, body = await self._try(session, gate, path)
            except _WORTH_RETRYING as first:
                status, body = await self._retry(session, gate, path, first)
        except RetryableStatusError as exc:
            raise TransientSystemError(f"{system} answered {exc.status} after {self._policy.attempts} tries") from exc
        except TimeoutError as exc:
            raise TransientSystemError(f"{system} timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransientSystemError(f"{system} could not be reached ({type(exc).__name__})") from exc
        check_status(status, "GET", path, system=system, body=lambda: json.loads(body))
        try:
            return json.loads(body)
        except ValueError as exc:
            raise TransientSystemError(f"{system} answered with a body that is not JSON") from exc

    async def _try(self, session: aiohttp.ClientSession, gate: InFlight, path: str) -> tuple[int, bytes]:
        async with gate, session.get(self._base + path) as response:
            status = response.status
            body = await response.read()
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        gate.answered(status)
        if status == 429 or status >= 500:
            raise RetryableStatusError(status, retry_after)
        return status, body

    async def _retry(
        self, session: aiohttp.ClientSession, gate: InFlight, path: str, first: Exception
    ) -> tuple[int, bytes]:
        """The tries after a first one that failed in a way worth retrying. The first try goes without the
        retry machinery: building it for every GET cost a third of the read's CPU (profiled: 3.8 s of CPU for
        10,000 details with it, 2.5 s without), and nearly every GET succeeds at once. So the wait before the
        second try is the rule's own (Retry-After, capped) or the policy's first backoff, and stamina takes
        the tries after that, `attempts` in all."""
        policy = self._policy
        wait = retry_rule(policy, _TRANSPORT_ERRORS)(first)
        if wait is False or policy.attempts < 2:
            raise first
        await asyncio.sleep(policy.wait_initial_s if wait is True else wait)
        async for attempt in retry_attempts(replace(policy, attempts=policy.attempts - 1), _TRANSPORT_ERRORS):
            with attempt:
                return await self._try(session, gate, path)
        raise AssertionError("unreachable: the last attempt returns or raises")
