"""Time and ids. Run and failure ids begin with the UTC time so they sort by it."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

DAY = 86_400


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch() -> int:
    return int(time.time())


def expires_at(days: int) -> int:
    """The TTL value for an item kept `days` days."""
    return epoch() + days * DAY


def new_id(prefix: str = "") -> str:
    return f"{prefix}{now():%Y%m%dT%H%M%S}Z-{secrets.token_hex(4)}"


def sequence() -> str:
    """A log sequence: time-ordered across processes, unique within one."""
    return f"{time.time_ns():020d}-{secrets.token_hex(2)}"


def parse(text: str) -> datetime:
    """A time written by `iso` (or any ISO-8601 time; naive ones are UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
