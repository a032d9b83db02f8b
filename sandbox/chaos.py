"""`make chaos`: the fault suite. Scripted scenarios on one local stack, each measured the same way.

    python -m sandbox.chaos [--fast] [--only NAME[,NAME...]] [--json FILE] [--state-dir DIR]

Each scenario resets the simulators, loads employees of its own (payroll codes prefixed per scenario, so no
scenario sees another's employees), injects its faults, syncs through the local API, waits until the stack is
idle and measures:

- SUCCESSFUL / NOT_SYNCING / FAILED: the final status of the scenario's employees;
- duplicates: ExpenseIn users hrsync created beyond one per reference or email, plus creates ExpenseIn refused
  as duplicates (409: the simulator, like ExpenseIn, keeps references and emails unique);
- lost: employees loaded with an id that end with no status, or still IN_PROGRESS;
- leaks: places where a canary employee's personal data (names, emails, NI number, bank details; one such
  employee in every scenario) turns up: lines of the function logs, DynamoDB items, function events and results
  (every queue body delivered, every API response), messages left on the queues, failure records.

A scenario passes when duplicates, lost and leaks are all 0 and its own expectation holds (in most: every
eligible employee SUCCESSFUL, every malformed one NOT_SYNCING or FAILED with a reason, every run ended). The
suite exits 1 when any scenario falls short. `--fast` runs the small subset `make test` runs
(tests/e2e/test_chaos.py).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from sandbox.demo import FIRST, LAST
from sandbox.sample import expensein_user, staffology_employee
from sandbox.simulators.base import HttpError
from sandbox.stack import LocalStack

CONNECTOR = "staffology-expensein"
SUITE_CONNECTION = "chaos-staffology-expensein"
WORKER = "SyncWorkerFunction"
DEPARTMENTS = [
    {"reference": "SALES", "name": "Sales"},
    {"reference": "ENG", "name": "Engineering"},
    {"reference": "FIN", "name": "Finance"},
]
RUN_TIMEOUT_S = 240.0
IDLE_TIMEOUT_S = 180.0
FINISHED = ("SUCCEEDED", "COMPLETED_WITH_FAILURES", "FAILED", "TIMED_OUT", "QUARANTINED")


# --------------------------------------------------------------------------------------------- the canary
@dataclass(frozen=True)
class Canary:
    """Personal data no test, log or id could hold by chance: any sighting outside the vendors is a leak."""

    first_name: str = "Zqxcanaryfirst"
    last_name: str = "Vwkcanarylast"
    email: str = "zqx.canary.q7f3@leak-canary.example"
    new_email: str = "zqx.canary.q8k2@leak-canary.example"
    ni_number: str = "ZX918273C"
    account_name: str = "Qjzcanary Holder"
    account_number: str = "98765432"
    sort_code: str = "99-88-77"

    def needles(self) -> dict[str, re.Pattern[str]]:
        """What to search for, by the field it came from; digits must stand alone (not inside a longer number)."""
        texts = {
            "first name": self.first_name,
            "last name": self.last_name,
            "email": self.email,
            "new email": self.new_email,
            "NI number": self.ni_number,
            "account name": "Qjzcanary",
            "sort code": self.sort_code,
        }
        found = {name: re.compile(re.escape(text), re.IGNORECASE) for name, text in texts.items()}
        found["account number"] = re.compile(rf"(?<!\d){self.account_number}(?!\d)")
        return found

    def employee(self, code: str, **changes: Any) -> dict[str, Any]:
        record = staffology_employee(
            code,
            self.first_name,
            self.last_name,
            changes.pop("email", self.email),
            department="FIN",
            bank={"accountName": self.account_name, "accountNumber": self.account_number, "sortCode": self.sort_code},
            **changes,
        )
        record["personalDetails"]["niNumber"] = self.ni_number
        return record


CANARY = Canary()
NEEDLES = CANARY.needles()


def canary_fields(text: str) -> list[str]:
    """The canary fields that appear in `text`."""
    return [name for name, pattern in NEEDLES.items() if pattern.search(text)]


# --------------------------------------------------------------------------------------------- employees
def population(prefix: str, count: int, *, canary: bool = True) -> list[dict[str, Any]]:
    """`count` well-formed Staffology employees coded `<prefix>000...`; the last is the canary when asked."""
    employees = []
    for i in range(count - 1 if canary else count):
        code = f"{prefix}{i:03}"
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        bank = (
            {"accountName": f"{first} {last}", "accountNumber": f"{20000000 + i}", "sortCode": "20-00-00"}
            if i % 4 == 0
            else None
        )
        employees.append(
            staffology_employee(
                code,
                first,
                last,
                f"{first}.{last}.{code}@chaos.example".lower(),
                department=DEPARTMENTS[i % 3]["reference"],
                bank=bank,
            )
        )
    if canary:
        employees.append(CANARY.employee(f"{prefix}CAN"))
    return employees


def ids(records: Sequence[dict[str, Any]]) -> set[str]:
    return {record["id"] for record in records}


# --------------------------------------------------------------------------------------------- observation
class InvocationTap:
    """Sees every invocation of every local function: searches events and results for the canary, and runs
    per-function hooks on the event before it is delivered (duplicate deliveries use one)."""

    def __init__(self, pools: dict[str, Any]) -> None:
        self._pools = pools
        self._lock = threading.Lock()
        self.sightings: list[str] = []
        self.hooks: dict[str, Callable[[dict[str, Any]], None]] = {}

    def install(self) -> None:
        for name, pool in self._pools.items():
            pool.invoke = self._wrap(name, pool.invoke)  # an instance attribute: the emulator calls pool.invoke

    def uninstall(self) -> None:
        for pool in self._pools.values():
            with contextlib.suppress(AttributeError):
                del pool.invoke

    def _wrap(self, name: str, invoke: Callable[..., Any]) -> Callable[..., Any]:
        def tapped(payload: bytes, request_id: str | None = None) -> Any:
            hook = self.hooks.get(name)
            if hook is not None:
                with contextlib.suppress(ValueError):
                    hook(json.loads(payload))
            result = invoke(payload, request_id)
            for where, data in (("event", payload), ("result", result.payload)):
                found = canary_fields(data.decode("utf-8", "replace"))
                if found:
                    with self._lock:
                        self.sightings.append(f"{name} {where}: {', '.join(found)}")
            return result

        return tapped

    def take(self) -> list[str]:
        with self._lock:
            taken, self.sightings = self.sightings, []
        return taken


@dataclass
class Row:
    """One scenario's line of the table."""

    scenario: str
    employees: int = 0
    successful: int = 0
    not_syncing: int = 0
    failed: int = 0
    duplicates: int = 0
    lost: int = 0
    leaks: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.duplicates or self.lost or self.leaks or self.problems)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class Expectation:
    """What a scenario loaded and expects: measured the same way for every scenario."""

    employees: list[dict[str, Any]] = field(default_factory=list)
    eligible: set[str] = field(default_factory=set)  # must end SUCCESSFUL
    refused: set[str] = field(default_factory=set)  # must end NOT_SYNCING or FAILED, with a reason
    preloaded_users: set[str] = field(default_factory=set)
    runs: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # printed, never failing
    connection: str | None = None  # when not the suite's connection

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


