"""hrsync's records in the one DynamoDB table: connections, locks, runs, logs, employees, conflicts, failures.

Items with `expires_at` (runs, log lines, history, failures) are kept a month. DynamoDB deletes expired
items lazily, so every read here ignores an item whose `expires_at` has passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hrsync import clock
from hrsync.errors import NotFoundError, RunInProgressError, StateConflictError
from hrsync.models.connection import Connection
from hrsync.models.records import (
    Conflict,
    EmployeeState,
    Failure,
    HistoryEntry,
    LogLine,
    PayrollChange,
    PayrollChangeState,
    Run,
    RunCounters,
    RunStatus,
    SyncStatus,
)
from hrsync.store import dynamo, keys
from hrsync.store.dynamo import Item, StoreError, is_conditional_failure, values

TRANSACT_LIMIT = 100  # actions in one TransactWriteItems
_NOT_EXPIRED = "(attribute_not_exists(expires_at) OR expires_at > :now)"


def _live(item: Item | None) -> Item | None:
    if item is None:
        return None
    expires = item.get("expires_at")
    return None if expires is not None and expires <= clock.epoch() else item


_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "expires_at")


def _fields(item: Item) -> Item:
    """The item without its table keys: what the domain model holds."""
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


def _run_from(item: Item) -> Run:
    return Run.model_validate(_fields(item))


@dataclass(frozen=True)
class Finish:
    """One work item's end, as finish_items writes it."""

    state: EmployeeState
    entry: HistoryEntry
    counter: str
    failure: Failure | None = None
    target_calls: int = 0


@dataclass(frozen=True)
class WorkerConnection:
    """A connection as a worker sees it for one batch: its config, its state item (lock, quarantine) and the
    target's department codes the run stored (None when they could not be read)."""

    connection: Connection
    state: Item
    departments: set[str] | None


