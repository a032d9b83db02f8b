"""Per-employee checks before anything is sent."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from hrsync.models.employee import Employee

FIELD_LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "code": "payroll code",
    "department_code": "department",
    "bank": "bank details",
    "leave_date": "leave date",
}


def missing_fields(employee: Employee, required: tuple[str, ...]) -> list[str]:
    """The required canonical fields that are empty, in the order given."""
    return [field for field in required if getattr(employee, field) in (None, "")]


def email_problem(email: str | None) -> str | None:
    """Why an email cannot be used as a login, or None. The address itself is never in the answer."""
    if not email:
        return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return "email is not a valid address"
    return None


_MARKUP = re.compile(r"[<>]")
_NAME_FIELDS = ("first_name", "last_name")


def markup_problem(employee: Employee) -> str | None:
    """Names carrying markup (< or >) are refused: a name is text, and the apps downstream render it."""
    for field in _NAME_FIELDS:
        value = getattr(employee, field)
        if value and _MARKUP.search(value):
            return f"{FIELD_LABELS[field]} contains markup (< or >)"
    return None


def not_syncing_reason(employee: Employee, required: tuple[str, ...]) -> str | None:
    """The reason an employee cannot be sent at all, naming the fields; None when it can."""
    missing = missing_fields(employee, required)
    if missing:
        labels = ", ".join(FIELD_LABELS.get(field, field) for field in missing)
        return f"missing required field{'s' if len(missing) > 1 else ''}: {labels}"
    return email_problem(employee.email) or markup_problem(employee)
