"""How a change-feed run reads its source: everything (a full reconciliation) or the changes since a time.

Pure: the caller supplies the times. The window starts at the last successful run's start less an overlap, so
a change written while that run was reading (or by a clock a little behind) is read again rather than lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ReadMode:
    full: bool
    since: datetime | None  # changes since this time (also the member-edit window); None: no previous success
    why: str

    def describe(self) -> str:
        return "full" if self.full else f"changes since {self.since:%Y-%m-%dT%H:%M:%SZ}"


def choose_read_mode(
    *,
    now: datetime,
    full_requested: bool,
    last_success_started: datetime | None,
    last_full_started: datetime | None,
    overlap: timedelta,
    full_every: timedelta,
) -> ReadMode:
    """Full on request, when nothing has succeeded yet, or when the last full reconciliation is too old."""
    since = last_success_started - overlap if last_success_started else None
    if full_requested:
        return ReadMode(True, since, "full reconciliation requested")
    if since is None:
        return ReadMode(True, None, "no successful run yet")
    if last_full_started is None or now - last_full_started >= full_every:
        days = full_every.days
        return ReadMode(True, since, f"the weekly full reconciliation (every {days} day{'s' if days != 1 else ''})")
    return ReadMode(False, since, "change feed")