class Store:
    """Domain reads and writes over the table. One instance per table name."""

    def __init__(self, table: str, *, keep_days: int = 30) -> None:
        self.table = table
        self.keep_days = keep_days

    # -- connections -------------------------------------------------------------------------------
    def put_connection(self, connection: Connection) -> None:
        item = connection.model_dump(mode="json")
        item.update(
            pk=keys.connection(connection.id),
            sk=keys.CONFIG,
            gsi1pk=keys.by_connector(connection.connector),
            gsi1sk=keys.connection(connection.id),
        )
        dynamo.put(self.table, item)

    def get_connection(self, connection_id: str) -> Connection:
        item = dynamo.get(self.table, keys.connection(connection_id), keys.CONFIG)
        if item is None:
            raise NotFoundError(f"connection {connection_id} not found")
        return Connection.model_validate(_fields(item))

    def connections_of(self, connector: str) -> list[Connection]:
        items = dynamo.query(
            self.table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=values({":pk": keys.by_connector(connector)}),
        )
        return [Connection.model_validate(_fields(item)) for item in items]

    def delete_connection(self, connection_id: str) -> None:
        """Delete a connection's config and state, unless a run holds its lock (RunInProgressError). Links,
        statuses and history stay: saving the connection again carries on with them."""
        pk = keys.connection(connection_id)
        state = self.get_state(connection_id)
        holder = state.get("lock_run_id")
        if holder and int(state.get("lock_expires_at", 0)) > clock.epoch():
            raise RunInProgressError(connection_id, str(holder))
        try:
            dynamo.transact(
                [
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": values({"pk": pk, "sk": keys.STATE}),
                            "ConditionExpression": "attribute_not_exists(lock_run_id) OR lock_expires_at <= :now",
                            "ExpressionAttributeValues": values({":now": clock.epoch()}),
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": values({"pk": pk, "sk": keys.CONFIG})}},
                ]
            )
        except ClientError as exc:
            if "ConditionalCheckFailed" in dynamo.cancellation_codes(exc):
                raise RunInProgressError(connection_id, str(self.get_state(connection_id).get("lock_run_id"))) from exc
            raise StoreError(f"DynamoDB refused the delete: {exc.response['Error']['Code']}") from exc

    def get_state(self, connection_id: str) -> Item:
        return dynamo.get(self.table, keys.connection(connection_id), keys.STATE) or {}

    # -- the lock ------------------------------------------------------------------------------------
    def take_lock(self, run: Run, lease_seconds: int) -> str | None:
        """Take the connection's lock for a new run and record the run, atomically.

        Returns the id of a run whose lease had expired (to be marked TIMED_OUT), or None.
        Raises RunInProgressError naming the running run while a live lease is held.
        """
        pk = keys.connection(run.connection_id)
        now = clock.epoch()
        state = self.get_state(run.connection_id)
        holder = state.get("lock_run_id")
        if holder and int(state.get("lock_expires_at", 0)) > now:
            raise RunInProgressError(run.connection_id, holder)
        condition = "attribute_not_exists(lock_run_id)" if not holder else "lock_run_id = :holder"
        expression_values: dict[str, Any] = {":run": run.run_id, ":exp": now + lease_seconds}
        if holder:
            expression_values[":holder"] = holder
        run_item = self._run_item(run)
        try:
            dynamo.transact(
                [
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": values({"pk": pk, "sk": keys.STATE}),
                            "UpdateExpression": "SET lock_run_id = :run, lock_expires_at = :exp, last_run_id = :run",
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": values(expression_values),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": dynamo.serialize(run_item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                current = self.get_state(run.connection_id).get("lock_run_id") or "unknown"
                raise RunInProgressError(run.connection_id, current) from exc
            raise
        return holder or None

    def extend_lease(self, connection_id: str, run_id: str, lease_seconds: int) -> bool:
        try:
            dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.STATE}),
                UpdateExpression="SET lock_expires_at = :exp",
                ConditionExpression="lock_run_id = :run",
                ExpressionAttributeValues=values({":exp": clock.epoch() + lease_seconds, ":run": run_id}),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def release_lock(self, connection_id: str, run_id: str, *, succeeded: bool) -> None:
        expression = "REMOVE lock_run_id, lock_expires_at"
        expression_values: dict[str, Any] = {":run": run_id}
        if succeeded:
            expression = "SET last_success_at = :t, last_success_run_id = :run " + expression
            expression_values[":t"] = clock.iso()
        try:
            dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.STATE}),
                UpdateExpression=expression,
                ConditionExpression="lock_run_id = :run",
                ExpressionAttributeValues=values(expression_values),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise  # someone else holds it now (our lease expired): theirs to release

    # -- runs ------------------------------------------------------------------------------------------
    def _run_item(self, run: Run) -> Item:
        item = run.model_dump(mode="json")
        item.update(
            pk=keys.connection(run.connection_id),
            sk=keys.run(run.run_id),
            expires_at=clock.expires_at(self.keep_days),
        )
        return item

    def get_run(self, connection_id: str, run_id: str) -> Run:
        item = _live(dynamo.get(self.table, keys.connection(connection_id), keys.run(run_id)))
        if item is None:
            raise NotFoundError(f"run {run_id} of connection {connection_id} not found")
        return _run_from(item)

    def list_runs(self, connection_id: str, limit: int = 50) -> list[Run]:
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
            FilterExpression=_NOT_EXPIRED,
            ExpressionAttributeValues=values(
                {":pk": keys.connection(connection_id), ":run": keys.RUN_PREFIX, ":now": clock.epoch()}
            ),
            ScanIndexForward=False,
        )
        runs = []
        for item in items:
            runs.append(_run_from(item))
            if len(runs) >= limit:
                break
        return runs

    def _update_run(
        self,
        connection_id: str,
        run_id: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        vals: dict[str, Any],
    ) -> Item | None:
        try:
            response = dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.run(run_id)}),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values(vals),
                ReturnValues="ALL_NEW",
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return dynamo.deserialize(response["Attributes"])

    def mark_run_started(self, connection_id: str, run_id: str) -> Run | None:
        """QUEUED -> RUNNING, once. A second invocation of the same run gets None and must do nothing."""
        item = self._update_run(
            connection_id,
            run_id,
            "SET #s = :running, started_at = :t",
            "#s = :queued",
            {"#s": "status"},
            {":running": RunStatus.RUNNING.value, ":queued": RunStatus.QUEUED.value, ":t": clock.iso()},
        )
        return _run_from(item) if item else None

    def hold_run(self, connection_id: str, run_id: str, reason: str, counters: RunCounters, hold_seconds: int) -> None:
        """RUNNING -> APPROVAL_REQUIRED; the lock is kept (with a lease as long as the wait) so nothing else runs."""
        self._update_run(
            connection_id,
            run_id,
            "SET #s = :held, reason = :reason, counters = :c",
            "#s = :running",
            {"#s": "status"},
            {
                ":held": RunStatus.APPROVAL_REQUIRED.value,
                ":running": RunStatus.RUNNING.value,
                ":reason": reason,
                ":c": counters.model_dump(),
            },
        )
        self.extend_lease(connection_id, run_id, hold_seconds)

    def approve_run(self, connection_id: str, run_id: str, approved_by: str, lease_seconds: int) -> Run:
        """APPROVAL_REQUIRED -> QUEUED with who approved, while the run still holds the lock."""
        if not self.extend_lease(connection_id, run_id, lease_seconds):
            raise StateConflictError(f"run {run_id} no longer holds the connection's lock")
        item = self._update_run(
            connection_id,
            run_id,
            "SET #s = :queued, approved_by = :who",
            "#s = :held",
            {"#s": "status"},
            {":queued": RunStatus.QUEUED.value, ":held": RunStatus.APPROVAL_REQUIRED.value, ":who": approved_by},
        )
        if item is None:
            raise StateConflictError(f"run {run_id} is not waiting for approval")
        return _run_from(item)

    def record_plan(self, connection_id: str, run_id: str, counters: RunCounters) -> None:
        """Store the planned counters (pending = work items about to be queued) before any is sent."""
        item = self._update_run(
            connection_id,
            run_id,
            "SET counters = :c",
            "#s = :running",
            {"#s": "status"},
            {":c": counters.model_dump(), ":running": RunStatus.RUNNING.value},
        )
        if item is None:
            raise StateConflictError(f"run {run_id} is no longer running")

    def record_read(self, connection_id: str, run_id: str, started_at: str, full: bool) -> None:
        """Note when the run's read of the source began and whether it read everyone."""
        dynamo.client().update_item(
            TableName=self.table,
            Key=values({"pk": keys.connection(connection_id), "sk": keys.run(run_id)}),
            UpdateExpression="SET read_started_at = :t, full_read = :full",
            ExpressionAttributeValues=values({":t": started_at, ":full": full}),
        )

    def advance_change_feed(self, connection_id: str, read_started_at: str, *, full: bool) -> None:
        """A run that read completely has ended: the next run's change feed starts where its read began
        (never moved back), and a full read is the new last full reconciliation."""
        expression = "SET feed_read_to = :t" + (", full_read_at = :t" if full else "")
        try:
            dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.STATE}),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(feed_read_to) OR feed_read_to < :t",
                ExpressionAttributeValues=values({":t": read_started_at}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    # -- payroll changes (self-service edits uploaded to payroll) --------------------------------------
    def put_payroll_change(self, change: PayrollChange) -> None:
        """Write a change; one no longer waiting for payroll expires with the history."""
        item = change.model_dump(mode="json")
        item.update(
            pk=keys.connection(change.connection_id), sk=keys.payroll_change(change.employee_id, change.change_id)
        )
        if change.state is not PayrollChangeState.PENDING_APPROVAL and not change.keep:
            item["expires_at"] = clock.expires_at(self.keep_days)
        dynamo.put(self.table, item)

    def payroll_changes(self, connection_id: str, employee_id: str | None = None) -> list[PayrollChange]:
        """An employee's (or the whole connection's) payroll changes, oldest first."""
        prefix = keys.payroll_changes_of(employee_id) if employee_id else keys.PAYROLL_CHANGE_PREFIX
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            FilterExpression=_NOT_EXPIRED,
            ExpressionAttributeValues=values(
                {":pk": keys.connection(connection_id), ":p": prefix, ":now": clock.epoch()}
            ),
        )
        return sorted(
            (PayrollChange.model_validate(_fields(item)) for item in items), key=lambda c: (c.submitted_at, c.change_id)
        )

    def claim_progress(self, connection_id: str, run_id: str, milestone: int) -> bool:
        """True for the one caller that first reports this progress milestone (so each is logged once)."""
        item = self._update_run(
            connection_id,
            run_id,
            "SET progress = :m",
            "attribute_not_exists(progress) OR progress < :m",
            {},
            {":m": milestone},
        )
        return item is not None

    def end_run(
        self,
        connection_id: str,
        run_id: str,
        status: RunStatus,
        reason: str | None = None,
        *,
        only_if_idle: bool,
    ) -> Run | None:
        """Move a running run to its final status, once. With only_if_idle, only when no work item is pending."""
        condition = "#s IN (:running, :queued, :held)"
        if only_if_idle:
            condition += " AND counters.pending <= :zero"
        vals: dict[str, Any] = {
            ":status": status.value,
            ":t": clock.iso(),
            ":running": RunStatus.RUNNING.value,
            ":queued": RunStatus.QUEUED.value,
            ":held": RunStatus.APPROVAL_REQUIRED.value,
            ":reason": reason,
        }
        if only_if_idle:
            vals[":zero"] = 0
        item = self._update_run(
            connection_id,
            run_id,
            "SET #s = :status, finished_at = :t, reason = :reason",
            condition,
            {"#s": "status"},
            vals,
        )
        return _run_from(item) if item else None

    # -- the run log -------------------------------------------------------------------------------
    def log(self, run_id: str, message: str, level: str = "INFO") -> None:
        seq = clock.sequence()
        dynamo.put(
            self.table,
            {
                "pk": keys.run(run_id),
                "sk": keys.log_line(seq),
                "seq": seq,
                "time": clock.iso(),
                "level": level,
                "message": message,
                "expires_at": clock.expires_at(self.keep_days),
            },
        )

    def read_log(self, run_id: str) -> list[LogLine]:
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :log)",
            FilterExpression=_NOT_EXPIRED,
            ExpressionAttributeValues=values({":pk": keys.run(run_id), ":log": keys.LOG_PREFIX, ":now": clock.epoch()}),
        )
        return [LogLine.model_validate(_fields(item)) for item in items]

    # -- employees -----------------------------------------------------------------------------------
    def employee_item(self, state: EmployeeState) -> Item:
        # Defaults (no warnings, no merge base, not enrolled) are left out: a Put replaces the whole item, the
        # model fills them back in, and every state read of a run costs less (a no-change run reads them all).
        item = state.model_dump(mode="json", exclude_defaults=True)
        item.update(
            pk=keys.connection(state.connection_id),
            sk=keys.employee(state.employee_id),
            gsi1pk=keys.by_status(state.connection_id, state.status.value),
            gsi1sk=keys.employee(state.employee_id),
        )
        if state.target_id:
            item.update(
                gsi2pk=keys.by_target(state.connection_id, state.target_id),
                gsi2sk=keys.employee(state.employee_id),
            )
        return item

    def employee_states(self, connection_id: str) -> dict[str, EmployeeState]:
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :emp)",
            ExpressionAttributeValues=values({":pk": keys.connection(connection_id), ":emp": keys.EMPLOYEE_PREFIX}),
        )
        states = (EmployeeState.model_validate(_fields(item)) for item in items)
        return {state.employee_id: state for state in states}

    def employee_states_of(self, keys_: list[tuple[str, str]]) -> list[EmployeeState]:
        """Several employees' states in BatchGetItem calls (connection id, employee id pairs)."""
        items = dynamo.batch_get(self.table, [(keys.connection(c), keys.employee(e)) for c, e in keys_])
        return [EmployeeState.model_validate(_fields(item)) for item in items]

    def worker_view(
        self, employees: list[tuple[str, str]], connection_ids: list[str]
    ) -> tuple[dict[tuple[str, str], EmployeeState], dict[str, WorkerConnection]]:
        """What a worker needs for a batch of work items, in BatchGetItem calls: the employees' states
        ((connection id, employee id) pairs) and each connection's config, state and departments lookup."""
        wanted = [(keys.connection(c), keys.employee(e)) for c, e in employees]
        for c in connection_ids:
            wanted += [(keys.connection(c), keys.CONFIG), (keys.connection(c), keys.STATE)]
            wanted.append((keys.connection(c), keys.lookup("departments")))
        found = {(item["pk"], item["sk"]): item for item in dynamo.batch_get(self.table, wanted)}
        states = {}
        for c, e in employees:
            item = found.get((keys.connection(c), keys.employee(e)))
            if item is not None:
                states[(c, e)] = EmployeeState.model_validate(_fields(item))
        connections = {}
        for c in connection_ids:
            config = found.get((keys.connection(c), keys.CONFIG))
            if config is None:
                raise NotFoundError(f"connection {c} not found")
            lookup = found.get((keys.connection(c), keys.lookup("departments")))
            connections[c] = WorkerConnection(
                connection=Connection.model_validate(_fields(config)),
                state=found.get((keys.connection(c), keys.STATE)) or {},
                departments=set(lookup.get("entries") or []) if lookup else None,
            )
        return states, connections

    def get_employee_state(self, connection_id: str, employee_id: str) -> EmployeeState | None:
        item = dynamo.get(self.table, keys.connection(connection_id), keys.employee(employee_id))
        return EmployeeState.model_validate(_fields(item)) if item else None

    def employees_by_status(self, connection_id: str, status: SyncStatus) -> list[EmployeeState]:
        items = dynamo.query(
            self.table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=values({":pk": keys.by_status(connection_id, status.value)}),
        )
        return [EmployeeState.model_validate(_fields(item)) for item in items]

    def assign_benefits_level(self, connection_id: str, employee_id: str, level: str | None) -> EmployeeState:
        """Store (or clear, with None) the benefits level HR assigned in hrsync; NotFoundError for an employee no
        run has seen."""
        try:
            response = dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.employee(employee_id)}),
                # without a fingerprint the employee is read again by the next run, not carried over
                UpdateExpression="SET assigned_benefits_level = :level REMOVE fingerprint",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values({":level": level}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFoundError(f"employee {employee_id} not found on connection {connection_id}") from exc
            raise
        return EmployeeState.model_validate(_fields(dynamo.deserialize(response["Attributes"])))

    def put_employee_states(
        self,
        states: Iterable[EmployeeState],
        history: Iterable[tuple[EmployeeState, HistoryEntry]] = (),
        failures: Iterable[Failure] = (),
    ) -> None:
        """Batch-write employee states with their history entries and any failures for review."""
        puts = [self.employee_item(state) for state in states]
        puts += [self.history_item(state, entry) for state, entry in history]
        puts += [self.failure_item(failure) for failure in failures]
        dynamo.batch_write(self.table, puts)

    def history_item(self, state: EmployeeState, entry: HistoryEntry) -> Item:
        item = entry.model_dump(mode="json")
        item.update(
            pk=keys.history(state.connection_id, state.employee_id),
            sk=keys.history_entry(entry.time, entry.run_id),
            expires_at=clock.expires_at(self.keep_days),
        )
        return item

    def employee_history(self, connection_id: str, employee_id: str) -> list[HistoryEntry]:
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
            FilterExpression=_NOT_EXPIRED,
            ExpressionAttributeValues=values(
                {
                    ":pk": keys.history(connection_id, employee_id),
                    ":h": keys.HISTORY_PREFIX,
                    ":now": clock.epoch(),
                }
            ),
            ScanIndexForward=False,
        )
        return [HistoryEntry.model_validate(_fields(item)) for item in items]

    def count_target_call(self, connection_id: str, run_id: str, *, failed: bool) -> tuple[int, int]:
        """Count one attempt at the target for the run; returns (calls, failures) so far."""
        response = dynamo.client().update_item(
            TableName=self.table,
            Key=values({"pk": keys.connection(connection_id), "sk": keys.run(run_id)}),
            UpdateExpression="ADD counters.target_calls :one, counters.target_failures :failed",
            ExpressionAttributeValues=values({":one": 1, ":failed": 1 if failed else 0}),
            ReturnValues="UPDATED_NEW",
        )
        counters = dynamo.deserialize(response["Attributes"]).get("counters", {})
        return int(counters.get("target_calls", 0)), int(counters.get("target_failures", 0))

    def quarantine(self, connection_id: str, run_id: str, reason: str) -> bool:
        """Mark the connection QUARANTINED by this run, once; False when this run already did."""
        try:
            dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.STATE}),
                UpdateExpression="SET quarantine = :q",
                ConditionExpression="attribute_not_exists(quarantine) OR quarantine.run_id <> :run",
                ExpressionAttributeValues=values(
                    {":q": {"run_id": run_id, "reason": reason, "since": clock.iso()}, ":run": run_id}
                ),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def clear_quarantine(self, connection_id: str) -> None:
        dynamo.client().update_item(
            TableName=self.table,
            Key=values({"pk": keys.connection(connection_id), "sk": keys.STATE}),
            UpdateExpression="REMOVE quarantine",
        )

    def note_attempt_failed(
        self, connection_id: str, employee_id: str, run_id: str, reason: str, *, action: str | None = None
    ) -> None:
        """Remember why the last attempt at a pending item failed, for the review that may follow, and add the
        attempt to the employee's history (a row shows every attempt with its outcome and the system's reason)."""
        try:
            dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.connection(connection_id), "sk": keys.employee(employee_id)}),
                UpdateExpression="SET last_error = :e ADD attempts :one",
                ConditionExpression="run_id = :run AND attribute_exists(pending_action)",
                ExpressionAttributeValues=values({":e": reason, ":one": 1, ":run": run_id}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            return  # no longer pending for this run: a stale attempt
        entry = HistoryEntry(
            time=clock.iso(),
            run_id=run_id,
            action=action,
            outcome=SyncStatus.IN_PROGRESS,
            reason=f"attempt failed, to be tried again: {reason}",
        )
        item = entry.model_dump(mode="json")
        item.update(
            pk=keys.history(connection_id, employee_id),
            sk=keys.history_entry(entry.time, run_id),
            expires_at=clock.expires_at(self.keep_days),
        )
        dynamo.put(self.table, item)

    def claim_work(self, claim_id: str, until: int) -> bool:
        """Claim a message's work for one attempt, until epoch second `until` (when the attempting invocation
        must have ended): a conditional put, so two deliveries of the same message never both call the
        target. False while another attempt holds it."""
        now = clock.epoch()
        try:
            dynamo.client().put_item(
                TableName=self.table,
                Item=dynamo.serialize(
                    {"pk": keys.CLAIM_PK, "sk": keys.claim(claim_id), "until": until, "expires_at": until + 86400}
                ),
                ConditionExpression="attribute_not_exists(pk) OR #until < :now",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues=values({":now": now}),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def release_work(self, claim_id: str) -> None:
        """Let the next delivery of a message claim it at once (its attempt failed and was recorded)."""
        dynamo.client().delete_item(TableName=self.table, Key=values({"pk": keys.CLAIM_PK, "sk": keys.claim(claim_id)}))

    def finish_items(self, finishes: list[Finish]) -> list[bool]:
        """Record many work items' ends, each exactly once, in transactions of up to 100 actions: each
        employee's state (conditional on it still being pending for its run) and history entry, a failure
        for review where it failed, and one update of each run's counters with the sums. Returns, per item,
        False where it had already been finished (a redelivery) and so was left alone."""
        done = [False] * len(finishes)
        chunks: list[list[int]] = [[]]
        size, runs = 0, set[tuple[str, str | None]]()
        for index, finish in enumerate(finishes):
            run = (finish.state.connection_id, finish.state.run_id)
            needed = 2 + (finish.failure is not None) + (run not in runs)  # + that run's counters update
            if size + needed > TRANSACT_LIMIT:
                chunks.append([])
                size, runs = 0, set()
                needed = 3 + (finish.failure is not None)
            chunks[-1].append(index)
            runs.add(run)
            size += needed
        for chunk in chunks:
            while chunk:
                actions, owners = self._finish_actions([finishes[i] for i in chunk])
                refused = self._transact_refused(actions)
                if refused is None:
                    for i in chunk:
                        done[i] = True
                    break
                if not refused:
                    if len(chunk) == 1:
                        break
                    chunks += [[i] for i in chunk]  # which one was refused is unknown: one at a time
                    break
                refused_items = {chunk[owner] for a in refused if (owner := owners[a]) is not None}
                chunk = [i for i in chunk if i not in refused_items]
        return done

    def _finish_actions(self, finishes: list[Finish]) -> tuple[list[dict[str, Any]], list[int | None]]:
        """The transaction for `finishes`, and for each action the index of the finish it belongs to (None
        for a run's counters)."""
        actions: list[dict[str, Any]] = []
        owners: list[int | None] = []
        sums: dict[tuple[str, str], Counter[str]] = {}
        for index, finish in enumerate(finishes):
            state = finish.state
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": dynamo.serialize(self.employee_item(state)),
                        "ConditionExpression": "run_id = :run AND attribute_exists(pending_action)",
                        "ExpressionAttributeValues": values({":run": state.run_id}),
                    }
                }
            )
            actions.append(
                {"Put": {"TableName": self.table, "Item": dynamo.serialize(self.history_item(state, finish.entry))}}
            )
            owners += [index, index]
            if finish.failure is not None:
                actions.append(
                    {"Put": {"TableName": self.table, "Item": dynamo.serialize(self.failure_item(finish.failure))}}
                )
                owners.append(index)
            counts = sums.setdefault((state.connection_id, state.run_id or ""), Counter())
            counts["pending"] -= 1
            counts[finish.counter] += 1
            counts["target_calls"] += finish.target_calls
        for (connection_id, run_id), counts in sums.items():
            names = sorted(name for name, value in counts.items() if value)
            actions.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": values({"pk": keys.connection(connection_id), "sk": keys.run(run_id)}),
                        "UpdateExpression": "ADD " + ", ".join(f"counters.#c{n} :v{n}" for n in range(len(names))),
                        "ExpressionAttributeNames": {f"#c{n}": name for n, name in enumerate(names)},
                        "ExpressionAttributeValues": values({f":v{n}": counts[name] for n, name in enumerate(names)}),
                    }
                }
            )
            owners.append(None)
        return actions, owners

    def _transact_refused(self, actions: list[dict[str, Any]]) -> set[int] | None:
        """Run one transaction; None when it went through, else the positions whose condition failed."""
        try:
            dynamo.transact(actions)
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            codes = dynamo.cancellation_codes(exc)
            refused = {i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"}
            if not refused and len(actions) == 1:
                refused = {0}
            return refused  # empty: refused without saying which action; the caller goes one by one
        return None

    # -- conflicts ---------------------------------------------------------------------------------
    def replace_conflicts(self, connection_id: str, conflicts: list[Conflict]) -> None:
        pk = keys.connection(connection_id)
        old = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ProjectionExpression="pk, sk",
            ExpressionAttributeValues=values({":pk": pk, ":c": keys.CONFLICT_PREFIX}),
        )
        new_keys = {keys.conflict(c.conflict_id) for c in conflicts}
        deletes = [(item["pk"], item["sk"]) for item in old if item["sk"] not in new_keys]
        puts = []
        for conflict in conflicts:
            item = conflict.model_dump(mode="json")
            item.update(pk=pk, sk=keys.conflict(conflict.conflict_id))
            puts.append(item)
        dynamo.batch_write(self.table, puts, deletes)

    def put_conflicts(self, connection_id: str, conflicts: list[Conflict]) -> None:
        """Add conflicts to the report (or replace those with the same ids), leaving the others."""
        pk = keys.connection(connection_id)
        puts = []
        for conflict in conflicts:
            item = conflict.model_dump(mode="json")
            item.update(pk=pk, sk=keys.conflict(conflict.conflict_id))
            puts.append(item)
        dynamo.batch_write(self.table, puts)

    def get_conflict(self, connection_id: str, conflict_id: str) -> Conflict:
        item = dynamo.get(self.table, keys.connection(connection_id), keys.conflict(conflict_id))
        if not item:
            raise NotFoundError(f"connection {connection_id} has no conflict {conflict_id}")
        return Conflict.model_validate(_fields(item))

    def delete_conflict(self, connection_id: str, conflict_id: str) -> None:
        dynamo.batch_write(self.table, [], [(keys.connection(connection_id), keys.conflict(conflict_id))])

    def list_conflicts(self, connection_id: str) -> list[Conflict]:
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues=values({":pk": keys.connection(connection_id), ":c": keys.CONFLICT_PREFIX}),
        )
        return [Conflict.model_validate(_fields(item)) for item in items]

    # -- lookups -----------------------------------------------------------------------------------
    def put_lookup(self, connection_id: str, name: str, entries: list[str]) -> None:
        dynamo.put(
            self.table,
            {
                "pk": keys.connection(connection_id),
                "sk": keys.lookup(name),
                "entries": entries,
                "refreshed_at": clock.iso(),
            },
        )

    def clear_lookups(self, connection_id: str, prefix: str) -> int:
        """Delete the stored lookups whose names start with `prefix` (a run refreshes them); how many went."""
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :l)",
            ProjectionExpression="pk, sk",
            ExpressionAttributeValues=values({":pk": keys.connection(connection_id), ":l": keys.lookup(prefix)}),
        )
        deletes = [(item["pk"], item["sk"]) for item in items]
        dynamo.batch_write(self.table, [], deletes)
        return len(deletes)

    def get_lookup(self, connection_id: str, name: str) -> list[str] | None:
        item = dynamo.get(self.table, keys.connection(connection_id), keys.lookup(name), consistent=False)
        return list(item.get("entries") or []) if item else None

    # -- failures for review -----------------------------------------------------------------------
    def failure_item(self, failure: Failure) -> Item:
        item = failure.model_dump(mode="json")
        item.update(
            pk=keys.FAILURE_PK,
            sk=keys.failure(failure.failure_id),
            expires_at=clock.expires_at(self.keep_days),
        )
        return item

    def list_failures(self, status: str | None = "OPEN", limit: int = 200) -> list[Failure]:
        vals: dict[str, Any] = {":pk": keys.FAILURE_PK, ":now": clock.epoch()}
        condition = _NOT_EXPIRED
        names: dict[str, str] = {}
        if status:
            condition += " AND #st = :status"
            vals[":status"] = status
            names["#st"] = "status"
        kwargs: dict[str, Any] = {}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        items = dynamo.query(
            self.table,
            KeyConditionExpression="pk = :pk",
            FilterExpression=condition,
            ExpressionAttributeValues=values(vals),
            ScanIndexForward=False,
            **kwargs,
        )
        failures = []
        for item in items:
            failures.append(Failure.model_validate(_fields(item)))
            if len(failures) >= limit:
                break
        return failures

    def get_failure(self, failure_id: str) -> Failure:
        item = _live(dynamo.get(self.table, keys.FAILURE_PK, keys.failure(failure_id)))
        if item is None:
            raise NotFoundError(f"failure {failure_id} not found")
        return Failure.model_validate(_fields(item))

    def close_failure(
        self, failure_id: str, status: str, *, retry_run_id: str | None = None, note: str | None = None
    ) -> Failure:
        """Move an OPEN failure to RETRIED or DISMISSED, once; StateConflictError if it is not open."""
        try:
            response = dynamo.client().update_item(
                TableName=self.table,
                Key=values({"pk": keys.FAILURE_PK, "sk": keys.failure(failure_id)}),
                UpdateExpression="SET #st = :status, retry_run_id = :run, note = :note, closed_at = :t",
                ConditionExpression="#st = :open",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=values(
                    {":status": status, ":run": retry_run_id, ":note": note, ":t": clock.iso(), ":open": "OPEN"}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise StateConflictError(f"failure {failure_id} is not open") from exc
            raise
        return Failure.model_validate(_fields(dynamo.deserialize(response["Attributes"])))
