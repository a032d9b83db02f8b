"""Which self-service edits go back to payroll, and how: pure, over the edits read and the stored links.

A member's edit is uploaded only for a linked employee whose member is the one that made it (a member on the
activation report uploads nothing). Fields that affect pay go through payroll's approval queue; the rest are
applied at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hrsync.models.employee import MemberChange


@dataclass(frozen=True)
class PlannedUpload:
    employee_id: str
    member_id: str
    immediate: tuple[str, ...]
    for_approval: tuple[str, ...]
    edited_at: datetime  # the member's latest edit among them


@dataclass
class UploadPlan:
    uploads: list[PlannedUpload] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (employee code, reason)


def plan_uploads(changes: list[MemberChange], links: Mapping[str, str], pay_fields: tuple[str, ...]) -> UploadPlan:
    """Group edits per employee (fields in the order first edited); `links` maps employee id -> member id."""
    fields_of: dict[tuple[str, str], list[str]] = {}
    edited_at: dict[tuple[str, str], datetime] = {}
    plan = UploadPlan()
    for change in changes:
        linked = links.get(change.employee_code)
        if linked is None:
            plan.skipped.append((change.employee_code, "the member is not linked to a payroll employee"))
            continue
        if linked != change.member_id:
            plan.skipped.append((change.employee_code, f"member {change.member_id} is not the linked member"))
            continue
        key = (change.employee_code, change.member_id)
        fields = fields_of.setdefault(key, [])
        fields.extend(f for f in change.fields if f not in fields)
        edited_at[key] = max(edited_at.get(key, change.changed_at), change.changed_at)
    for (employee_id, member_id), fields in fields_of.items():
        plan.uploads.append(
            PlannedUpload(
                employee_id=employee_id,
                member_id=member_id,
                immediate=tuple(f for f in fields if f not in pay_fields),
                for_approval=tuple(f for f in fields if f in pay_fields),
                edited_at=edited_at[(employee_id, member_id)],
            )
        )
    return plan
