"""The bulk reader (aiohttp): answers in the paths' order, at most `concurrency` in flight, and the same retries
and errors as the httpx path: 429/5xx retried (Retry-After honoured), 401/403, 404 and 4xx classified, a
body that is not JSON or a system that cannot be reached is a transient error naming the system."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stamina

from hrsync.connectors.sources import open_staffology
from hrsync.errors import (
    AuthenticationError,
    ExternalSystemError,
    RecordNotFoundError,
    RejectedBySystemError,
    TransientSystemError,
)
from hrsync.models.connection import Credentials
from hrsync.models.employee import Listing
from hrsync.systems.bulk import MIN_IN_FLIGHT, BulkReader, InFlight
from hrsync.systems.http import RetryPolicy
from hrsync.systems.staffology import StaffologyPayroll
from sandbox.sample import staffology_employee
from sandbox.simulators.staffology import DEFAULT_API_KEY, DEFAULT_EMPLOYER_ID, StaffologySimulator
from tests.factories import staffology_expensein

FAST = RetryPolicy(attempts=3, max_wait_s=2.0, wait_initial_s=0.01)
Answer = tuple[int, dict[str, str], bytes]


class Scripted(ThreadingHTTPServer):
    """Answers each path from its script, in turn (the last answer repeats); counts requests in flight."""

    daemon_threads = True

    def __init__(self, script: dict[str, list[Answer]], delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.delay_s = delay_s
        self.seen: list[tuple[str, str | None]] = []
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.seen.append((self.path, self.headers.get("Authorization")))
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
            answers = server.script.get(self.path, [(404, {}, b'{"message": "no such path"}')])
            status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
        time.sleep(server.delay_s)
        with server.lock:
            server.in_flight -= 1
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=FAST.attempts, cap=True):
        yield


@pytest.fixture
def serve() -> Iterator[list[Scripted]]:
    started: list[Scripted] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def _start(started: list[Scripted], script: dict[str, list[Answer]], delay_s: float = 0.0) -> Scripted:
    server = Scripted(script, delay_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started.append(server)
    return server


def _ok(value: object) -> Answer:
    return 200, {}, json.dumps(value).encode()


def _read(reader: BulkReader, paths: list[str]) -> list[object]:
    return reader.get_json(paths, lambda n, body: (n, body), lambda n, exc: exc)


def test_answers_come_in_the_paths_order_with_at_most_concurrency_in_flight(serve):
    server = _start(serve, {f"/api/e/{n}": [_ok({"n": n})] for n in range(40)}, delay_s=0.02)
    reader = BulkReader(server.url, system="S", policy=FAST, basic_auth=("hrsync", "key"), concurrency=5)
    results = _read(reader, [f"e/{n}" for n in range(40)])
    assert results == [(n, {"n": n}) for n in range(40)]
    assert 2 <= server.most_in_flight <= 5
    assert {auth for _, auth in server.seen} == {"Basic aHJzeW5jOmtleQ=="}  # hrsync:key


def test_no_paths_reads_nothing(serve):
    server = _start(serve, {})
    assert _read(BulkReader(server.url, system="S", policy=FAST), []) == []
    assert server.seen == []


def test_429_after_retry_after_and_5xx_are_retried(serve):
    server = _start(
        serve,
        {
            "/api/a": [(429, {"Retry-After": "0"}, b"{}"), _ok("a")],
            "/api/b": [(503, {}, b""), (500, {}, b""), _ok("b")],
        },
    )
    assert _read(BulkReader(server.url, system="S", policy=FAST), ["a", "b"]) == [(0, "a"), (1, "b")]
    assert [path for path, _ in server.seen].count("/api/b") == 3


def test_each_failure_is_its_own_error_and_the_others_are_read(serve):
    body = json.dumps({"message": "ann@example.com is not valid"}).encode()
    server = _start(
        serve,
        {
            "/api/ok": [_ok(1)],
            "/api/gone": [(404, {}, b"{}")],
            "/api/refused": [(401, {}, b"{}")],
            "/api/invalid": [(400, {}, body)],
            "/api/busy": [(500, {}, b"")],
            "/api/text": [(200, {"Content-Type": "text/plain"}, b"not json")],
        },
    )
    reader = BulkReader(server.url, system="S", policy=FAST)
    ok, gone, refused, invalid, busy, text = _read(reader, ["ok", "gone", "refused", "invalid", "busy", "text"])
    assert ok == (0, 1)
    assert isinstance(gone, RecordNotFoundError) and "GET gone" in str(gone)
    assert isinstance(refused, AuthenticationError)
    assert isinstance(invalid, RejectedBySystemError) and invalid.status == 400
    assert "ann@example.com" not in str(invalid)
    assert isinstance(busy, TransientSystemError) and str(busy) == "S answered 500 after 3 tries"
    assert isinstance(text, TransientSystemError) and "not JSON" in str(text)


def test_a_system_that_cannot_be_reached_is_a_transient_error():
    reader = BulkReader("http://127.0.0.1:9/", system="S", policy=FAST)  # the discard port: refused
    (result,) = _read(reader, ["x"])
    assert isinstance(result, TransientSystemError) and "S could not be reached" in str(result)
    assert isinstance(result, ExternalSystemError)


def test_staffology_reads_details_through_the_bulk_reader_in_order():
    people = [staffology_employee(f"E{n:03}", "Ann", "Lee", f"a{n}@example.com") for n in range(30)]
    with StaffologySimulator() as simulator:
        simulator.load_records(people)
        adapter = StaffologyPayroll.connect(simulator.url, DEFAULT_EMPLOYER_ID, DEFAULT_API_KEY, FAST)
        try:
            listing = Listing()
            ids = [p["id"] for p in people] + ["not-listed"]
            adapter.read_details(ids, listing)
        finally:
            adapter.close()
    assert [e.id for e in listing.records] == ids[:-1]
    (missing,) = listing.rejections
    assert missing.record_id == "not-listed" and "not found" in missing.reason


def test_in_flight_halves_on_a_429_and_climbs_back_one_per_calm_window():
    gate = InFlight(16)
    gate.answered(429)
    assert gate.allowed == 8
    for _ in range(3):
        gate.answered(429)
    assert gate.allowed == MIN_IN_FLIGHT  # never below it
    for _ in range(MIN_IN_FLIGHT):
        gate.answered(200)
    assert gate.allowed == MIN_IN_FLIGHT + 1  # one more after as many calm answers as it allows
    for _ in range(1000):
        gate.answered(200)
    assert gate.allowed == 16  # back to the ceiling, never above it


def test_in_flight_holds_readers_over_the_limit_until_one_leaves():
    async def scenario() -> list[str]:
        gate, order = InFlight(4), []
        gate.answered(429)  # two may be in flight now

        async def reader(name: str, hold_s: float) -> None:
            async with gate:
                order.append(f"{name} in")
                await asyncio.sleep(hold_s)
            order.append(f"{name} out")

        await asyncio.gather(reader("a", 0.05), reader("b", 0.1), reader("c", 0.0))
        return order

    order = asyncio.run(scenario())
    assert order[:2] == ["a in", "b in"]
    assert order.index("c in") > order.index("a out")


def test_429s_slow_the_reader_down_and_every_path_is_still_read(serve):
    throttled = [(429, {"Retry-After": "0"}, b"{}")]
    server = _start(serve, {f"/api/e/{n}": [*throttled, _ok(n)] for n in range(20)})
    results = _read(BulkReader(server.url, system="S", policy=FAST, concurrency=8), [f"e/{n}" for n in range(20)])
    assert results == [(n, n) for n in range(20)]
    assert len(server.seen) == 40


def test_the_first_retry_waits_for_retry_after(serve):
    server = _start(serve, {"/api/a": [(429, {"Retry-After": "1"}, b"{}"), _ok("a")]})
    started = time.monotonic()
    assert _read(BulkReader(server.url, system="S", policy=FAST), ["a"]) == [(0, "a")]
    assert time.monotonic() - started >= 0.9


def test_a_policy_of_one_attempt_never_retries(serve):
    server = _start(serve, {"/api/a": [(503, {}, b""), _ok("a")]})
    (result,) = _read(BulkReader(server.url, system="S", policy=RetryPolicy(attempts=1)), ["a"])
    assert isinstance(result, TransientSystemError) and str(result) == "S answered 503 after 1 tries"
    assert len(server.seen) == 1


def test_a_connection_sets_how_many_details_staffology_reads_at_once(serve):
    people = [staffology_employee(f"E{n:03}", "Ann", "Lee", f"a{n}@example.com") for n in range(30)]
    path = f"/api/employers/{DEFAULT_EMPLOYER_ID}/employees/"
    server = _start(serve, {path + p["id"]: [_ok(p)] for p in people}, delay_s=0.02)
    connection = staffology_expensein(source_url=server.url, employer_id=DEFAULT_EMPLOYER_ID, source_read_concurrency=3)
    credentials = Credentials.model_validate({"source": {"api_key": "k"}, "target": {"api_key": "k"}})
    adapter = open_staffology(connection, credentials, FAST)
    listing = Listing()
    try:
        adapter.read_details([p["id"] for p in people], listing)
    finally:
        adapter.close()
    assert len(listing.records) == 30
    assert server.most_in_flight == 3
