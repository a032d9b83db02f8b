"""plan_run: one view of the whole population -> what happens to each employee.

Every source employee the run sees gets exactly one EmployeePlan: APPLY (a create, update or leaver mark
for the worker), IN_STEP (nothing to send), NOT_SYNCING (with the reason), CONFLICT (on the conflicts
report; nothing sent) or FAILED (could not be read). Records that could not even be identified are counted
and named by position in `notes`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from hrsync.models.employee import Employee, EmploymentStatus, Listing, RecordRejection
from hrsync.models.records import ConflictKind
from hrsync.models.work import Action
from hrsync.sync.validate import not_syncing_reason


class MatchKey(StrEnum):
    """How an employee not yet linked finds its target record."""

    CODE = "code"  # payroll code == the target's reference, exactly
    EMAIL = "email"  # the email, case-insensitively; exactly one record holding it


@dataclass(frozen=True)
class Policy:
    """A connector's rules for one connection.

    `opt_in`: only employees HR selected, new starters whose create-benefits-record flag is on, and employees
    already linked are sent; everyone else is NOT_SYNCING, waiting to be selected. `department_lookup`: a
    department code is sent only when the target lists a department with that reference.
    """

    source_name: str
    target_name: str
    required_fields: tuple[str, ...]
    synced_fields: tuple[str, ...]
    match_on: MatchKey = MatchKey.CODE
    opt_in: bool = False
    department_lookup: bool = True
    # How reasons and the log name a target record and the field holding the payroll code.
    record_name: str = "user"
    key_word: str = "reference"
    # Sent when the target record is created, then owned by the target: never compared or sent again.
    create_only_fields: tuple[str, ...] = ()
    # False: hrsync never creates target records nor marks leavers there (the target's own people are linked
    # by the key; micropay-worknice): an unmatched employee or a leaver is NOT_SYNCING with the reason.
    creates: bool = True
    marks_leavers: bool = True
    # A connector's own reason a linked employee and its target record cannot sync now (NOT_SYNCING with it,
    # the link kept), or None; e.g. micropay-worknice: a bank split in percentages without a known pay.
    cannot_sync: Callable[[Employee, Employee], str | None] | None = None


def not_selected_reason(policy: Policy) -> str:
    return (
        f"not selected for {policy.target_name}: HR selects employees to send "
        "(or a new starter's create-benefits-record flag sends them)"
    )


class Outcome(StrEnum):
    APPLY = "apply"
    IN_STEP = "in_step"
    NOT_SYNCING = "not_syncing"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass(frozen=True)
class EmployeePlan:
    employee_id: str
    code: str | None
    outcome: Outcome
    action: Action | None = None
    target_id: str | None = None
    fields: tuple[str, ...] = ()
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    matched_by: str | None = None
    awaiting_selection: bool = False  # nothing stops it but HR's selection (opt-in policies)


@dataclass(frozen=True)
class PlannedConflict:
    kind: ConflictKind
    key: str
    reason: str
    code: str | None
    employee_ids: tuple[str, ...]
    target_ids: tuple[str, ...]


@dataclass
class Plan:
    employees: list[EmployeePlan] = field(default_factory=list)
    conflicts: list[PlannedConflict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreadable: int = 0

    def count(self, outcome: Outcome, action: Action | None = None) -> int:
        return sum(1 for p in self.employees if p.outcome is outcome and (action is None or p.action is action))

    @property
    def to_apply(self) -> list[EmployeePlan]:
        return [p for p in self.employees if p.outcome is Outcome.APPLY]


def _lower(email: str | None) -> str | None:
    return email.lower() if email else None


class _TargetIndex:
    def __init__(self, target: Listing) -> None:
        self.by_id: dict[str, Employee] = {t.id: t for t in target.records}
        self.by_code: dict[str, list[Employee]] = defaultdict(list)
        self.by_email: dict[str, list[Employee]] = defaultdict(list)
        for record in target.records:
            if record.code:
                self.by_code[record.code].append(record)
            if record.email:
                self.by_email[record.email.lower()].append(record)
        # Records we could not read still hold their keys: nothing may be matched or created over them.
        self.unreadable_codes: dict[str, RecordRejection] = {}
        self.unreadable_emails: dict[str, RecordRejection] = {}
        for rejection in target.rejections:
            if "code" in rejection.keys:
                self.unreadable_codes[rejection.keys["code"]] = rejection
            if "email" in rejection.keys:
                self.unreadable_emails[rejection.keys["email"].lower()] = rejection


def _desired(
    source: Employee, fields: tuple[str, ...], departments: set[str] | None, *, lookup: bool = True
) -> tuple[dict[str, object], list[str]]:
    """The target values the source implies for the synced fields, and warnings for what cannot be mapped."""
    desired: dict[str, object] = {}
    warnings: list[str] = []
    for name in fields:
        # the target's external id for the employee is hrsync's id for them: the source record's id
        value = source.id if name == "external_id" else getattr(source, name)
        if name == "department_code" and lookup:
            if value is None:
                continue  # no department in payroll: leave the target's as it is
            if departments is None:
                warnings.append("departments could not be read; department left unchanged")
                continue
            if value not in departments:
                warnings.append(
                    f"department code {value} has no matching department reference; department left unchanged"
                )
                continue
        if name == "leave_date" and source.status is not EmploymentStatus.FORMER:
            value = None
        desired[name] = value
    return desired, warnings


def _changed_fields(desired: dict[str, object], target: Employee, *, email_case: bool = True) -> tuple[str, ...]:
    """The fields whose desired value differs from the target's. Without `email_case`, emails compare
    case-insensitively (a target that normalises case, as SCIM services may, is not updated for ever)."""

    def same(name: str, value: object) -> bool:
        held = getattr(target, name)
        if name == "email" and not email_case and isinstance(held, str) and isinstance(value, str):
            return held.lower() == value.lower()
        return bool(held == value)

    return tuple(name for name, value in desired.items() if not same(name, value))


def plan_run(
    source: Listing,
    target: Listing,
    links: dict[str, str],
    policy: Policy,
    *,
    departments: set[str] | None,
    only: set[str] | None = None,
    enrolled: set[str] | None = None,
    force: bool = False,
    known_conflicts: tuple[PlannedConflict, ...] = (),
    today: date | None = None,
) -> Plan:
    """Decide, for every source employee, what the run does. Pure: no I/O.

    `enrolled`: for an opt-in policy, the employees HR has selected (stored, plus this run's selection).
    `only` restricts the run to those employees (the rest of the population still counts for duplicates);
    `force` sends every synced field of a matched employee even when nothing looks changed; `known_conflicts`
    (found while reading) go on the report and keep their employees from syncing."""
    today = today or date.today()
    plan = Plan()
    index = _TargetIndex(target)
    src, tgt = policy.source_name, policy.target_name

    if not source.complete:
        plan.notes.append(f"{src} listing incomplete ({source.incomplete_reason}): no leaver marks this run")
    if not target.complete:
        plan.notes.append(f"{tgt} listing incomplete ({target.incomplete_reason}): nothing is sent this run")

    for rejection in source.rejections:
        if rejection.record_id is None:
            plan.unreadable += 1
            plan.notes.append(f"{src} record at {rejection.position} has no usable id ({rejection.field}); skipped")
            continue
        if only is not None and rejection.record_id not in only:
            continue
        # An opt-in sync's employee outside it is not a failure to review, whatever stopped the read.
        outside = policy.opt_in and rejection.record_id not in links and rejection.record_id not in (enrolled or ())
        retryable = rejection.retryable and not outside
        plan.employees.append(
            EmployeePlan(
                employee_id=rejection.record_id,
                code=None,
                outcome=Outcome.FAILED if retryable else Outcome.NOT_SYNCING,
                reason=(
                    f"could not be read from {src}: {rejection.reason}"
                    if rejection.retryable
                    else f"{src} record is invalid: field {rejection.field}: {rejection.reason}"
                ),
            )
        )
    for rejection in target.rejections:
        plan.notes.append(f"{tgt} record at {rejection.position} could not be read: field {rejection.field}")

    # Conflicts that hold across the population.
    source_by_code: dict[str, list[Employee]] = defaultdict(list)
    source_by_email: dict[str, list[Employee]] = defaultdict(list)
    for employee in source.records:
        if employee.code:
            source_by_code[employee.code].append(employee)
        if employee.email and employee.status is not EmploymentStatus.FORMER:
            source_by_email[employee.email.lower()].append(employee)
    conflicted: dict[str, str] = {}
    for known in known_conflicts:
        plan.conflicts.append(known)
        for employee_id in known.employee_ids:
            conflicted.setdefault(employee_id, known.reason)
    for code, group in source_by_code.items():
        if len(group) > 1:
            reason = f"payroll code {code} is held by {len(group)} employees in {src}"
            _add_conflict(plan, ConflictKind.DUPLICATE_PAYROLL_CODE, code, reason, code, group, [], conflicted)
    for code, users in index.by_code.items() if policy.match_on is MatchKey.CODE else ():
        if len(users) > 1:
            holders = source_by_code.get(code, [])
            reason = f"{policy.key_word} {code} is held by {len(users)} {tgt} {policy.record_name}s"
            _add_conflict(plan, ConflictKind.DUPLICATE_TARGET_REFERENCE, code, reason, code, holders, users, conflicted)
    for email, group in source_by_email.items():
        if len(group) > 1:
            reason = f"{len(group)} employees in {src} share one email address"
            _add_conflict(
                plan,
                ConflictKind.DUPLICATE_EMAIL,
                email,
                reason,
                None,
                group,
                [],
                conflicted,
                key_is_pii=True,
            )

    # Match each employee to a target record; a target claimed twice is a conflict too.
    matches: dict[str, tuple[Employee | None, str | None]] = {}
    claimed: dict[str, list[Employee]] = defaultdict(list)
    for employee in source.records:
        if only is not None and employee.id not in only:
            continue
        if employee.id in conflicted:
            continue
        match: Employee | None = None
        matched_by: str | None = None
        linked = links.get(employee.id)
        if linked and linked in index.by_id:
            match, matched_by = index.by_id[linked], "link"
        elif policy.match_on is MatchKey.CODE and employee.code and len(index.by_code.get(employee.code, [])) == 1:
            match, matched_by = index.by_code[employee.code][0], "payroll_code"
        elif (
            policy.match_on is MatchKey.EMAIL
            and employee.email
            and employee.status is not EmploymentStatus.FORMER
            and len(index.by_email.get(employee.email.lower(), [])) == 1
        ):
            match, matched_by = index.by_email[employee.email.lower()][0], "email"
        matches[employee.id] = (match, matched_by)
        if match is not None:
            claimed[match.id].append(employee)
    for target_id, group in claimed.items():
        if len(group) > 1:
            record = index.by_id[target_id]
            reason = f"one {tgt} {policy.record_name} is matched by {len(group)} employees"
            _add_conflict(
                plan,
                ConflictKind.DUPLICATE_TARGET_REFERENCE,
                f"target:{target_id}",
                reason,
                record.code,
                group,
                [record],
                conflicted,
            )

    for employee in source.records:
        if only is not None and employee.id not in only:
            continue
        if employee.id in conflicted:
            plan.employees.append(
                EmployeePlan(employee.id, employee.code, Outcome.CONFLICT, reason=conflicted[employee.id])
            )
            continue
        match, matched_by = matches[employee.id]
        planned = _plan_employee(employee, match, matched_by, index, policy, departments, source, target, force=force)
        if policy.opt_in and not _in_sync(employee, links, enrolled or set()):
            planned = _awaiting_selection(planned, policy)
        plan.employees.append(planned)
    return plan


def _in_sync(employee: Employee, links: dict[str, str], enrolled: set[str]) -> bool:
    """Opt-in: linked (no off switch once syncing), selected by HR, or a new starter flagged for the platform."""
    return employee.id in links or employee.id in enrolled or employee.create_benefits_record


def _awaiting_selection(planned: EmployeePlan, policy: Policy) -> EmployeePlan:
    """An employee outside an opt-in sync: nothing is sent or linked. One that could be sent waits for HR."""
    if planned.outcome in (Outcome.APPLY, Outcome.IN_STEP):
        return EmployeePlan(
            planned.employee_id,
            planned.code,
            Outcome.NOT_SYNCING,
            reason=not_selected_reason(policy),
            warnings=planned.warnings,
            awaiting_selection=True,
        )
    if planned.outcome in (Outcome.NOT_SYNCING, Outcome.FAILED):
        # nothing linked for them, and an unreadable target is not a failure of theirs to review
        return EmployeePlan(planned.employee_id, planned.code, Outcome.NOT_SYNCING, reason=planned.reason)
    return planned


def _add_conflict(
    plan: Plan,
    kind: ConflictKind,
    key: str,
    reason: str,
    code: str | None,
    employees: list[Employee],
    targets: list[Employee],
    conflicted: dict[str, str],
    *,
    key_is_pii: bool = False,
) -> None:
    employee_ids = tuple(sorted(e.id for e in employees))
    if key_is_pii:
        key = "+".join(employee_ids)
    plan.conflicts.append(
        PlannedConflict(kind, f"{kind.value}:{key}", reason, code, employee_ids, tuple(sorted(t.id for t in targets)))
    )
    for employee_id in employee_ids:
        conflicted.setdefault(employee_id, reason)


def _plan_employee(
    employee: Employee,
    match: Employee | None,
    matched_by: str | None,
    index: _TargetIndex,
    policy: Policy,
    departments: set[str] | None,
    source: Listing,
    target: Listing,
    *,
    force: bool = False,
) -> EmployeePlan:
    src, tgt = policy.source_name, policy.target_name

    def result(outcome: Outcome, **details: Any) -> EmployeePlan:
        return EmployeePlan(employee.id, employee.code, outcome, **details)

    reason = not_syncing_reason(employee, policy.required_fields)
    if reason:
        return result(Outcome.NOT_SYNCING, reason=reason, target_id=match.id if match else None)

    if not target.complete:
        return result(Outcome.FAILED, reason=f"{tgt} could not be read in full: {target.incomplete_reason}")

    if match is None and employee.code in index.unreadable_codes:
        rejection = index.unreadable_codes[employee.code]
        return result(
            Outcome.NOT_SYNCING,
            reason=f"the {tgt} {policy.record_name} holding this {policy.key_word} could not be read "
            f"(field {rejection.field})",
        )

    if employee.status is EmploymentStatus.FORMER:
        if match is None:
            return result(
                Outcome.NOT_SYNCING,
                reason=f"has left and has no {tgt} {policy.record_name}; leavers are never created",
            )
        if match.leave_date is not None and (employee.leave_date is None or match.leave_date == employee.leave_date):
            return result(Outcome.IN_STEP, target_id=match.id, matched_by=matched_by)
        if not policy.marks_leavers:
            return result(
                Outcome.NOT_SYNCING,
                target_id=match.id,
                matched_by=matched_by,
                reason=f"has left {src}; leavers are offboarded in {tgt} itself",
            )
        if not source.complete:
            return result(
                Outcome.NOT_SYNCING,
                target_id=match.id,
                matched_by=matched_by,
                reason=f"leaver mark withheld: the {src} listing was incomplete this run",
            )
        return result(
            Outcome.APPLY,
            action=Action.MARK_LEAVER,
            target_id=match.id,
            matched_by=matched_by,
            fields=("leave_date",),
        )

    desired, warnings = _desired(employee, policy.synced_fields, departments, lookup=policy.department_lookup)
    email = _lower(employee.email)
    record = policy.record_name
    if match is None and not policy.creates:
        return result(
            Outcome.NOT_SYNCING,
            reason=f"no {tgt} {record} holds this {policy.key_word}; hrsync does not create {tgt} {record}s",
            warnings=tuple(warnings),
        )
    if match is None:
        if not target.complete:
            return result(
                Outcome.NOT_SYNCING,
                reason=f"not created: the {tgt} listing was incomplete this run",
            )
        holders = index.by_email.get(email or "", [])
        if policy.match_on is MatchKey.EMAIL and (holders or email in index.unreadable_emails):
            why = (
                f"{len(holders)} {tgt} {record}s have this email, so it cannot be linked to one; "
                f"an administrator must merge or correct them in {tgt}"
                if holders
                else f"the {tgt} {record} with this email could not be read"
            )
            return result(Outcome.NOT_SYNCING, reason=why, warnings=tuple(warnings))
        if holders or email in index.unreadable_emails:
            other = f"no {policy.key_word}" if holders and not holders[0].code else f"another {policy.key_word}"
            return result(
                Outcome.NOT_SYNCING,
                reason=(
                    f"email already used by an existing {tgt} {policy.record_name} with {other}; "
                    f"an administrator must set that {policy.record_name}'s {policy.key_word} to the payroll code"
                ),
                warnings=tuple(warnings),
            )
        on_create, _ = _desired(employee, policy.create_only_fields, departments)
        fields = tuple(name for name, value in (desired | on_create).items() if value is not None)
        return result(Outcome.APPLY, action=Action.CREATE, fields=fields, warnings=tuple(warnings))

    held = policy.cannot_sync(employee, match) if policy.cannot_sync else None
    if held:
        return result(
            Outcome.NOT_SYNCING, target_id=match.id, matched_by=matched_by, reason=held, warnings=tuple(warnings)
        )
    changed = _changed_fields(desired, match, email_case=policy.match_on is MatchKey.CODE)
    if "email" in changed and any(user.id != match.id for user in index.by_email.get(email or "", [])):
        return result(
            Outcome.NOT_SYNCING,
            target_id=match.id,
            matched_by=matched_by,
            reason=f"new email already used by another {tgt} {record}",
            warnings=tuple(warnings),
        )
    if "code" in changed and index.by_code.get(employee.code or ""):
        return result(
            Outcome.NOT_SYNCING,
            target_id=match.id,
            matched_by=matched_by,
            reason=f"payroll code changed but another {tgt} {policy.record_name} holds it as {policy.key_word}",
            warnings=tuple(warnings),
        )
    if force:  # sent whatever the comparison says: the target may hold what the listing cannot show
        changed = tuple(name for name, value in desired.items() if value is not None or name in changed)
    if not changed:
        return result(
            Outcome.IN_STEP,
            target_id=match.id,
            matched_by=matched_by,
            warnings=tuple(warnings),
        )
    return result(
        Outcome.APPLY,
        action=Action.UPDATE,
        target_id=match.id,
        matched_by=matched_by,
        fields=changed,
        warnings=tuple(warnings),
    )
