"""Shared helpers for pure vendor-JSON mapping: pydantic errors become RecordRejections without values."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from hrsync.models.employee import RecordRejection


def rejection_from(
    exc: ValidationError, *, record_id: str | None, position: str, keys: dict[str, str] | None = None
) -> RecordRejection:
    """Name the first field at fault and why, never the value that was there."""
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "(record)"
    return RecordRejection(record_id=record_id, position=position, field=field, reason=first["msg"], keys=keys or {})


def clean_text(value: str | None) -> str | None:
    """Strip surrounding white space and control characters; empty becomes None."""
    if value is None:
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()
    return cleaned or None


def id_of(raw: object, key: str = "id") -> str | None:
    """The record's id if it has a usable one (a non-empty string or a number)."""
    if isinstance(raw, dict):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


class VendorModel(BaseModel):
    """Base for vendor payload models: extra fields are the vendor's business, not ours."""

    model_config = {"extra": "ignore", "populate_by_name": True}