# --------------------------------------------------------------------------------------------- harness
class Chaos:
    """The local stack, with what the scenarios need to drive it and what the measures read."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        state = stack.state()
        self.demo_connection: str = state["connections"][CONNECTOR]
        self.connection = self.demo_connection  # the one scenarios drive: chaos_stack makes it the suite's own
        self.staffology: str = state["systems"]["staffology"]
        self.expensein: str = state["systems"]["expensein"].removesuffix("/1.0")
        self.api = stack.api_client(timeout=60)
        self.sqs = stack.client("sqs")
        self.dynamodb = stack.client("dynamodb")
        resources = stack.resources
        assert resources is not None
        self.table = resources.ref("Table")
        self.queues = {name: resources.ref(name) for name in ("SyncQueue", "SyncDLQ", "ReviewDLQ")}
        self.tap = InvocationTap(stack.pools)
        self.tap.install()
        self._log_offsets: dict[Path, int] = {}
        self._leaky_items: set[str] = set()
        self._mark_logs()
        self._scan_table()

    def close(self) -> None:
        self.tap.uninstall()
        self.api.close()

    # -- set-up -------------------------------------------------------------------------------------
    def connection_body(self, connection: str) -> dict[str, Any]:
        """What PUT /connections/{id} takes, read back from GET."""
        current = self.api.get(f"/connections/{connection}").raise_for_status().json()
        return {name: current[name] for name in ("connector", "source", "target", "secret_name", "options")}

    def create_connection(self, connection: str, *, include_bank_details: bool) -> None:
        """A new connection like the demo one (same systems and secret); waits for the run its creation starts."""
        body = self.connection_body(self.demo_connection)
        body["options"] = {**body["options"], "include_bank_details": include_bank_details}
        response = self.api.put(f"/connections/{connection}", json=body)
        response.raise_for_status()
        started = response.json().get("started_run")
        if started:
            self.wait_run(started, connection=connection)
        self.stack.wait_idle(IDLE_TIMEOUT_S)

    def include_bank_details(self, on: bool) -> None:
        """PUT the connection back with include_bank_details set, keeping every other field."""
        body = self.connection_body(self.connection)
        body["options"] = {**body["options"], "include_bank_details": on}
        self.api.put(f"/connections/{self.connection}", json=body).raise_for_status()

    @contextlib.contextmanager
    def on_connection(self, connection: str) -> Iterator[None]:
        """Drive another connection for a while."""
        previous, self.connection = self.connection, connection
        try:
            yield
        finally:
            self.connection = previous

    def reset(self) -> None:
        for url in (self.staffology, self.expensein):
            httpx.post(f"{url}/_sandbox/reset").raise_for_status()
        self.stack.wait_idle(IDLE_TIMEOUT_S)

    def load(
        self, employees: list[dict[str, Any]], users: list[dict[str, Any]] | None = None, *, departments: bool = True
    ) -> None:
        httpx.put(f"{self.staffology}/_sandbox/records", json=employees).raise_for_status()
        if users is not None:
            httpx.put(f"{self.expensein}/_sandbox/records", json=users).raise_for_status()
        if departments:
            httpx.put(f"{self.expensein}/_sandbox/departments", json=DEPARTMENTS).raise_for_status()

    def faults(self, system: str, faults: dict[str, Any]) -> None:
        url = self.staffology if system == "staffology" else self.expensein
        httpx.put(f"{url}/_sandbox/faults", json=faults).raise_for_status()

    # -- runs ---------------------------------------------------------------------------------------
    def start_sync(self, body: dict[str, Any] | None = None) -> str:
        response = self.api.post(f"/connections/{self.connection}/syncs", json=body or {})
        if response.status_code != 202:
            raise RuntimeError(f"POST /syncs answered {response.status_code}: {response.text[:300]}")
        return str(response.json()["run_id"])

    def wait_run(self, run_id: str, timeout: float = RUN_TIMEOUT_S, connection: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = (
                self.api.get(f"/connections/{connection or self.connection}/syncs/{run_id}").raise_for_status().json()
            )
            if run["status"] in FINISHED or time.monotonic() > deadline:
                return run
            time.sleep(0.3)

    def sync(self, expect: Expectation, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start a run, wait for it and for the stack to go idle; the run is recorded on `expect`."""
        run = self.wait_run(self.start_sync(body))
        self.stack.wait_idle(IDLE_TIMEOUT_S)
        run = self.wait_run(run["run_id"], timeout=1)
        expect.runs.append(run)
        expect.check(run["status"] in FINISHED, f"run {run['run_id']} did not end: {run['status']}")
        return run

    def employee_states(self, connection: str | None = None) -> dict[str, dict[str, Any]]:
        body = self.api.get(f"/connections/{connection or self.connection}/employees").raise_for_status().json()
        return {e["employee_id"]: e for e in body["employees"]}

    def users(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.expensein}/_sandbox/records").raise_for_status().json())

    def requests(self, system: str = "expensein", since: int = 0) -> list[dict[str, Any]]:
        url = self.staffology if system == "staffology" else self.expensein
        return list(httpx.get(f"{url}/_sandbox/requests", params={"since": since}).raise_for_status().json())

    def failures(self) -> list[dict[str, Any]]:
        found = []
        for status in ("OPEN", "RETRIED", "DISMISSED"):
            body = self.api.get("/failures", params={"status": status}).raise_for_status().json()
            found += body["failures"]
        return found

    def busy_workers(self) -> list[Any]:
        """The SyncWorkerFunction processes serving an invocation now. FunctionPool keeps its FunctionHosts in
        `_hosts` (idle ones also in `_idle`), each with its child process in `_process` (function_host.py):
        read here, never changed. Only busy ones are killed: the host restarts a child whose invocation
        failed, while one killed idle would be found dead only by the next invocation's timeout."""
        pool = self.stack.pools[WORKER]
        idle = list(getattr(pool, "_idle", []))
        hosts = [host for host in list(getattr(pool, "_hosts", [])) if host not in idle]
        processes = [getattr(host, "_process", None) for host in hosts]
        return [p for p in processes if p is not None and p.poll() is None]

    # -- measures -----------------------------------------------------------------------------------
    def _log_files(self) -> list[Path]:
        state_dir = self.stack.state_dir
        return sorted((state_dir / "logs").glob("*Function.log")) if state_dir else []

    def _mark_logs(self) -> None:
        self._log_offsets = {path: path.stat().st_size for path in self._log_files()}

    def _log_leaks(self) -> list[str]:
        found = []
        for path in self._log_files():
            with path.open("rb") as stream:
                stream.seek(self._log_offsets.get(path, 0))
                text = stream.read().decode("utf-8", "replace")
            for line in text.splitlines():
                fields = canary_fields(line)
                if fields:
                    found.append(f"log {path.name}: {', '.join(fields)}: {line[:160]}")
        self._mark_logs()
        return found

    def _scan_table(self) -> list[str]:
        """DynamoDB items holding canary data that were not seen holding it before."""
        found = []
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table):
            for item in page["Items"]:
                text = json.dumps(item, sort_keys=True)
                fields = canary_fields(text)
                if fields and text not in self._leaky_items:
                    self._leaky_items.add(text)
                    key = f"{item['pk'].get('S')} / {item['sk'].get('S')}"
                    found.append(f"table item {key}: {', '.join(fields)}")
        return found

    def leaks(self) -> list[str]:
        """Every new place canary data turned up since the last call."""
        found = self.tap.take()
        found += self._log_leaks()
        found += self._scan_table()
        for failure in self.failures():
            fields = canary_fields(json.dumps(failure))
            if fields:
                found.append(f"failure {failure['failure_id']}: {', '.join(fields)}")
        for name, url in self.queues.items():
            for body in self.peek(url):
                fields = canary_fields(body)
                if fields:
                    found.append(f"message on {name}: {', '.join(fields)}")
        return found

    def peek(self, queue_url: str) -> list[str]:
        """Bodies of the messages on a queue, left there (received with a short visibility, then made visible)."""
        bodies: dict[str, str] = {}
        handles = []
        for _ in range(50):
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                bodies[message["MessageId"]] = message["Body"]
                handles.append(message["ReceiptHandle"])
        for handle in handles:
            with contextlib.suppress(Exception):
                self.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return list(bodies.values())

    def drain(self) -> None:
        for url in self.queues.values():
            while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def measure(self, name: str, expect: Expectation, started: float) -> Row:
        """The row for a scenario that has ended: statuses, duplicates, lost, leaks, expectation."""
        self.stack.wait_idle(IDLE_TIMEOUT_S)
        row = Row(scenario=name, employees=len(expect.employees), runs=[r["run_id"] for r in expect.runs])
        states = self.employee_states(expect.connection)
        for employee_id in sorted(ids(expect.employees)):
            state = states.get(employee_id)
            status = state["status"] if state else None
            if status == "SUCCESSFUL":
                row.successful += 1
            elif status == "NOT_SYNCING":
                row.not_syncing += 1
            elif status == "FAILED":
                row.failed += 1
            else:
                row.lost += 1
                expect.problems.append(f"lost: employee {employee_id} has status {status}")
                continue
            if employee_id in expect.eligible and status != "SUCCESSFUL":
                expect.problems.append(f"employee {employee_id} ({state['code']}) is {status}: {state['reason']}")
            if employee_id in expect.refused and (status == "SUCCESSFUL" or not state["reason"]):
                expect.problems.append(
                    f"malformed employee {employee_id} ({state['code']}) is {status} without refusal"
                )
        users = {user["id"]: user for user in self.users()}
        for employee_id in sorted(expect.eligible):
            state = states.get(employee_id) or {}
            user = users.get(state.get("target_id") or "")
            if state.get("status") == "SUCCESSFUL" and (user is None or user.get("reference") != state["code"]):
                expect.problems.append(
                    f"employee {employee_id} ({state['code']}) is SUCCESSFUL, linked to ExpenseIn user "
                    f"{state['target_id']}, which does not exist (or holds another reference)"
                )
        canaries = [e for e in expect.employees if e["id"] in expect.eligible and canary_fields(json.dumps(e))]
        expect.check(
            not canaries or bool(canary_fields(json.dumps(list(users.values())))),
            "the canary never reached ExpenseIn, so finding it nowhere else proves nothing",
        )
        row.duplicates = self.duplicates(expect.preloaded_users)
        leaks = self.leaks()
        row.leaks = len(leaks)
        expect.problems += [f"leak: {leak}" for leak in leaks]
        left = {name: len(self.peek(url)) for name, url in self.queues.items()}
        expect.check(not any(left.values()), f"messages left on the queues: {left}")
        if any(left.values()):
            self.drain()  # reported here; the next scenario starts with empty queues
        row.problems, row.notes = expect.problems, expect.notes
        row.seconds = round(time.monotonic() - started, 1)
        return row

    def duplicates(self, preloaded: set[str]) -> int:
        """Users hrsync created beyond one per reference or email, plus creates refused as duplicates (409)."""
        users = self.users()
        extra = 0
        for key in ("reference", "email"):
            groups: dict[str, list[dict[str, Any]]] = {}
            for user in users:
                value = user.get(key)
                if isinstance(value, str) and value.strip():
                    groups.setdefault(value.strip().lower(), []).append(user)
            for group in groups.values():
                created = [u for u in group if u["id"] not in preloaded]
                extra += min(len(created), len(group) - 1)
        refused = sum(1 for r in self.requests() if r["method"] == "POST" and r["status"] == 409)
        return extra + refused


