"""State on moto: the lock and its lease, expired items ignored on read, handlers fed the events in events/."""

from __future__ import annotations

import json

import pytest

from hrsync import clock
from hrsync.context import store
from hrsync.errors import RunInProgressError
from hrsync.models.records import EmployeeState, RunStatus, SyncStatus
from hrsync.runs import start_run
from hrsync.store import dynamo, keys
from tests.integration.conftest import CONNECTION_ID, FakeContext, api, create_connection, load_event

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def connection(aws, systems):
    create_connection(*systems, aws)


def _expire(pk: str, sk: str) -> None:
    dynamo.client().update_item(
        TableName=store().table,
        Key=dynamo.values({"pk": pk, "sk": sk}),
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues=dynamo.values({":past": clock.epoch() - 10}),
    )


def test_lock_second_start_refused_with_running_run_id(connection):
    first = start_run(CONNECTION_ID, "api")
    with pytest.raises(RunInProgressError) as refused:
        start_run(CONNECTION_ID, "schedule")
    assert refused.value.run_id == first.run_id


def test_lock_expired_lease_taken_over_and_old_run_timed_out(connection, monkeypatch):
    crashed = start_run(CONNECTION_ID, "api")
    dynamo.client().update_item(
        TableName=store().table,
        Key=dynamo.values({"pk": keys.connection(CONNECTION_ID), "sk": keys.STATE}),
        UpdateExpression="SET lock_expires_at = :past",
        ExpressionAttributeValues=dynamo.values({":past": clock.epoch() - 1}),
    )
    fresh = start_run(CONNECTION_ID, "api")
    assert fresh.run_id != crashed.run_id
    old = store().get_run(CONNECTION_ID, crashed.run_id)
    assert old.status is RunStatus.TIMED_OUT and "lease expired" in (old.reason or "")
    log = [line.message for line in store().read_log(crashed.run_id)]
    assert log == [f"Job Timed Out: {old.reason}; run {fresh.run_id} took over"]


def test_run_invoked_twice_logs_job_started_once(connection, aws):
    from functions_run_sync import handler

    run = start_run(CONNECTION_ID, "api")
    event = {**load_event("run-sync-run.json"), "connection_id": CONNECTION_ID, "run_id": run.run_id}
    handler(event, FakeContext("StaffologyExpenseInSyncFunction", 900))
    handler(event, FakeContext("StaffologyExpenseInSyncFunction", 900))
    messages = [line.message for line in store().read_log(run.run_id)]
    assert messages.count("Job Started") == 1
    assert store().get_run(CONNECTION_ID, run.run_id).status is RunStatus.SUCCEEDED


def test_scheduled_event_starts_each_connection_once(connection, aws):
    from functions_run_sync import handler

    result = handler(load_event("run-sync-schedule.json"), FakeContext("StaffologyExpenseInSyncFunction", 900))
    [run_id] = result["scheduled"].values()
    assert store().get_run(CONNECTION_ID, run_id).trigger == "schedule"


def test_expired_items_ignored_on_every_read(connection):
    run = start_run(CONNECTION_ID, "api")
    store().log(run.run_id, "Job Started")
    [line] = store().read_log(run.run_id)
    _expire(keys.run(run.run_id), keys.log_line(line.seq))
    _expire(keys.connection(CONNECTION_ID), keys.run(run.run_id))
    assert store().read_log(run.run_id) == []
    assert run.run_id not in [r.run_id for r in store().list_runs(CONNECTION_ID)]
    status, _ = api("api-get-run.json", path=f"/connections/{CONNECTION_ID}/syncs/{run.run_id}")
    assert status == 404


def test_worker_event_for_stale_item_changes_nothing(connection):
    from functions_sync_worker import handler

    event = load_event("sync-worker-sqs.json")
    result = handler(event, FakeContext("SyncWorkerFunction", 60))
    assert result == {"batchItemFailures": []}
    [item] = json.loads(event["Records"][0]["body"])["items"]
    assert store().get_employee_state(CONNECTION_ID, item["employee_id"]) is None


