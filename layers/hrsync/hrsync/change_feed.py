"""A run's read step for a payroll read by its change feed (MicrOpay -> Access ESS), in the product's order.

Clearing cache; each lookup imported into the table (an unknown code is then that employee's reason); pay
frequency; employees changed since the last complete read began (less an overlap) plus deletions, or every
employee on a full reconciliation (the connection's change-feed state and options, shared with every
change-feed connector; see sync/feed.py); every member. An incremental run also re-reads the employees it could
not sync last time and the holders of duplicated member codes, so a fixed problem resolves by itself on the next
run, and those whose member no longer gives the fingerprint stored when it was last in step (edited in ESS by
someone else; see sync/incremental.py). A run over `employee_ids` reads exactly those, one by one, whatever the
change feed says.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from hrsync import clock
from hrsync.connectors.base import RunRead
from hrsync.errors import (
    AuthenticationError,
    ConfigurationError,
    ExternalSystemError,
    HrsyncError,
    RecordNotFoundError,
)
from hrsync.models.employee import Employee, Listing, RecordRejection
from hrsync.models.records import EmployeeState, Run, SyncStatus
from hrsync.store.table import Store
from hrsync.sync.activation import duplicated_codes, unmatched_members
from hrsync.sync.feed import ReadMode, choose_read_mode
from hrsync.sync.incremental import record_fingerprint
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


def systems_of(opened: OpenConnection) -> tuple[MicrOpay, AccessEss]:
    if not isinstance(opened.source, MicrOpay) or not isinstance(opened.target, AccessEss):
        raise ConfigurationError(f"connection {opened.connection.id}: the change feed needs MicrOpay and Access ESS")
    return opened.source, opened.target


def read_window(opened: OpenConnection, run: Run, feed: dict[str, Any]) -> ReadMode:
    """This run's read mode, from the connection's change-feed state (see sync/feed.py)."""
    options = opened.connection.options
    read_to, full_at = feed.get("feed_read_to"), feed.get("full_read_at")
    return choose_read_mode(
        now=clock.now(),
        full_requested=run.full,
        read_to=clock.parse(str(read_to)) if read_to else None,
        full_read_at=clock.parse(str(full_at)) if full_at else None,
        connection_changed=bool(read_to) and str(read_to) < opened.connection.updated_at,
        overlap=timedelta(seconds=options.change_feed_overlap_seconds),
        full_every=timedelta(days=options.full_read_every_days),
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
            return RecordRejection.read_failed(employee_id, str(exc))

    records: list[Employee] = []
    rejections: list[RecordRejection] = []
    with ThreadPoolExecutor(max_workers=RECHECK_CONCURRENCY) as pool:
        for result in pool.map(fetch, ids):
            if isinstance(result, Employee):
                records.append(result)
            elif isinstance(result, RecordRejection):
                rejections.append(result)
    return records, rejections


def _drifted(states: Mapping[str, EmployeeState], target: Listing, opened: OpenConnection) -> set[str]:
    """Employees whose member no longer holds what it held when last in step (edited in ESS by someone else,
    or gone): the change feed cannot name them, so they are read again and payroll's values sent."""
    members = {record.id: record for record in target.records}
    fields = opened.policy.synced_fields
    drifted = set()
    for employee_id, state in states.items():
        if state.status is not SyncStatus.SUCCESSFUL or not state.target_id:
            continue
        member = members.get(state.target_id)
        if member is None or (
            state.fingerprint and record_fingerprint(opened.secret, member, fields) != state.fingerprint
        ):
            drifted.add(employee_id)
    return drifted


def read_by_change_feed(
    opened: OpenConnection, db: Store, run: Run, states: Mapping[str, EmployeeState], feed: dict[str, Any]
) -> RunRead:
    """The read step of micropay-ess (see the module's docstring)."""
    payroll, ess = systems_of(opened)
    options, run_id = opened.connection.options, run.run_id
    window = read_window(opened, run, feed)
    selected = sorted(run.employee_ids or ())

    db.log(run_id, "Clearing cache")
    db.clear_lookups(run.connection_id, LOOKUP_PREFIX)
    lookups = _import_lookups(payroll, db, run)

    started = clock.now()
    if selected:
        # Those employees, read one by one whatever the change feed says (the Pay Point workaround's cure).
        db.log(
            run_id, f"Importing employees from MicrOpay: the {len(selected)} asked for, whatever the change feed says"
        )
        source = Listing()
    elif window.full:
        db.log(run_id, f"Importing employees from MicrOpay: every employee ({window.why})")
        source = payroll.list_employees()
    else:
        assert window.since is not None  # an incremental window always has a start
        db.log(
            run_id,
            f"Importing employees from MicrOpay: {window.describe()} "
            f"(the last complete read's start less {options.change_feed_overlap_seconds} s)",
        )
        source = payroll.list_changed(window.since)
    if not selected and not source.complete and not source.records and not source.rejections:
        raise ExternalSystemError(f"MicrOpay could not be read: {source.incomplete_reason}")
    changed = len(source.records) + len(source.rejections)

    read_ids = {e.id for e in source.records} | {r.record_id for r in source.rejections if r.record_id}
    deleted_count = 0
    if not selected:  # a selected employee that was deleted comes back from get_employee as a leaver
        deleted_since = window.since.date() if window.since and not window.full else date(2000, 1, 1)
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

    if selected:
        again = set(selected)
    elif not window.full:
        again = {eid for eid, s in states.items() if s.status in (SyncStatus.NOT_SYNCING, SyncStatus.FAILED)}
        again |= duplicated_codes(target)
        if target.complete:
            again |= _drifted(states, target, opened)
    else:
        again = set()
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
        if not window.full or selected:
            known |= {s.code or eid for eid, s in states.items()}
        conflicts = unmatched_members(target, known, kept, source_name="MicrOpay", target_name="Access ESS")
    read_count = len(kept) + len(listing.rejections)
    db.log(
        run_id,
        f"Employees read: {read_count} ({changed} {'listed' if window.full else 'changed'}, "
        f"{deleted_count} deleted, {rechecked} re-checked or asked for); {len(listing.rejections)} could not be "
        f"used; {len(target.records)} members read",
    )
    return RunRead(
        listing,
        target,
        None,
        started_at=clock.iso(started),
        full=window.full and not selected,
        details_read=read_count,
        conflicts=tuple(conflicts),
    )