# --------------------------------------------------------------------------------------------- scenarios
Scenario = Callable[[Chaos, int], Expectation]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    run: Scenario
    fast_size: int | None  # None: not in the fast subset
    full_size: int
    about: str


def canary(chaos: Chaos, size: int) -> Expectation:
    """Bank details on; create, then change the canary's email and department, then make it a leaver."""
    expect = Expectation()
    employees = population("CY", size)
    chaos.load(employees, [])
    chaos.sync(expect)
    canary_record = employees[-1]
    employees[-1] = CANARY.employee(canary_record["employmentDetails"]["payrollCode"], email=CANARY.new_email)
    employees[-1]["employmentDetails"]["department"] = {"code": "ENG", "title": "Eng"}
    chaos.load(employees, departments=False)
    chaos.sync(expect)
    users = {u["reference"]: u for u in chaos.users()}
    expect.check(
        users.get(canary_record["employmentDetails"]["payrollCode"], {}).get("email") == CANARY.new_email,
        "the canary's new email did not reach ExpenseIn",
    )
    bank = users.get(canary_record["employmentDetails"]["payrollCode"], {}).get("bankDetails") or {}
    expect.check(
        bank.get("accountNumber") == CANARY.account_number, "the canary's bank details did not reach ExpenseIn"
    )
    employees[-1]["status"] = "Former"
    employees[-1]["employmentDetails"]["leaverDetails"] = {"hasLeft": True, "leaveDate": "2026-01-31"}
    chaos.load(employees, departments=False)
    run = chaos.sync(expect)
    expect.check(run["counters"]["marked_leaver"] == 1, f"leaver not marked: {run['counters']}")
    # Error answers of the API carry no personal data either (the tap reads every response).
    for path in (
        f"/connections/{chaos.connection}/employees/{canary_record['id']}x",
        "/failures/no-such-failure",
        f"/connections/{chaos.connection}/syncs/no-such-run",
    ):
        expect.check(chaos.api.get(path).status_code == 404, f"GET {path} did not answer 404")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def bad_payloads(chaos: Chaos, size: int) -> Expectation:
    """Malformed Staffology records among good ones, and 20% of Staffology reads answering 500."""
    expect = Expectation()
    bad = malformed()
    good = population("BP", max(4, size - len(bad)))
    oddities = [  # unusual but valid: these must sync, cleaned
        ("Zoë", "Łukasz-Ó'Brien"),
        ("Ann\x00\x07e", "Tab\tby"),
        ("Émile 😀", "Ng"),
    ]
    for (first, last), record in zip(oddities, good, strict=False):
        record["personalDetails"]["firstName"], record["personalDetails"]["lastName"] = first, last
    employees = good + bad
    random.Random(7).shuffle(employees)
    chaos.load(employees, [])
    # 20% as in make chaos; the fast subset's population is smaller and takes 10%, so that make test does not
    # flake on the 0.2^4 chance of a read failing all four tries (see README, Fault suite).
    rate = 0.2 if size >= 100 else 0.1
    chaos.faults("staffology", {"errors": [{"rate": rate, "status": 500}], "error_methods": ["GET"]})
    chaos.sync(expect)
    chaos.faults("staffology", {})
    for user in chaos.users():
        text = json.dumps(user)
        expect.check(not re.search(r"\\u00[01]|<|>|\\t", text), f"user {user['id']} holds control characters or markup")
    expect.employees, expect.eligible, expect.refused = employees, ids(good), ids(bad)
    return expect


