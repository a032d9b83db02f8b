"""The activation report: target records (self-service members) that block or match no payroll employee.

Two members holding one employee code are already a conflict in plan_run. Here: a member whose code matches no
payroll employee at all (a typo, or a code reused after a deletion). If a payroll employee shares that member's
email, the member is probably theirs: that employee is held back (a second member would be a second login).
"""

from __future__ import annotations

from collections import defaultdict

from hrsync.models.employee import Employee, EmploymentStatus, Listing
from hrsync.models.records import ConflictKind
from hrsync.sync.plan import PlannedConflict


def duplicated_codes(target: Listing) -> set[str]:
    """Codes held by more than one target record."""
    seen: dict[str, int] = defaultdict(int)
    for record in target.records:
        if record.code:
            seen[record.code] += 1
    return {code for code, n in seen.items() if n > 1}


def unmatched_members(
    target: Listing,
    payroll_codes: set[str],
    source: list[Employee],
    *,
    source_name: str,
    target_name: str,
    record_word: str = "member",
) -> list[PlannedConflict]:
    """One conflict per active target record whose code no payroll employee holds."""
    by_email: dict[str, list[Employee]] = defaultdict(list)
    for employee in source:
        if employee.email:
            by_email[employee.email.lower()].append(employee)
    conflicts = []
    for record in target.records:
        if not record.code or record.code in payroll_codes or record.status is EmploymentStatus.FORMER:
            continue
        claimants = by_email.get(record.email.lower(), []) if record.email else []
        reason = (
            f"{target_name} {record_word} {record.id} holds employee code {record.code}, "
            f"which matches no {source_name} employee"
        )
        if claimants:
            reason += "; it has this employee's email, so its code must be corrected before this employee syncs"
        conflicts.append(
            PlannedConflict(
                kind=ConflictKind.UNMATCHED_TARGET_RECORD,
                key=f"{ConflictKind.UNMATCHED_TARGET_RECORD.value}:{record.id}",
                reason=reason,
                code=record.code,
                employee_ids=tuple(sorted(e.id for e in claimants)),
                target_ids=(record.id,),
            )
        )
    return conflicts
