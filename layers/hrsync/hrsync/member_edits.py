"""A run's upload step for micropay-ess: profile edits members made in Access ESS go back to MicrOpay.

Non-pay fields (address, phone, email, emergency contact) through ChangeEmployeeImmediate, applied at once;
bank accounts through ChangeEmployee, queued for a payroll user, whose approval state is tracked on the
employee (a `PayrollChange`, shown by GET /connections/{id}/employees/{employee}) and polled by every run until
payroll approves or rejects it. Only field names and states are stored. An edit read again inside the overlap
window is not uploaded again when the same values (an HMAC keyed per connection) were uploaded after it,
whatever payroll decided: a rejected change comes back only when the member edits again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hrsync import clock
from hrsync.change_feed import read_window, systems_of
from hrsync.connectors.base import UploadCounts
from hrsync.errors import AuthenticationError, ExternalSystemError
from hrsync.models.employee import Employee, RecordRejection
from hrsync.models.records import EmployeeState, Failure, PayrollChange, PayrollChangeState, Run
from hrsync.observability import redact
from hrsync.store.table import Store
from hrsync.sync.uploads import PlannedUpload, plan_uploads
from hrsync.systems.access_ess import AccessEss
from hrsync.systems.micropay import PAY_FIELDS, MicrOpay

if TYPE_CHECKING:
    from hrsync.context import OpenConnection


def payload_hmac(secret: bytes, payload: dict[str, Any]) -> str:
    """An HMAC of values uploaded: equal values give equal digests, and the values cannot be read back."""
    canonical = json.dumps(payload, sort_keys=True, default=str).encode()
    return hmac.new(secret, canonical, hashlib.sha256).hexdigest()


_DECIDED = {"Approved": PayrollChangeState.APPROVED, "Rejected": PayrollChangeState.REJECTED}


def upload_member_edits(opened: OpenConnection, db: Store, run: Run, states: dict[str, EmployeeState]) -> UploadCounts:
    """Upload member edits since the run's window opened and poll waiting approvals; counts failed uploads."""
    payroll, ess = systems_of(opened)
    window = read_window(opened, run, db.get_state(run.connection_id))
    _poll_approvals(payroll, db, run)
    if window.since is None:
        db.log(run.run_id, "Uploads to payroll queued: none (member edits are read from the next run on)")
        return UploadCounts()
    changes, unreadable = ess.member_changes(window.since)
    for position in unreadable:
        db.log(run.run_id, f"Access ESS member edit at {position} could not be read; skipped", "WARNING")
    links = {eid: s.target_id for eid, s in states.items() if s.target_id}
    if run.employee_ids:
        links = {eid: tid for eid, tid in links.items() if eid in run.employee_ids}
    plan = plan_uploads(changes, links, PAY_FIELDS)
    if run.employee_ids:  # a retry: uploads that failed for these employees go again, with the member's values now
        plan.uploads += _failed_uploads(db, run, links, {u.employee_id for u in plan.uploads})
    for code, reason in plan.skipped:
        db.log(run.run_id, f"Member edit for employee {code} not uploaded: {reason}", "WARNING")
    applied = queued = failed = 0
    for upload in plan.uploads:
        a, q, f = _upload(payroll, ess, db, run, opened.secret, upload)
        applied, queued, failed = applied + a, queued + q, failed + f
    db.log(
        run.run_id,
        f"Uploads to payroll queued: {applied} applied at once (ChangeEmployeeImmediate), "
        f"{queued} waiting for approval (ChangeEmployee), {failed} failed",
        "INFO" if not failed else "WARNING",
    )
    return UploadCounts(failed=failed)


def _upload(
    payroll: MicrOpay, ess: AccessEss, db: Store, run: Run, secret: bytes, upload: PlannedUpload
) -> tuple[int, int, int]:
    applied = queued = failed = 0
    try:
        member = ess.get_member(upload.member_id)
    except AuthenticationError:
        raise
    except ExternalSystemError as exc:
        _failed(
            db, run, upload.employee_id, (*upload.immediate, *upload.for_approval), f"member could not be read: {exc}"
        )
        return 0, 0, 1
    if isinstance(member, RecordRejection):
        reason = f"Access ESS member is invalid: field {member.field}: {member.reason}"
        _failed(db, run, upload.employee_id, (*upload.immediate, *upload.for_approval), reason)
        return 0, 0, 1
    as_payroll = member.model_copy(update={"code": upload.employee_id})
    digest = payload_hmac(secret, member.model_dump(mode="json", include=set(upload.immediate)))
    if upload.immediate and not _already_uploaded(db, run, upload, upload.immediate, digest):
        try:
            payroll.change_employee_immediate(as_payroll, upload.immediate)
        except AuthenticationError:
            raise
        except ExternalSystemError as exc:
            _failed(db, run, upload.employee_id, upload.immediate, str(exc))
            failed += 1
        else:
            applied_change = _change(run, upload.employee_id, upload.immediate, PayrollChangeState.APPLIED)
            db.put_payroll_change(applied_change.model_copy(update={"payload_hmac": digest}))
            db.log(run.run_id, f"Employee {upload.employee_id}: {', '.join(upload.immediate)} applied in MicrOpay")
            applied += 1
    if upload.for_approval:
        queued, f = _queue_for_approval(payroll, db, run, secret, upload, as_payroll)
        failed += f
    return applied, queued, failed