def test_review_event_sets_pending_employee_failed_and_records_failure(connection):
    from functions_failed_sync_review import handler

    run = start_run(CONNECTION_ID, "api")
    store().mark_run_started(CONNECTION_ID, run.run_id)
    event = load_event("failed-sync-review-sqs.json")
    [item] = json.loads(event["Records"][0]["body"])["items"]
    item["run_id"] = run.run_id
    event["Records"][0]["body"] = json.dumps({"items": [item]})
    from hrsync.models.records import RunCounters

    store().record_plan(CONNECTION_ID, run.run_id, RunCounters(to_create=1, pending=1))
    store().put_employee_states(
        [
            EmployeeState(
                connection_id=CONNECTION_ID,
                employee_id=item["employee_id"],
                status=SyncStatus.IN_PROGRESS,
                run_id=run.run_id,
                pending_action="create",
                last_error="ExpenseIn answered 503 after 4 tries",
            )
        ]
    )
    assert handler(event, FakeContext("FailedSyncReviewFunction", 30)) == {"batchItemFailures": []}
    state = store().get_employee_state(CONNECTION_ID, item["employee_id"])
    assert state is not None and state.status is SyncStatus.FAILED
    assert state.reason == "ExpenseIn answered 503 after 4 tries"
    [failure] = store().list_failures()
    assert (failure.employee_id, failure.failure_class, failure.run_id) == (
        item["employee_id"],
        "dead_lettered",
        run.run_id,
    )
    finished = store().get_run(CONNECTION_ID, run.run_id)
    assert finished.status is RunStatus.COMPLETED_WITH_FAILURES and finished.counters.failed == 1
    # the same dead letter again records nothing more
    handler(event, FakeContext("FailedSyncReviewFunction", 30))
    assert len(store().list_failures()) == 1


def test_review_event_with_unreadable_body_recorded_not_lost(connection):
    from functions_failed_sync_review import handler

    event = load_event("failed-sync-review-sqs.json")
    event["Records"][0]["body"] = "{not json"
    assert handler(event, FakeContext("FailedSyncReviewFunction", 30)) == {"batchItemFailures": []}
    [failure] = store().list_failures()
    assert failure.failure_class == "unreadable_message" and failure.message_id == event["Records"][0]["messageId"]


def test_lock_ten_triggers_at_once_start_exactly_one_run(connection):
    from concurrent.futures import ThreadPoolExecutor

    def trigger(_: int) -> str:
        try:
            return start_run(CONNECTION_ID, "api").run_id
        except RunInProgressError as busy:
            return f"409:{busy.run_id}"

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(trigger, range(10)))
    started = [a for a in answers if not a.startswith("409:")]
    assert len(started) == 1
    assert {a.removeprefix("409:") for a in answers} == set(started)


def _pending(run_id: str, count: int, action: str = "create") -> list[EmployeeState]:
    states = [
        EmployeeState(
            connection_id=CONNECTION_ID,
            employee_id=f"e{n:03}",
            status=SyncStatus.IN_PROGRESS,
            run_id=run_id,
            pending_action=action,
        )
        for n in range(count)
    ]
    store().put_employee_states(states)
    return states


def test_finish_items_many_in_chunks_each_once_with_summed_counters(connection):
    from hrsync.models.records import Failure, HistoryEntry, RunCounters
    from hrsync.store.table import Finish

    run = start_run(CONNECTION_ID, "api")
    store().mark_run_started(CONNECTION_ID, run.run_id)
    store().record_plan(CONNECTION_ID, run.run_id, RunCounters(to_create=70, pending=70))
    states = _pending(run.run_id, 70)

    def finish(state: EmployeeState, failed: bool = False) -> Finish:
        outcome = SyncStatus.FAILED if failed else SyncStatus.SUCCESSFUL
        failure = None
        if failed:
            failure = Failure(
                failure_id=clock.new_id(),
                connection_id=CONNECTION_ID,
                employee_id=state.employee_id,
                run_id=run.run_id,
                action="create",
                reason="refused",
                failure_class="rejected",
                attempts=1,
                time=clock.iso(),
            )
        done = state.model_copy(update={"status": outcome, "pending_action": None})
        entry = HistoryEntry(time=clock.iso(), run_id=run.run_id, action="create", outcome=outcome)
        return Finish(done, entry, "failed" if failed else "created", failure, target_calls=1)

    # three finished already (a redelivery): left alone, and not counted twice
    assert store().finish_items([finish(s) for s in states[:3]]) == [True] * 3
    answers = store().finish_items([finish(s, failed=n % 10 == 0) for n, s in enumerate(states)])
    assert answers == [False] * 3 + [True] * 67
    counters = store().get_run(CONNECTION_ID, run.run_id).counters
    assert (counters.pending, counters.created, counters.failed, counters.target_calls) == (0, 64, 6, 70)
    assert {f.employee_id for f in store().list_failures()} == {f"e{n:03}" for n in range(10, 70, 10)}
    assert all(s.pending_action is None for s in store().employee_states(CONNECTION_ID).values())
    assert len(store().employee_history(CONNECTION_ID, "e005")) == 1


def test_claim_work_once_until_released_or_expired(connection, monkeypatch):
    until = clock.epoch() + 30
    assert store().claim_work("run#a", until)
    assert not store().claim_work("run#a", until)  # a second delivery of the message gets nothing
    assert store().claim_work("run#b", until)  # another message is another claim
    store().release_work("run#a")
    assert store().claim_work("run#a", until)  # a failed attempt lets the next one in
    later = until + 1
    monkeypatch.setattr(clock, "epoch", lambda: later)
    assert store().claim_work("run#b", later + 30)  # the claim ran out with the invocation that held it
