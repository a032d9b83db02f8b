"""A run's read step for a payroll read by its change feed (MicrOpay -> Access ESS), in the product's order.

Clearing cache; each lookup imported into the table (an unknown code is then that employee's reason); pay
frequency; employees changed since the last successful run (less an overlap) plus deletions, or every employee
on a full reconciliation; every member. An incremental run also re-reads the employees it could not sync last
time and the holders of duplicated member codes, so a fixed problem resolves by itself on the next run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from hrsync import clock
from hrsync.connectors.base import RunRead
from hrsync.errors import (
    AuthenticationError,
    ConfigurationError,
    ExternalSystemError,
    HrsyncError,
    NotFoundError,
    RecordNotFoundError,
)
from hrsync.models.employee import Employee, Listing, RecordRejection
from hrsync.models.records import EmployeeState, Run, RunStatus, SyncStatus
from hrsync.store.table import Store
from hrsync.sync.activation import duplicated_codes, unmatched_members
from hrsync.sync.feed import ReadMode, choose_read_mode
from hrsync.sync.lookups import reject_unknown_codes
from hrsync.systems.access_ess import AccessEss
from hrsync.systems.micropay import LOOKUP_FIELDS, LOOKUP_TYPES, PAY_FREQUENCY, MicrOpay, deleted_employee

if TYPE_CHECKING:
    from hrsync.context import OpenConnection

LOOKUP_PREFIX = "micropay:"
RECHECK_CONCURRENCY = 16
_LOOKUP_LABELS = {
    "Country": "country",
    "State": "state",
    "Gender": "gender",
    "SuperFund": "super fund",
    "CostAccount": "cost accounts",
    "JobClassification": "job classification",
    "Location": "location",
    "PayPoint": "pay point",
}
_FULL_OUTCOMES = (RunStatus.SUCCEEDED, RunStatus.COMPLETED_WITH_FAILURES)


def systems_of(opened: OpenConnection) -> tuple[MicrOpay, AccessEss]:
    if not isinstance(opened.source, MicrOpay) or not isinstance(opened.target, AccessEss):
        raise ConfigurationError(f"connection {opened.connection.id}: the change feed needs MicrOpay and Access ESS")
    return opened.source, opened.target


def _started(run: Run) -> datetime | None:
    moment = run.started_at or run.queued_at
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None


def read_window(db: Store, run: Run, overlap_minutes: int, full_every_days: int) -> ReadMode:
    """This run's read mode, from the last successful run and the last whole full reconciliation."""
    state = db.get_state(run.connection_id)
    last_success: datetime | None = None
    if state.get("last_success_run_id"):
        try:
            last_success = _started(db.get_run(run.connection_id, state["last_success_run_id"]))
        except NotFoundError:
            last_success = None  # expired: read everything
    last_full = next(
        (
            _started(r)
            for r in db.list_runs(run.connection_id)
            if r.mode == "full" and r.status in _FULL_OUTCOMES and not r.counters.incomplete_reads
        ),
        None,
    )
    return choose_read_mode(
        now=clock.now(),
        full_requested=run.full,
        last_success_started=last_success,
        last_full_started=last_full,
        overlap=timedelta(minutes=overlap_minutes),
        full_every=timedelta(days=full_every_days),
    )


def _import_lookups(payroll: MicrOpay, db: Store, run: Run) -> dict[str, set[str] | None]:
    lookups: dict[str, set[str] | None] = {}
    for lookup_type in (*LOOKUP_TYPES, PAY_FREQUENCY):
        label = _LOOKUP_LABELS.get(lookup_type)
        db.log(run.run_id, f"Importing from lookups: {label}" if label else "Importing pay frequency")
        try:
            codes = sorted({entry.code for entry in payroll.lookup(lookup_type)})
        except AuthenticationError:
            raise
        except HrsyncError as exc:
            lookups[lookup_type] = None
            db.log(run.run_id, f"Lookup {lookup_type} could not be read ({exc}); its codes are not checked", "WARNING")
            continue
        lookups[lookup_type] = set(codes)
        db.put_lookup(run.connection_id, f"{LOOKUP_PREFIX}{lookup_type}", codes)
    return lookups


