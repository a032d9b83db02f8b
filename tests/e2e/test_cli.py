"""The `hrsync` command against the local stack, run as a subprocess the way an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sandbox.demo import sample_employer
from sandbox.sample import staffology_employee

pytestmark = pytest.mark.e2e
CONNECTOR = "staffology-expensein"
HRSYNC = str(Path(sys.executable).parent / "hrsync")  # the console script the package installs


@pytest.fixture
def cli(stack, tmp_path):
    """Run `hrsync --local ...`; returns (exit code, parsed --json stdout or raw text, stderr)."""
    state = tmp_path / "local.json"
    state.write_text(json.dumps(stack.state()), encoding="utf-8")
    env = {**os.environ, "HRSYNC_LOCAL_STATE": str(state), "COLUMNS": "200"}

    def run(*args: str, stdin: str | None = None, expect: int = 0, raw: bool = False) -> Any:
        done = subprocess.run(
            [HRSYNC, "--local", *args], input=stdin, capture_output=True, text=True, env=env, timeout=240, check=False
        )
        assert done.returncode == expect, f"hrsync {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        if "--json" in args and not raw:
            return json.loads(done.stdout)
        return done.stdout + done.stderr

    return run


def _load(systems: dict[str, str], employees, users, departments) -> None:
    httpx.put(f"{systems['staffology']}/_sandbox/records", json=employees).raise_for_status()
    httpx.put(f"{systems['expensein']}/_sandbox/records", json=users).raise_for_status()
    httpx.put(f"{systems['expensein']}/_sandbox/departments", json=departments).raise_for_status()


def _requests(systems: dict[str, str]) -> list[dict]:
    return (
        httpx.get(f"{systems['staffology']}/_sandbox/requests").json()
        + httpx.get(f"{systems['expensein']}/_sandbox/requests").json()
    )


def _table_items(stack) -> list[dict]:
    dynamodb = stack.client("dynamodb")
    name = dynamodb.list_tables()["TableNames"][0]
    items, kwargs = [], {}
    while True:
        page = dynamodb.scan(TableName=name, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_cli_dry_run_writes_nothing_and_real_run_counts_match(stack, systems, cli):
    connection = stack.state()["connections"][CONNECTOR]
    _load(systems, *sample_employer())
    assert stack.wait_idle(60)
    before, seen = _table_items(stack), len(_requests(systems))

    plan = cli("sync", connection, "--dry-run", "--json")

    assert _table_items(stack) == before  # no state moved, no lock, no log, no lookup
    assert {r["method"] for r in _requests(systems)[seen:]} == {"GET"}  # reads only, in both systems
    assert stack.idle()  # nothing queued
    c = plan["counters"]
    assert (c["to_create"], c["to_update"], c["to_mark_leaver"]) == (
        len(plan["creates"]),
        len(plan["updates"]),
        len(plan["leavers"]),
    )
    updates = {p["code"]: p for p in plan["updates"]}
    assert updates["E005"]["fields"] == ["last_name"] and updates["E005"]["target_id"]
    skipped = {p["code"]: p["reason"] for p in plan["not_syncing"]}
    assert skipped["E032"] == "missing required field: email" and "never created" in skipped["E040"]
    assert [x["code"] for x in plan["conflicts"]] == ["E020"]
    assert plan["held_for_approval"] is None
    assert any(line.startswith("Reading employees from Staffology Payroll") for line in plan["log"])

    run = cli("sync", connection, "--wait", "--json")
    assert run["status"] == "SUCCEEDED"
    r = run["counters"]
    planned = [c[k] for k in ("to_create", "to_update", "to_mark_leaver", "in_step", "not_syncing", "conflicts")]
    assert [r[k] for k in ("created", "updated", "marked_leaver", "in_step", "not_syncing", "conflicts")] == planned
    assert r["failed"] == c["failed"] == 0

    text = cli("sync", connection, "--dry-run")  # the table view says the same with nothing left to do
    assert "nothing was written" in text and "Creates" not in text


def test_cli_runs_log_employees_and_conflict_resolution(stack, systems, cli):
    connection = stack.state()["connections"][CONNECTOR]
    employees, users, departments = sample_employer()
    _load(systems, employees, users, departments)
    run = cli("sync", connection, "--wait", "--json")

    assert run["run_id"] in [r["run_id"] for r in cli("runs", connection, "--json")["runs"]]
    lines = [line["message"] for line in cli("log", run["run_id"], "--json")["lines"]]
    assert lines[0] == "Job Started" and lines[-1].startswith("Job Finished")
    followed = cli("log", run["run_id"], "--follow", "--json", "--connection", connection, raw=True)
    assert [json.loads(x)["message"] for x in followed.splitlines()] == lines  # JSON lines, until the run ended
    assert "Job Finished" in cli("log", run["run_id"])

    not_syncing = cli("employees", connection, "--status", "NOT_SYNCING", "--json")["employees"]
    assert {"E032", "E040", "E020"} <= {e["code"] for e in not_syncing}
    assert all(e["status"] == "NOT_SYNCING" and e["reason"] for e in not_syncing)
    found = cli("employees", connection, "--search", "e00", "--json")["employees"]
    assert found and all("E00" in e["code"] for e in found)
    one = next(e for e in found if e["code"] == "E005")
    detail = cli("employee", connection, one["employee_id"], "--json")
    assert detail["employee"]["target_id"] and detail["history"][0]["outcome"] == "SUCCESSFUL"
    assert "E005" in cli("employee", connection, one["employee_id"])
    cli("employee", connection, "no-such-employee", expect=1)

    conflicts = cli("conflicts", connection, "--json")["conflicts"]
    (conflict,) = [c for c in conflicts if c["code"] == "E020"]
    still = cli("conflicts", connection, "--resolve", conflict["conflict_id"], "--wait", expect=1)
    assert "still there" in still
    # Someone removes the second ExpenseIn user holding E020; the re-check finds the conflict gone.
    _load(systems, employees, [u for u in users if u.get("id") != "u-200002"], departments)
    resolved = cli("conflicts", connection, "--resolve", conflict["conflict_id"], "--wait", "--json")
    assert resolved["resolved"] is True and resolved["employee_ids"] == conflict["employee_ids"]
    assert conflict["conflict_id"] not in [
        c["conflict_id"] for c in cli("conflicts", connection, "--json")["conflicts"]
    ]
    (e020,) = [e for e in cli("employees", connection, "--search", "E020", "--json")["employees"]]
    assert e020["status"] == "SUCCESSFUL"


def test_cli_connections_put_with_credentials_from_stdin_approve_and_delete(stack, systems, cli, tmp_path):
    demo = cli("connections", "show", stack.state()["connections"][CONNECTOR], "--json")
    secret = stack.client("secretsmanager").get_secret_value(SecretId=demo["secret_name"])["SecretString"]
    _load(systems, *sample_employer())
    conn = tmp_path / "conn.yaml"
    document = {
        "id": "cli-held",
        "connector": CONNECTOR,
        "source": demo["source"],
        "target": demo["target"],
        # Any leaver mark trips the safeguard, so the first run waits for approval.
        "options": {"leaver_threshold_percent": 0, "leaver_threshold_min": 0},
    }
    conn.write_text(yaml.safe_dump(document), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**document, "source": {"base_url": "not a url"}}), encoding="utf-8")
    assert "source.base_url" in cli("connections", "put", "--file", str(bad), expect=2)
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text(yaml.safe_dump({**document, "credentials": json.loads(secret)}), encoding="utf-8")
    assert "field credentials" in cli("connections", "put", "--file", str(leaky), expect=2)
    assert "source.api_key" in cli(
        "connections",
        "put",
        "--file",
        str(conn),
        "--credentials",
        "-",
        stdin='{"source": {}, "target": {"api_key": "k"}}',
        expect=2,
    )

    saved = cli("connections", "put", "--file", str(conn), "--credentials", "-", "--json", stdin=secret)
    assert saved["id"] == "cli-held" and saved["secret_name"] == "hrsync/cli-held" and saved["started_run"]
    stored = stack.client("secretsmanager").get_secret_value(SecretId="hrsync/cli-held")["SecretString"]
    assert json.loads(stored) == json.loads(secret)
    assert "cli-held" in [c["id"] for c in cli("connections", "list", "--json")["connections"]]
    assert "cli-held" in cli("connections", "list")

    held = _until(lambda: cli("runs", "cli-held", "--json")["runs"][0], lambda r: r["status"] == "APPROVAL_REQUIRED")
    assert held["run_id"] == saved["started_run"] and held["counters"]["to_mark_leaver"] == 2
    cli("connections", "delete", "cli-held", expect=1)  # a held run keeps the lock
    approved = cli("approve", held["run_id"], "--json")
    assert approved == {"run_id": held["run_id"], "status": "QUEUED"}
    done = _until(
        lambda: cli("runs", "cli-held", "--json")["runs"][0],
        lambda r: r["status"] != "QUEUED" and r["status"] != "RUNNING",
    )
    assert done["status"] == "SUCCEEDED" and done["approved_by"] and done["counters"]["marked_leaver"] == 2
    cli("approve", held["run_id"], expect=1)  # not waiting any more

    deleted = cli("connections", "delete", "cli-held", "--json")
    assert deleted["id"] == "cli-held"
    assert "not found" in cli("connections", "show", "cli-held", expect=1)
    assert "cli-held" not in [c["id"] for c in cli("connections", "list", "--json")["connections"]]


def test_cli_failures_retry_dismiss_and_dead_letter_queues(stack, systems, cli):
    connection = stack.state()["connections"][CONNECTOR]
    employees = [staffology_employee(f"C{i:03}", "Cal", "Cole", f"cal{i}@acme.example") for i in range(2)]
    _load(systems, employees, [], [])
    faults = {"error_rate": 1.0, "error_status": 500, "error_methods": ["POST", "PATCH"]}
    httpx.put(f"{systems['expensein']}/_sandbox/faults", json=faults).raise_for_status()
    run = cli("sync", connection, "--wait", "--json", expect=1)  # exit 1: the run did not succeed
    assert run["status"] == "COMPLETED_WITH_FAILURES" and run["counters"]["failed"] == 2
    assert stack.wait_idle(60)
    httpx.put(f"{systems['expensein']}/_sandbox/faults", json={}).raise_for_status()

    ids = {e["id"] for e in employees}
    failures = [f for f in cli("failures", "list", "--json")["failures"] if f["employee_id"] in ids]
    assert len(failures) == 2 and {f["failure_class"] for f in failures} == {"dead_lettered"}
    first, second = failures
    assert cli("failures", "show", first["failure_id"], "--json")["employee_id"] == first["employee_id"]

    retried = cli("failures", "retry", first["failure_id"], "--wait", "--json")
    assert retried["run"]["status"] == "SUCCEEDED" and retried["run"]["counters"]["created"] == 1
    assert cli("failures", "show", first["failure_id"], "--json")["status"] == "RETRIED"
    dismissed = cli("failures", "dismiss", second["failure_id"], "--note", "created by hand", "--json")
    assert dismissed["status"] == "DISMISSED" and dismissed["note"] == "created by hand"
    assert second["failure_id"] in [
        f["failure_id"] for f in cli("failures", "list", "--status", "DISMISSED", "--json")["failures"]
    ]
    assert "not open" in cli("failures", "retry", second["failure_id"], expect=1)

    # A dead letter the review function could not record waits on ReviewDLQ: peek leaves it there.
    sqs, queues = stack.client("sqs"), stack.state()["queues"]
    stale = {"connection_id": connection, "run_id": "gone", "employee_id": "x1", "action": "create", "fields": []}
    sqs.send_message(QueueUrl=queues["ReviewDLQ"], MessageBody=json.dumps({"items": [stale]}))
    for _ in range(2):
        peeked = cli("dlq", "peek", "--queue", "review", "--json")
        assert peeked["depth"] == 1 and [i["employee_id"] for i in peeked["messages"][0]["items"]] == ["x1"]
    assert "x1" in cli("dlq", "peek", "--queue", "review")
    moved = cli("dlq", "redrive", "--queue", "review", "--json")
    assert moved == {"queue": "ReviewDLQ", "to": "SyncDLQ", "method": "copy", "moved": 1, "task_handle": None}
    assert stack.wait_idle(60)  # the review function took it from SyncDLQ (a stale item: nothing to record)
    assert cli("dlq", "peek", "--queue", "review", "--json")["depth"] == 0
    assert cli("dlq", "peek", "--json")["depth"] == 0


def test_cli_without_local_stack_state_says_how_to_start_it(tmp_path):
    env = {**os.environ, "HRSYNC_LOCAL_STATE": str(tmp_path / "missing.json")}
    done = subprocess.run([HRSYNC, "--local", "runs", "x"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2 and "make up" in done.stderr


def _until(read, ok, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last: {value}"
        time.sleep(0.5)
