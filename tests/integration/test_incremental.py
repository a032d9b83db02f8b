"""Incremental runs on moto with the real simulators: the change feed and fingerprints spare the reads of
employees that did not change, and whatever did change (in the source or in the target) is still seen."""

from __future__ import annotations

import httpx
import pytest

from sandbox.sample import staffology_employee
from tests.integration.conftest import create_connection
from tests.integration.test_pipeline import load, run_view, sync, users, writes

pytestmark = pytest.mark.usefixtures("aws")

# Their department is known to ExpenseIn: an employee with a warning (say, a department ExpenseIn lacks) is
# read every run, since what the warning is about may be fixed on the target's side at any time.
RECORDS = [staffology_employee(f"E{n:03}", "Ann", f"Lee{n}", f"ann{n}@example.com") for n in range(12)]


@pytest.fixture
def connected(aws, systems):
    staffology, expensein = systems
    load(expensein, "departments", [{"reference": "SALES", "name": "Sales"}])
    # No overlap: the sandbox's clock is ours, and the records below are loaded after the connection's first run.
    create_connection(staffology, expensein, aws, options={"change_feed_overlap_seconds": 0})
    return staffology, expensein


def detail_reads(staffology) -> int:
    log = httpx.get(f"{staffology.url}/_sandbox/requests").json()
    return sum(1 for r in log if r["method"] == "GET" and "/employees/" in r["path"] and "search" not in r["path"])


def test_incremental_second_run_reads_no_details_and_sends_nothing(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", RECORDS)
    first = run_view(sync(aws))
    assert first["counters"]["created"] == 12 and first["counters"]["details_read"] == 12

    reads, sent = detail_reads(staffology), len(writes(expensein))
    second = run_view(sync(aws))
    assert second["status"] == "SUCCEEDED"
    assert (second["counters"]["carried"], second["counters"]["in_step"], second["counters"]["details_read"]) == (
        12,
        12,
        0,
    )
    assert detail_reads(staffology) == reads and len(writes(expensein)) == sent


def test_incremental_change_in_source_read_and_sent_alone(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", RECORDS)
    sync(aws)
    changed = [dict(r) for r in RECORDS]
    changed[3] = staffology_employee("E003", "Ann", "Changed", "ann3@example.com")
    load(staffology, "records", changed)
    reads, sent = detail_reads(staffology), len(writes(expensein))
    run = run_view(sync(aws))
    assert run["counters"]["updated"] == 1 and run["counters"]["details_read"] == 1 and run["counters"]["carried"] == 11
    # the planner read it once, the worker once more before sending
    assert detail_reads(staffology) - reads == 2 and len(writes(expensein)) - sent == 1
    assert {u["reference"]: u["lastName"] for u in users(expensein)}["E003"] == "Changed"


def test_incremental_edit_in_target_found_by_its_fingerprint(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", RECORDS)
    sync(aws)
    load(
        expensein, "records", [dict(u, lastName="Edited") if u["reference"] == "E005" else u for u in users(expensein)]
    )
    run = run_view(sync(aws))
    assert run["counters"]["updated"] == 1 and run["counters"]["details_read"] == 1
    assert {u["reference"]: u["lastName"] for u in users(expensein)}["E005"] == "Lee5"


def test_incremental_full_read_on_demand_reads_everyone(aws, connected):
    from tests.integration.conftest import CONNECTION_ID, api, drain, run_invocations

    staffology, _ = connected
    load(staffology, "records", RECORDS)
    sync(aws)
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={"full": True})
    assert status == 202, body
    run_invocations(aws)
    drain(aws)
    run = run_view(body["run_id"])
    assert run["counters"]["details_read"] == 12 and run["counters"]["carried"] == 0 and run["full_read"] is True