def _queue_for_approval(
    payroll: MicrOpay, db: Store, run: Run, secret: bytes, upload: PlannedUpload, member: Employee
) -> tuple[int, int]:
    fields = upload.for_approval
    digest = payload_hmac(secret, member.model_dump(mode="json", include=set(fields)))
    if _already_uploaded(db, run, upload, fields, digest):
        return 0, 0
    try:
        status_id = payroll.change_employee(member, fields)
    except AuthenticationError:
        raise
    except ExternalSystemError as exc:
        _failed(db, run, upload.employee_id, fields, str(exc))
        return 0, 1
    change = _change(run, upload.employee_id, fields, PayrollChangeState.PENDING_APPROVAL)
    db.put_payroll_change(change.model_copy(update={"status_id": status_id, "payload_hmac": digest}))
    db.log(run.run_id, f"Employee {upload.employee_id}: {', '.join(fields)} queued for payroll approval ({status_id})")
    return 1, 0


def _failed_uploads(db: Store, run: Run, links: dict[str, str], planned: set[str]) -> list[PlannedUpload]:
    """Uploads whose latest attempt FAILED, for the selected employees not already uploading."""
    retries = []
    for employee_id, member_id in sorted(links.items()):
        if employee_id in planned:
            continue
        latest: dict[frozenset[str], PayrollChange] = {}
        for change in db.payroll_changes(run.connection_id, employee_id):
            latest[frozenset(change.fields)] = change
        fields = [f for c in latest.values() if c.state is PayrollChangeState.FAILED for f in c.fields]
        if fields:
            retries.append(
                PlannedUpload(
                    employee_id=employee_id,
                    member_id=member_id,
                    immediate=tuple(f for f in fields if f not in PAY_FIELDS),
                    for_approval=tuple(f for f in fields if f in PAY_FIELDS),
                    edited_at=clock.now(),
                )
            )
    return retries


def _already_uploaded(db: Store, run: Run, upload: PlannedUpload, fields: tuple[str, ...], digest: str) -> bool:
    """The same values went to payroll after the member's latest edit (the edit was read again in the window)."""
    earlier = [c for c in db.payroll_changes(run.connection_id, upload.employee_id) if set(c.fields) == set(fields)]
    if not earlier:
        return False
    last = earlier[-1]
    submitted = datetime.fromisoformat(last.submitted_at.replace("Z", "+00:00"))
    return last.state is not PayrollChangeState.FAILED and last.payload_hmac == digest and submitted >= upload.edited_at


def _poll_approvals(payroll: MicrOpay, db: Store, run: Run) -> None:
    waiting = [c for c in db.payroll_changes(run.connection_id) if c.state is PayrollChangeState.PENDING_APPROVAL]
    decided = 0
    for change in waiting:
        if change.status_id is None:
            continue
        try:
            status = payroll.change_status(change.status_id)
        except AuthenticationError:
            raise
        except ExternalSystemError as exc:
            db.log(run.run_id, f"Payroll approval {change.status_id} could not be read ({exc})", "WARNING")
            continue
        state = _DECIDED.get(status.status)
        if state is None:
            continue
        decided += 1
        db.put_payroll_change(
            change.model_copy(
                update={
                    "state": state,
                    "reason": redact(status.reason) if status.reason else None,
                    "decided_at": clock.iso(),
                }
            )
        )
        db.log(run.run_id, f"Employee {change.employee_id}: payroll {status.status.lower()} change {change.status_id}")
    if waiting:
        db.log(run.run_id, f"Payroll approvals: {decided} decided, {len(waiting) - decided} still waiting")


def _change(run: Run, employee_id: str, fields: tuple[str, ...], state: PayrollChangeState) -> PayrollChange:
    return PayrollChange(
        connection_id=run.connection_id,
        employee_id=employee_id,
        change_id=clock.new_id(),
        run_id=run.run_id,
        fields=list(fields),
        state=state,
        submitted_at=clock.iso(),
    )


def _failed(db: Store, run: Run, employee_id: str, fields: tuple[str, ...], reason: str) -> None:
    """An upload that failed: on the employee's payroll changes, and a failure for review."""
    change = _change(run, employee_id, fields, PayrollChangeState.FAILED)
    db.put_payroll_change(change.model_copy(update={"reason": reason}))
    failure = Failure(
        failure_id=clock.new_id(),
        connection_id=run.connection_id,
        employee_id=employee_id,
        run_id=run.run_id,
        action="upload_to_payroll",
        reason=f"{', '.join(fields)}: {reason}",
        failure_class="upload",
        attempts=1,
        time=clock.iso(),
    )
    db.put_employee_states([], [], [failure])
    db.log(run.run_id, f"Employee {employee_id}: upload to payroll failed ({reason})", "WARNING")
