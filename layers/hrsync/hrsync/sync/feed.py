"""How a change-feed run reads its source: everything (a full reconciliation) or the changes since a time.

Pure: the caller supplies the times, which are the connection's change-feed state (`feed_read_to`, where the
last complete read began; `full_read_at`, the last complete full read), moved only when a run that read
completely ends. The window starts an overlap before `feed_read_to`, so a change written while that run was
reading (or by a clock a little behind) is read again rather than lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ReadMode:
    full: bool
    since: datetime | None  # changes since this time (also the member-edit window); None: no earlier read
    why: str

    def describe(self) -> str:
        return "every employee" if self.full or self.since is None else f"changes since {self.since:%Y-%m-%dT%H:%M:%SZ}"


def choose_read_mode(
    *,
    now: datetime,
    full_requested: bool,
    read_to: datetime | None,
    full_read_at: datetime | None,
    connection_changed: bool,
    overlap: timedelta,
    full_every: timedelta,
) -> ReadMode:
    """Full on request, with no earlier complete read, after the connection changed, or when the last full
    read is older than `full_every`; else the changes since `read_to` less the overlap."""
    since = read_to - overlap if read_to else None
    if full_requested:
        return ReadMode(True, since, "a full read was asked for")
    if since is None or full_read_at is None:
        return ReadMode(True, since, "no earlier complete read")
    if now - full_read_at > full_every:
        days = full_every.days
        return ReadMode(True, since, f"the full reconciliation, every {days} day{'s' if days != 1 else ''}")
    if connection_changed:
        return ReadMode(True, since, "the connection changed since the last read")
    return ReadMode(False, since, "change feed")
