"""Three-way merge of a two_way data group, field by field. Pure: no I/O.

Neither MicrOpay nor Worknice keeps a last-updated time per field, so a run cannot ask which side changed a
field. hrsync keeps a *base* per field instead: an HMAC (keyed per connection) of the last value both sides were
seen to hold. Comparing each side's value with the base tells who changed it since:

| source vs base | target vs base | outcome |
|---|---|---|
| same | same | in step |
| changed | same | copy the source's value to the target |
| same | changed | copy the target's value to the source |
| changed | changed, to the same value | agree (nothing to write) |
| changed | changed differently | a conflict: nothing written; settled by the group's `prefer` or by review |

With no base yet (never agreed) a field present on one side only is copied to the empty side, equal values
agree, and different values are a conflict. The base moves only when both sides hold the same value: at once
for in-step and agreeing fields (`agreed`), and for a copied field only once the write succeeded (each `Write`
carries the digest the base takes then). A conflict keeps the old base, so the next run sees the same conflict
until someone settles it, never a flip of one side's value over the other's.

Conflicts carry field names, sides and digests, never values: they go on the conflicts report.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from hrsync.sync.incremental import fingerprint

Side = Literal["source", "target"]
Prefer = Literal["source", "target", "review"]
# (field name, value) -> digest. Equal values of one field give equal digests.
Digest = Callable[[str, object], str]


class Direction(StrEnum):
    """How a data group flows between a connector's two systems."""

    SOURCE_TO_TARGET = "source_to_target"
    TARGET_TO_SOURCE = "target_to_source"
    TWO_WAY = "two_way"
    OFF = "off"


def other(side: Side) -> Side:
    return "target" if side == "source" else "source"


def field_digest(secret: bytes) -> Digest:
    """The per-field base digest for one connection: an HMAC of the field's name and value."""

    def digest(name: str, value: object) -> str:
        return fingerprint(secret, {name: value})

    return digest


def conflict_id(employee_id: str, group: str, name: str) -> str:
    """A stable id for the conflict on one employee's field, so the report and the resolve route agree."""
    raw = f"{employee_id}\x1f{group}\x1f{name}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


@dataclass(frozen=True)
class Write:
    """Send `value` for `name` to side `to`; once written the field's base becomes `digest`."""

    to: Side
    name: str
    value: object
    digest: str


@dataclass(frozen=True)
class FieldConflict:
    """A field changed on both sides to different values since the base. No values: digests only."""

    name: str
    source_digest: str
    target_digest: str
    base: str | None


@dataclass(frozen=True)
class MergeResult:
    writes: tuple[Write, ...] = ()
    conflicts: tuple[FieldConflict, ...] = ()
    # Fields both sides now hold the same value of, where that moves their base: it becomes this digest at once.
    agreed: dict[str, str] = field(default_factory=dict)

    def to(self, side: Side) -> dict[str, object]:
        """The values to send to one side, by field name."""
        return {write.name: write.value for write in self.writes if write.to == side}


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge_fields(
    source: Mapping[str, object],
    target: Mapping[str, object],
    base: Mapping[str, str],
    fields: tuple[str, ...],
    digest: Digest,
    *,
    prefer: Prefer = "review",
) -> MergeResult:
    """Merge `fields` of one employee's two_way group: what to write to each side and what is in conflict.

    `prefer` settles a true conflict: `source` or `target` copies that side's value over the other's;
    `review` (the default) leaves both as they are and reports the conflict.
    """
    writes: list[Write] = []
    conflicts: list[FieldConflict] = []
    agreed: dict[str, str] = {}
    for name in fields:
        s_value, t_value = source.get(name), target.get(name)
        s_digest, t_digest = digest(name, s_value), digest(name, t_value)
        known = base.get(name)
        if s_digest == t_digest:
            if known != s_digest:
                agreed[name] = s_digest
            continue
        if known is None:
            # Never agreed: fill a blank side; two different values cannot be told apart.
            if _empty(t_value):
                writes.append(Write("target", name, s_value, s_digest))
                continue
            if _empty(s_value):
                writes.append(Write("source", name, t_value, t_digest))
                continue
        elif t_digest == known:
            writes.append(Write("target", name, s_value, s_digest))
            continue
        elif s_digest == known:
            writes.append(Write("source", name, t_value, t_digest))
            continue
        if prefer == "source":
            writes.append(Write("target", name, s_value, s_digest))
        elif prefer == "target":
            writes.append(Write("source", name, t_value, t_digest))
        else:
            conflicts.append(FieldConflict(name, s_digest, t_digest, known))
    return MergeResult(tuple(writes), tuple(conflicts), agreed)


def resolve_conflict(
    conflict: FieldConflict,
    winner: Side,
    source: Mapping[str, object],
    target: Mapping[str, object],
    digest: Digest,
) -> Write | None:
    """The write that settles `conflict` with `winner`'s value, if both sides still hold what they held when it
    was reported; None when either side changed since (the next run merges afresh)."""
    name = conflict.name
    s_digest, t_digest = digest(name, source.get(name)), digest(name, target.get(name))
    if not hmac.compare_digest(s_digest, conflict.source_digest) or not hmac.compare_digest(
        t_digest, conflict.target_digest
    ):
        return None
    if winner == "source":
        return Write("target", name, source.get(name), s_digest)
    return Write("source", name, target.get(name), t_digest)


def one_way(
    source: Mapping[str, object],
    target: Mapping[str, object],
    base: Mapping[str, str],
    fields: tuple[str, ...],
    digest: Digest,
    direction: Direction,
) -> MergeResult:
    """A one-way group: the owning side's values overwrite the other's where they differ. The base is kept up
    to date as well, so a group switched to two_way later starts from what both sides last held."""
    if direction == Direction.OFF:
        return MergeResult()
    if direction == Direction.TWO_WAY:
        raise ValueError("two_way groups are merged with merge_fields")
    frm, to = (source, target) if direction == Direction.SOURCE_TO_TARGET else (target, source)
    to_side: Side = "target" if direction == Direction.SOURCE_TO_TARGET else "source"
    writes: list[Write] = []
    agreed: dict[str, str] = {}
    for name in fields:
        want, have = digest(name, frm.get(name)), digest(name, to.get(name))
        if want == have:
            if base.get(name) != want:
                agreed[name] = want
        else:
            writes.append(Write(to_side, name, frm.get(name), want))
    return MergeResult(tuple(writes), (), agreed)