def _reread(payroll: MicrOpay, ids: list[str]) -> tuple[list[Employee], list[RecordRejection]]:
    def fetch(employee_id: str) -> Employee | RecordRejection | None:
        try:
            return payroll.get_employee(employee_id)
        except AuthenticationError:
            raise
        except RecordNotFoundError:
            return None  # no longer in payroll: its state stays as it was
        except ExternalSystemError as exc:
            return RecordRejection(
                record_id=employee_id,
                position=f"employee {employee_id}",
                field="(read)",
                reason=str(exc),
                retryable=True,
            )

    records: list[Employee] = []
    rejections: list[RecordRejection] = []
    with ThreadPoolExecutor(max_workers=RECHECK_CONCURRENCY) as pool:
        for result in pool.map(fetch, ids):
            if isinstance(result, Employee):
                records.append(result)
            elif isinstance(result, RecordRejection):
                rejections.append(result)
    return records, rejections


def read_by_change_feed(opened: OpenConnection, db: Store, run: Run, states: dict[str, EmployeeState]) -> RunRead:
    """The read step of micropay-ess (see the module's docstring)."""
    payroll, ess = systems_of(opened)
    options, run_id = opened.connection.options, run.run_id
    window = read_window(db, run, options.change_overlap_minutes, options.full_reconciliation_days)
    db.set_run_mode(run.connection_id, run_id, "full" if window.full else window.describe())

    db.log(run_id, "Clearing cache")
    db.clear_lookups(run.connection_id, LOOKUP_PREFIX)
    lookups = _import_lookups(payroll, db, run)

    if window.full:
        db.log(run_id, f"Importing employees from MicrOpay: every employee ({window.why})")
        source = payroll.list_employees()
    else:
        assert window.since is not None  # an incremental window always has a start
        db.log(
            run_id,
            f"Importing employees from MicrOpay: {window.describe()} "
            f"(the last successful run's start less {options.change_overlap_minutes} minutes)",
        )
        source = payroll.list_changed(window.since)
    if not source.complete and not source.records and not source.rejections:
        raise ExternalSystemError(f"MicrOpay could not be read: {source.incomplete_reason}")
    changed = len(source.records) + len(source.rejections)

    read_ids = {e.id for e in source.records} | {r.record_id for r in source.rejections if r.record_id}
    deleted_since = window.since.date() if window.since and not window.full else date(2000, 1, 1)
    deleted_count = 0
    try:
        deleted, bad = payroll.deleted_since(deleted_since)
        source.rejections.extend(bad)
        for entry in deleted:
            if entry.emp_code not in read_ids:
                source.records.append(deleted_employee(entry.emp_code, entry.deleted_date))
                read_ids.add(entry.emp_code)
                deleted_count += 1
    except AuthenticationError:
        raise
    except HrsyncError as exc:
        source.mark_incomplete(f"deleted employees: {exc}")

    db.log(run_id, "Reading members from Access ESS")
    target = ess.list_records()

    rechecked = 0
    if not window.full or run.force:
        again = {eid for eid, s in states.items() if s.status in (SyncStatus.NOT_SYNCING, SyncStatus.FAILED)}
        if not window.full:
            again |= duplicated_codes(target)
        if run.force and run.employee_ids:
            again |= set(run.employee_ids)
        if run.employee_ids:
            again &= set(run.employee_ids)
        records, rejections = _reread(payroll, sorted(again - read_ids))
        source.records.extend(records)
        source.rejections.extend(rejections)
        rechecked = len(records) + len(rejections)

    kept, unknown = reject_unknown_codes(source.records, LOOKUP_FIELDS, lookups, "MicrOpay")
    listing = Listing(
        records=kept,
        rejections=[*source.rejections, *unknown],
        complete=source.complete,
        incomplete_reason=source.incomplete_reason,
    )
    conflicts = []
    if listing.complete:
        known = {e.code for e in kept if e.code} | {r.record_id for r in listing.rejections if r.record_id}
        if not window.full:
            known |= {s.code or eid for eid, s in states.items()}
        conflicts = unmatched_members(target, known, kept, source_name="MicrOpay", target_name="Access ESS")
    db.log(
        run_id,
        f"Employees read: {len(kept) + len(listing.rejections)} ({changed} {'listed' if window.full else 'changed'}, "
        f"{deleted_count} deleted, {rechecked} re-checked); {len(listing.rejections)} could not be used; "
        f"{len(target.records)} members read",
    )
    return RunRead(listing, target, None, tuple(conflicts))