def broken_listing_page(chaos: Chaos, size: int) -> Expectation:
    """Staffology answers 500 to every read of the second page of Current employees: the run must not pass for
    a success (nor move the last successful sync time) having never looked at the employees on that page;
    once the page reads again, the next run syncs them."""
    expect = Expectation()
    employees = population("BL", max(size, 110))  # 100 a page: the canary (BLCAN) sorts onto page 2
    chaos.load(employees, [])
    simulator = chaos.stack.simulators["staffology"]
    original = simulator.list_employees

    def second_page_broken(request: Any) -> Any:
        if request.param("status") == "Current" and request.param("pageNum") == "1":
            raise HttpError(500, "Simulated fault (500)")
        return original(request)

    before = chaos.api.get(f"/connections/{chaos.connection}").raise_for_status().json()["last_success_at"]
    simulator.list_employees = second_page_broken
    try:
        run = chaos.sync(expect)
    finally:
        del simulator.list_employees
    states = chaos.employee_states()
    unseen = [e for e in employees if e["id"] not in states]
    expect.notes.append(f"first run {run['status']}; {len(unseen)} employees on the broken page got no status")
    after = chaos.api.get(f"/connections/{chaos.connection}").raise_for_status().json()["last_success_at"]
    expect.check(
        run["status"] != "SUCCEEDED",
        f"run {run['run_id']} read an incomplete Staffology listing ({len(unseen)} employees never seen) "
        "and still ended SUCCEEDED",
    )
    expect.check(after == before, f"run {run['run_id']} moved last_success_at with an incomplete listing")
    chaos.sync(expect)
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def malformed() -> list[dict[str, Any]]:
    """Staffology records no sync may send: wrong types, nulls, markup, 10 KB strings, invalid emails..."""
    long = "A" * 10_240

    def record(n: int, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        code = f"BX{n:03}"
        employee = staffology_employee(code, "Bad", f"Record{n}", f"bad.{n}@chaos.example")
        change(employee)
        return employee

    def personal(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda e: e["personalDetails"].__setitem__(name, value)

    def employment(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda e: e["employmentDetails"].__setitem__(name, value)

    changes: list[Callable[[dict[str, Any]], None]] = [
        personal("firstName", 12345),
        personal("email", ["bad@chaos.example"]),
        lambda e: e.__setitem__("personalDetails", None),
        personal("lastName", None),
        employment("payrollCode", None),
        personal("firstName", "<script>alert(1)</script>"),
        personal("lastName", "<b>Bold</b>"),
        personal("firstName", long),
        personal("email", f"{long}@chaos.example"),
        employment("payrollCode", long),
        personal("email", "not-an-email"),
        personal("email", "two@@at.chaos.example"),
        personal("email", "space in@chaos.example"),
        employment("leaverDetails", {"hasLeft": "maybe", "leaveDate": None}),
        lambda e: e.__setitem__("employmentDetails", "ENG"),
        employment("starterDetails", {"startDate": "31/02/2024"}),
        lambda e: e.__setitem__("bankDetails", "98765432"),
        lambda e: e.__setitem__("personalDetails", ["Bad", "Record"]),
        # The canary's data in records that cannot be read: the refusal must not carry it.
        lambda e: e["personalDetails"].update(
            firstName=CANARY.first_name + "x" * 40, lastName=CANARY.last_name, email=CANARY.email
        ),
        lambda e: e["personalDetails"].update(firstName=f"<i>{CANARY.first_name}</i>", email=CANARY.new_email),
    ]
    return [record(n, change) for n, change in enumerate(changes)]


def duplicate_deliveries(chaos: Chaos, size: int) -> Expectation:
    """Every work item delivered twice (every third, three times), copies racing the original; after the run,
    every item delivered once more."""
    expect = Expectation()
    employees = population("DD", size)
    chaos.load(employees, [])
    bodies: dict[str, str] = {}
    lock = threading.Lock()
    queue_url = chaos.queues["SyncQueue"]

    def copy_first_delivery(event: dict[str, Any]) -> None:
        for record in event.get("Records", []):
            with lock:
                if record["messageId"] in bodies or record["body"] in bodies.values():
                    continue
                bodies[record["messageId"]] = record["body"]
                copies = 2 if len(bodies) % 3 == 0 else 1
            for _ in range(copies):
                chaos.sqs.send_message(QueueUrl=queue_url, MessageBody=record["body"])

    chaos.tap.hooks[WORKER] = copy_first_delivery
    try:
        run = chaos.sync(expect)
    finally:
        chaos.tap.hooks.pop(WORKER, None)
    expect.check(run["status"] == "SUCCEEDED", f"run ended {run['status']}: {run.get('reason')}")
    expect.check(len(bodies) >= size - 1, f"only {len(bodies)} work items were seen to duplicate")
    creates = sum(1 for r in chaos.requests() if r["method"] == "POST" and r["status"] == 201)
    expect.check(creates == size, f"{creates} users created for {size} employees")
    seen = len(chaos.requests())
    for body in bodies.values():  # late duplicates: the run is over, so each must be ignored
        chaos.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    time.sleep(1)
    chaos.stack.wait_idle(IDLE_TIMEOUT_S)
    writes = [r for r in chaos.requests(since=seen) if r["method"] != "GET"]
    expect.check(not writes, f"late duplicates wrote to ExpenseIn {len(writes)} times")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def concurrent_triggers(chaos: Chaos, size: int) -> Expectation:
    """Ten POST /syncs at once: exactly one 202; nine 409 naming that run. ExpenseIn answers slowly so the run
    cannot end while the triggers are still being answered, and every API instance is started beforehand (a
    cold one takes seconds to answer its first request)."""
    expect = Expectation()
    employees = population("CT", size)
    chaos.load(employees, [])
    chaos.faults("expensein", {"latency_ms": 300})
    with ThreadPoolExecutor(max_workers=4) as pool:  # start every instance of the API function
        list(pool.map(lambda _: chaos.api.get(f"/connections/{chaos.connection}"), range(4)))
    barrier = threading.Barrier(10)

    def trigger(_: int) -> tuple[httpx.Response, float]:
        with chaos.stack.api_client(timeout=60) as api:
            barrier.wait(timeout=30)
            response = api.post(f"/connections/{chaos.connection}/syncs", json={})
            return response, time.time()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(trigger, range(10)))
    last_answer = max(at for _, at in answers)
    accepted = [a.json()["run_id"] for a, _ in answers if a.status_code == 202]
    refused = [a.json().get("run_id") for a, _ in answers if a.status_code == 409]
    statuses = sorted(a.status_code for a, _ in answers)
    expect.check(len(accepted) == 1 and len(refused) == 9, f"answers {statuses}, expected one 202 and nine 409")
    expect.check(len(set(refused)) <= 1 and set(refused) <= set(accepted), f"409s named runs {sorted(set(refused))}")
    for run_id in accepted:
        run = chaos.wait_run(run_id)
        expect.runs.append(run)
        finished = run.get("finished_at")
        if finished and datetime.fromisoformat(finished).timestamp() < last_answer:
            expect.notes.append(f"run {run_id} finished before the last trigger was answered: not concurrent")
    chaos.stack.wait_idle(IDLE_TIMEOUT_S)
    chaos.faults("expensein", {})
    for run in expect.runs:
        expect.check(run["status"] == "SUCCEEDED", f"run {run['run_id']} ended {run['status']}")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def killed_workers(chaos: Chaos, size: int) -> Expectation:
    """SIGKILL busy worker processes mid-run: right after ExpenseIn accepted a create (so its answer is lost) and
    a few times at random; the pool restarts them and SQS redelivers. Whatever the run could not finish must end
    FAILED with a failure record, and the next run must sync it."""
    expect = Expectation()
    employees = population("KW", size)
    chaos.load(employees, [])
    chaos.faults("expensein", {"latency_ms": 150})
    simulator = chaos.stack.simulators["expensein"]
    original = simulator.create_user
    creates = itertools.count(1)
    kill_at = {3, max(4, size // 3), max(5, (2 * size) // 3)}
    kills: Counter[str] = Counter()
    last_kill = [time.monotonic()]

    def kill_workers(why: str, only_one: bool = False) -> None:
        processes = chaos.busy_workers()
        if only_one and processes:
            processes = [random.choice(processes)]
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
                kills[why] += 1
                last_kill[0] = time.monotonic()

    def create_then_kill(request: Any) -> Any:
        response = original(request)  # the user exists now; its creator dies before hearing so
        if next(creates) in kill_at:
            kill_workers("right after a create")
        return response

    stop = threading.Event()

    def kill_a_few() -> None:
        for _ in range(3):
            if stop.wait(random.uniform(0.5, 1.5)):
                return
            kill_workers("at random", only_one=True)

    simulator.create_user = create_then_kill
    killer = threading.Thread(target=kill_a_few, daemon=True)
    try:
        run_id = chaos.start_sync()
        killer.start()
        run = chaos.wait_run(run_id)
    finally:
        stop.set()
        del simulator.create_user
        killer.join()
    chaos.faults("expensein", {})
    chaos.stack.wait_idle(IDLE_TIMEOUT_S)
    run = chaos.wait_run(run["run_id"], timeout=1)
    expect.runs.append(run)
    expect.check(sum(kills.values()) > 0, "no worker was killed")
    expect.check(run["status"] in ("SUCCEEDED", "COMPLETED_WITH_FAILURES"), f"run ended {run['status']}")
    states = chaos.employee_states()
    first = Counter(states.get(i, {}).get("status") for i in ids(employees))
    failures = {f["employee_id"] for f in chaos.failures() if f["run_id"] == run["run_id"]}
    failed = {i for i in ids(employees) if states.get(i, {}).get("status") == "FAILED"}
    expect.check(failed <= failures, f"{len(failed - failures)} FAILED employees have no failure record")
    reasons = Counter(states[i]["reason"] for i in failed)
    expect.notes.append(f"processes killed: {dict(kills)}; after the first run: {dict(first)}")
    expect.notes += [f"first run FAILED x{n}: {reason}" for reason, n in reasons.items()]
    if first["SUCCESSFUL"] != len(employees):
        # A killed create leaves its claim in force until the function's timeout (60 s) has
        # passed; the local stack redelivers after 1 s (SQS: after the 360 s visibility timeout), so such an
        # item runs out of receives locally. The next run, after that timeout, must finish the job.
        time.sleep(max(0.0, 62 - (time.monotonic() - last_kill[0])))
        second = chaos.sync(expect)
        expect.check(second["status"] == "SUCCEEDED", f"the run after the kills ended {second['status']}")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def expensein_429_503(chaos: Chaos, size: int) -> Expectation:
    """30% of ExpenseIn calls answer 429 (Retry-After 1) and 10% 503: creates and updates of users that were
    there already, then updates, new starters and leavers, all under the same faults; every eligible employee
    must end SUCCESSFUL."""
    expect = Expectation()
    employees = population("RL", size)
    existing = [  # a tenth already have ExpenseIn users, with a stale last name: matched by code, updated
        expensein_user(
            f"x-{n:05}",
            record["employmentDetails"]["payrollCode"],
            record["personalDetails"]["firstName"],
            "Stale",
            record["personalDetails"]["email"],
        )
        for n, record in enumerate(employees[-1 - size // 10 : -1])
    ]
    expect.preloaded_users = {user["id"] for user in existing}
    chaos.load(employees, existing)
    chaos.faults(
        "expensein", {"errors": [{"rate": 0.3, "status": 429, "retry_after": 1}, {"rate": 0.1, "status": 503}]}
    )
    first = chaos.sync(expect)
    expect.check(first["status"] == "SUCCEEDED", f"first run ended {first['status']}: {first.get('reason')}")
    expect.check(
        first["counters"]["updated"] == len(existing), f"{first['counters']['updated']} of {len(existing)} updated"
    )
    for record in employees[: size // 5]:
        record["personalDetails"]["lastName"] += "-Moved"
    leavers = employees[size // 5 : size // 5 + max(1, size // 20)]
    for record in leavers:
        record["status"] = "Former"
        record["employmentDetails"]["leaverDetails"] = {"hasLeft": True, "leaveDate": "2026-01-31"}
    employees += population("RN", max(2, size // 20), canary=False)
    chaos.load(employees, departments=False)
    second = chaos.sync(expect)
    expect.check(second["status"] == "SUCCEEDED", f"second run ended {second['status']}: {second.get('reason')}")
    chaos.faults("expensein", {})
    users = {u["reference"]: u for u in chaos.users()}
    for record in leavers:
        code = record["employmentDetails"]["payrollCode"]
        expect.check(users.get(code, {}).get("leaveDate") == "2026-01-31", f"leaver {code} not marked in ExpenseIn")
    statuses = Counter(r["status"] for r in chaos.requests())
    expect.check(statuses[429] > 0 and statuses[503] > 0, f"faults were not injected: {dict(statuses)}")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def target_outage(chaos: Chaos, size: int) -> Expectation:
    """ExpenseIn refuses every write with 503: the run ends QUARANTINED with the rest deferred, nothing
    dead-lettered en masse, nobody left IN_PROGRESS; once ExpenseIn is back the next run syncs everyone."""
    expect = Expectation()
    employees = population("TO", size)
    chaos.load(employees, [])
    chaos.faults("expensein", {"error_rate": 1.0, "error_status": 503, "error_methods": ["POST", "PATCH"]})
    down = chaos.sync(expect)
    expect.check(down["status"] == "QUARANTINED", f"outage run ended {down['status']}, not QUARANTINED")
    states = chaos.employee_states()
    stuck = [i for i in ids(employees) if states.get(i, {}).get("status") not in ("NOT_SYNCING", "FAILED")]
    expect.check(not stuck, f"{len(stuck)} employees neither deferred nor failed during the outage")
    quarantine = chaos.api.get(f"/connections/{chaos.connection}").json().get("quarantine")
    expect.check(bool(quarantine), "the connection is not quarantined")
    chaos.faults("expensein", {})
    back = chaos.sync(expect)
    expect.check(back["status"] == "SUCCEEDED", f"recovery run ended {back['status']}")
    quarantine = chaos.api.get(f"/connections/{chaos.connection}").json().get("quarantine")
    expect.check(not quarantine, "the quarantine was not cleared by the successful run")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def dead_letters(chaos: Chaos, size: int) -> Expectation:
    """ExpenseIn answers 500 to every create for a few employees (too few attempts to quarantine): each item is
    dead-lettered, reviewed and FAILED with a failure record; retried through the API once ExpenseIn is back."""
    expect = Expectation()
    employees = population("DL", size)
    chaos.load(employees, [])
    chaos.faults("expensein", {"error_rate": 1.0, "error_status": 500, "error_methods": ["POST"]})
    run = chaos.sync(expect)
    expect.check(run["status"] == "COMPLETED_WITH_FAILURES", f"run ended {run['status']}")
    failures = [f for f in chaos.failures() if f["run_id"] == run["run_id"] and f["status"] == "OPEN"]
    expect.check(ids(employees) == {f["employee_id"] for f in failures}, f"{len(failures)} failures for {size}")
    chaos.faults("expensein", {})
    for failure in failures:
        response = chaos.api.post(f"/failures/{failure['failure_id']}/retry")
        expect.check(response.status_code == 202, f"retry answered {response.status_code}: {response.text[:200]}")
        if response.status_code == 202:
            retried = chaos.wait_run(response.json()["run_id"])
            expect.runs.append(retried)
            expect.check(retried["status"] == "SUCCEEDED", f"retry run ended {retried['status']}")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def deleted_users(chaos: Chaos, size: int) -> Expectation:
    """Users hrsync created are deleted in ExpenseIn by an administrator: the next run must create them again
    (a create whose earlier answer is on record must still check that the user exists)."""
    expect = Expectation()
    employees = population("DU", size)
    chaos.load(employees, [])
    chaos.sync(expect)
    users = chaos.users()
    gone = {employees[0]["employmentDetails"]["payrollCode"], employees[-1]["employmentDetails"]["payrollCode"]}
    httpx.put(
        f"{chaos.expensein}/_sandbox/records", json=[u for u in users if u["reference"] not in gone]
    ).raise_for_status()
    seen = len(chaos.requests())
    run = chaos.sync(expect)
    posts = [r for r in chaos.requests(since=seen) if r["method"] == "POST"]
    expect.notes.append(f"after deleting {sorted(gone)}: run counted {run['counters']['created']} created")
    expect.check(len(posts) == len(gone), f"{len(posts)} users created again for {len(gone)} deleted")
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


def options_change(chaos: Chaos, size: int) -> Expectation:
    """A connection's options take effect at its next run: bank details turned off are no longer sent, turned
    on again they are. On a connection of its own, created with bank details on (its first run creates all)."""
    connection = f"chaos-options-{int(time.time())}"
    expect = Expectation(connection=connection)
    employees = population("OC", size)
    code = employees[-1]["employmentDetails"]["payrollCode"]
    chaos.load(employees, [])
    chaos.create_connection(connection, include_bank_details=True)

    def bank_in_expensein() -> dict[str, Any]:
        users = {u["reference"]: u for u in chaos.users()}
        return dict(users.get(code, {}).get("bankDetails") or {})

    with chaos.on_connection(connection):
        expect.check(bank_in_expensein().get("accountNumber") == CANARY.account_number, "bank details not created")
        chaos.include_bank_details(False)
        employees[-1]["bankDetails"]["accountName"] = "Qjzcanary Offholder"
        chaos.load(employees, departments=False)
        chaos.sync(expect)
        expect.check(
            bank_in_expensein().get("accountName") != "Qjzcanary Offholder",
            "bank details were sent after PUT /connections turned include_bank_details off",
        )
        chaos.include_bank_details(True)
        employees[-1]["bankDetails"]["accountName"] = "Qjzcanary Onholder"
        chaos.load(employees, departments=False)
        chaos.sync(expect)
        expect.check(
            bank_in_expensein().get("accountName") == "Qjzcanary Onholder",
            "bank details were not sent after PUT /connections turned include_bank_details back on",
        )
    expect.employees, expect.eligible = employees, ids(employees)
    return expect


SCENARIOS = [
    ScenarioSpec("canary", canary, 12, 50, "canary data through create, update, leaver"),
    ScenarioSpec("bad_payloads", bad_payloads, 30, 100, "malformed records, 10-20% Staffology 500s"),
    ScenarioSpec("broken_listing_page", broken_listing_page, None, 130, "Staffology listing page 2 always 500"),
    ScenarioSpec("duplicate_deliveries", duplicate_deliveries, 15, 100, "every work item delivered 2-3 times"),
    ScenarioSpec("concurrent_triggers", concurrent_triggers, 10, 30, "10 POST /syncs at once"),
    ScenarioSpec("killed_workers", killed_workers, None, 100, "SIGKILL workers mid-run"),
    ScenarioSpec("expensein_429_503", expensein_429_503, None, 100, "30% 429 (Retry-After 1) + 10% 503"),
    ScenarioSpec("target_outage", target_outage, None, 40, "ExpenseIn writes all 503, then back"),
    ScenarioSpec("dead_letters", dead_letters, None, 3, "creates all 500: DLQ, review, retry"),
    ScenarioSpec("deleted_users", deleted_users, None, 10, "users deleted in ExpenseIn, then a run"),
    ScenarioSpec("options_change", options_change, None, 6, "include_bank_details off, then on again"),
]


# --------------------------------------------------------------------------------------------- the suite
def run_scenario(chaos: Chaos, spec: ScenarioSpec, size: int) -> Row:
    started = time.monotonic()
    chaos.reset()
    chaos.leaks()  # anything seen before this scenario is not its own
    try:
        expect = spec.run(chaos, size)
    except Exception as exc:  # a scenario that crashes is a failed row, and the suite goes on
        with contextlib.suppress(Exception):
            chaos.stack.wait_idle(IDLE_TIMEOUT_S)
        return Row(
            scenario=spec.name,
            employees=size,
            problems=[f"scenario crashed: {type(exc).__name__}: {exc}"],
            seconds=round(time.monotonic() - started, 1),
        )
    finally:
        for system in ("staffology", "expensein"):
            with contextlib.suppress(Exception):
                chaos.faults(system, {})
    return chaos.measure(spec.name, expect, started)


@contextlib.contextmanager
def chaos_stack(state_dir: Path | None = None, *, quiet: bool = True) -> Iterator[Chaos]:
    """One local stack for the whole suite, function logs under `state_dir` (a temporary folder by default).

    `quiet`: killed workers leave the simulators writing to closed sockets, and the emulator warns of every
    failed batch; that noise goes to `chaos-stderr.log` beside the function logs rather than over the table.
    """
    with contextlib.ExitStack() as cleanup:
        if state_dir is None:
            state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="hrsync-chaos-")))
        state_dir.mkdir(parents=True, exist_ok=True)
        if quiet:
            noise = cleanup.enter_context((state_dir / "chaos-stderr.log").open("a", encoding="utf-8"))
            cleanup.enter_context(contextlib.redirect_stderr(noise))
        stack = cleanup.enter_context(LocalStack(state_dir=state_dir))
        chaos = Chaos(stack)
        cleanup.callback(chaos.close)
        # A connection of the suite's own, with bank details from the start: they flow in every scenario.
        chaos.create_connection(SUITE_CONNECTION, include_bank_details=True)
        chaos.connection = SUITE_CONNECTION
        yield chaos


def select(only: str | None, fast: bool) -> list[tuple[ScenarioSpec, int]]:
    """The scenarios to run with their sizes; `only` names one or more (comma-separated), at full size unless
    `fast` and the scenario has a fast size."""
    names = set(only.split(",")) if only else None
    unknown = (names or set()) - {spec.name for spec in SCENARIOS}
    if unknown:
        known = ", ".join(spec.name for spec in SCENARIOS)
        raise SystemExit(f"no scenario named {', '.join(sorted(unknown))}; known: {known}")
    chosen = []
    for spec in SCENARIOS:
        if names is not None and spec.name not in names:
            continue
        size = spec.fast_size if fast else spec.full_size
        if size is None:
            if names is None:
                continue
            size = spec.full_size
        chosen.append((spec, size))
    return chosen


def run_suite(
    *, fast: bool = False, only: str | None = None, state_dir: Path | None = None, echo: bool = True
) -> list[Row]:
    chosen = select(only, fast)
    rows = []
    with chaos_stack(state_dir) as chaos:
        for spec, size in chosen:
            if echo:
                print(f"  {spec.name} ({size} employees): {spec.about} ...", flush=True)
            row = run_scenario(chaos, spec, size)
            rows.append(row)
            if echo:
                print(f"    {'pass' if row.passed else 'FAIL'} in {row.seconds:.0f} s", flush=True)
    return rows


COLUMNS = (
    ("scenario", 22),
    ("employees", 9),
    ("SUCCESSFUL", 10),
    ("NOT_SYNCING", 11),
    ("FAILED", 6),
    ("duplicates", 10),
    ("lost", 4),
    ("leaks", 5),
    ("result", 6),
    ("seconds", 7),
)


def format_table(rows: Sequence[Row]) -> str:
    def line(values: Sequence[object]) -> str:
        cells = [
            f"{value!s:<{width}}" if index == 0 else f"{value!s:>{width}}"
            for index, (value, (_, width)) in enumerate(zip(values, COLUMNS, strict=True))
        ]
        return "  ".join(cells).rstrip()

    out = [line([name for name, _ in COLUMNS]), line(["-" * width for _, width in COLUMNS])]
    for row in rows:
        out.append(
            line(
                [
                    row.scenario,
                    row.employees,
                    row.successful,
                    row.not_syncing,
                    row.failed,
                    row.duplicates,
                    row.lost,
                    row.leaks,
                    "pass" if row.passed else "FAIL",
                    f"{row.seconds:.0f}",
                ]
            )
        )
    for row in rows:
        if row.problems or row.notes:
            out.append(f"\n{row.scenario}:")
            out += [f"  . {note}" for note in row.notes]
            out += [f"  - {problem}" for problem in row.problems[:25]]
            if len(row.problems) > 25:
                out.append(f"  ... and {len(row.problems) - 25} more")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run hrsync's fault suite on the local stack.")
    parser.add_argument("--fast", action="store_true", help="only the small subset make test runs")
    parser.add_argument("--only", metavar="NAME", help="one scenario: " + ", ".join(s.name for s in SCENARIOS))
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="keep the stack's logs here (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    print("Starting the local stack for the fault suite...", flush=True)
    rows = run_suite(fast=args.fast, only=args.only, state_dir=args.state_dir)
    print()
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps([row.to_json() for row in rows], indent=2) + "\n", encoding="utf-8")
    failing = [row.scenario for row in rows if not row.passed]
    print(
        f"\n{len(rows) - len(failing)} of {len(rows)} scenarios passed"
        + (f"; failing: {', '.join(failing)}" if failing else ".")
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
