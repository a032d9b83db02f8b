"""The three-way merge (sync/merge.py): the table of cases, and properties over random edits on both sides."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrsync.sync.merge import (
    Direction,
    FieldConflict,
    MergeResult,
    Prefer,
    conflict_id,
    field_digest,
    merge_fields,
    one_way,
    resolve_conflict,
)

DIGEST = field_digest(b"connection-secret")
FIELDS = ("street", "postcode", "tax_scale")
VALUES = st.sampled_from([None, "", "1 High St", "2 Low Rd", "3000", "3001"])


def base_of(values: dict[str, object]) -> dict[str, str]:
    return {name: DIGEST(name, value) for name, value in values.items()}


def apply(result: MergeResult, source: dict[str, Any], target: dict[str, Any], base: dict[str, str]) -> None:
    """What a run does with a merge when every write succeeds: write each side, move the base."""
    for write in result.writes:
        (target if write.to == "target" else source)[write.name] = write.value
        base[write.name] = write.digest
    base.update(result.agreed)


def test_merge_source_change_copies_to_target() -> None:
    base = base_of({"street": "1 High St"})
    result = merge_fields({"street": "2 Low Rd"}, {"street": "1 High St"}, base, ("street",), DIGEST)
    assert result.to("target") == {"street": "2 Low Rd"}
    assert result.to("source") == {}
    assert result.conflicts == ()


def test_merge_target_change_copies_to_source() -> None:
    base = base_of({"street": "1 High St"})
    result = merge_fields({"street": "1 High St"}, {"street": "2 Low Rd"}, base, ("street",), DIGEST)
    assert result.to("source") == {"street": "2 Low Rd"}
    assert result.to("target") == {}


def test_merge_both_changed_alike_agrees_and_moves_base() -> None:
    base = base_of({"street": "1 High St"})
    result = merge_fields({"street": "2 Low Rd"}, {"street": "2 Low Rd"}, base, ("street",), DIGEST)
    assert result.writes == ()
    assert result.agreed == {"street": DIGEST("street", "2 Low Rd")}


def test_merge_both_changed_differently_is_conflict_without_values() -> None:
    base = base_of({"street": "1 High St"})
    result = merge_fields({"street": "2 Low Rd"}, {"street": "9 Elm Ave"}, base, ("street",), DIGEST)
    assert result.writes == ()
    assert result.agreed == {}
    [conflict] = result.conflicts
    assert conflict.name == "street"
    assert conflict.base == base["street"]
    assert "Low" not in repr(conflict) and "Elm" not in repr(conflict)


@pytest.mark.parametrize(("prefer", "side", "value"), [("source", "target", "2 Low Rd"), ("target", "source", "9 Elm")])
def test_merge_conflict_with_prefer_copies_the_preferred_side(prefer: Prefer, side: str, value: str) -> None:
    base = base_of({"street": "1 High St"})
    result = merge_fields({"street": "2 Low Rd"}, {"street": "9 Elm"}, base, ("street",), DIGEST, prefer=prefer)
    assert result.conflicts == ()
    assert [(w.to, w.value) for w in result.writes] == [(side, value)]


def test_merge_without_base_fills_the_blank_side_and_conflicts_on_a_difference() -> None:
    result = merge_fields(
        {"street": "1 High St", "postcode": None, "tax_scale": "2"},
        {"street": None, "postcode": "3000", "tax_scale": "3"},
        {},
        FIELDS,
        DIGEST,
    )
    assert result.to("target") == {"street": "1 High St"}
    assert result.to("source") == {"postcode": "3000"}
    assert [c.name for c in result.conflicts] == ["tax_scale"]


def test_merge_in_step_fields_with_current_base_change_nothing() -> None:
    values = {"street": "1 High St", "postcode": "3000", "tax_scale": None}
    result = merge_fields(values, dict(values), base_of(values), FIELDS, DIGEST)
    assert result == MergeResult()


def test_merge_a_cleared_field_is_a_change_that_flows() -> None:
    base = base_of({"postcode": "3000"})
    result = merge_fields({"postcode": None}, {"postcode": "3000"}, base, ("postcode",), DIGEST)
    assert result.to("target") == {"postcode": None}


def test_digest_differs_per_connection_secret_and_field() -> None:
    assert field_digest(b"a")("street", "x") != field_digest(b"b")("street", "x")
    assert DIGEST("street", "x") != DIGEST("postcode", "x")
    assert "x" not in DIGEST("street", "x")


def test_resolve_conflict_writes_winner_value_to_other_side() -> None:
    conflict = FieldConflict("street", DIGEST("street", "2 Low Rd"), DIGEST("street", "9 Elm"), None)
    source, target = {"street": "2 Low Rd"}, {"street": "9 Elm"}
    write = resolve_conflict(conflict, "target", source, target, DIGEST)
    assert write is not None
    assert (write.to, write.value, write.digest) == ("source", "9 Elm", DIGEST("street", "9 Elm"))
    write = resolve_conflict(conflict, "source", source, target, DIGEST)
    assert write is not None and (write.to, write.value) == ("target", "2 Low Rd")


def test_resolve_conflict_after_a_side_changed_again_writes_nothing() -> None:
    conflict = FieldConflict("street", DIGEST("street", "2 Low Rd"), DIGEST("street", "9 Elm"), None)
    assert resolve_conflict(conflict, "source", {"street": "2 Low Rd"}, {"street": "10 Elm"}, DIGEST) is None


def test_conflict_id_is_stable_and_distinct_per_field() -> None:
    assert conflict_id("P1", "personal", "street") == conflict_id("P1", "personal", "street")
    assert conflict_id("P1", "personal", "street") != conflict_id("P1", "personal", "postcode")
    assert conflict_id("P1", "personal", "street") != conflict_id("P2", "personal", "street")


@pytest.mark.parametrize(
    ("direction", "side", "value"),
    [(Direction.SOURCE_TO_TARGET, "target", "a"), (Direction.TARGET_TO_SOURCE, "source", "b")],
)
def test_one_way_overwrites_the_receiving_side(direction: Direction, side: str, value: str) -> None:
    result = one_way({"street": "a"}, {"street": "b"}, {}, ("street",), DIGEST, direction)
    assert [(w.to, w.value) for w in result.writes] == [(side, value)]


def test_one_way_off_sends_nothing_and_two_way_is_refused() -> None:
    assert one_way({"street": "a"}, {"street": "b"}, {}, ("street",), DIGEST, Direction.OFF) == MergeResult()
    with pytest.raises(ValueError, match="two_way"):
        one_way({}, {}, {}, ("street",), DIGEST, Direction.TWO_WAY)


# Properties -------------------------------------------------------------------------------------------------

EDITS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=len(FIELDS))
ROUNDS = st.lists(st.tuples(EDITS, EDITS), min_size=1, max_size=6)
START = st.fixed_dictionaries(dict.fromkeys(FIELDS, VALUES))


@settings(max_examples=300, deadline=None)
@given(start=START, rounds=ROUNDS)
def test_property_no_change_is_lost_and_conflicts_write_nothing(
    start: dict[str, object], rounds: list[tuple[dict[str, object], dict[str, object]]]
) -> None:
    source, target, base = dict(start), dict(start), base_of(start)
    for source_edits, target_edits in rounds:
        source.update(source_edits)
        target.update(target_edits)
        before_source, before_target, before_base = dict(source), dict(target), dict(base)
        result = merge_fields(source, target, base, FIELDS, DIGEST)
        apply(result, source, target, base)
        conflicted = {c.name for c in result.conflicts}
        for name in FIELDS:
            s_changed = DIGEST(name, before_source[name]) != before_base[name]
            t_changed = DIGEST(name, before_target[name]) != before_base[name]
            if s_changed and not t_changed:
                assert target[name] == before_source[name] == source[name]
            elif t_changed and not s_changed:
                assert source[name] == before_target[name] == target[name]
            if name in conflicted:
                # both changed differently: each side keeps its own value and the base stays
                assert (source[name], target[name]) == (before_source[name], before_target[name])
                assert base[name] == before_base[name]
            else:
                # everything else ends the run in step, with the base on that value
                assert DIGEST(name, source[name]) == DIGEST(name, target[name]) == base[name]
            # a merge never invents a value: each side ends with its own or the other side's
            assert source[name] in (before_source[name], before_target[name])
            assert target[name] in (before_source[name], before_target[name])


@settings(max_examples=300, deadline=None)
@given(start=START, rounds=ROUNDS, prefer=st.sampled_from(["source", "target", "review"]))
def test_property_a_run_after_a_completed_run_is_a_no_op(
    start: dict[str, object], rounds: list[tuple[dict[str, object], dict[str, object]]], prefer: Prefer
) -> None:
    source, target, base = dict(start), dict(start), base_of(start)
    for source_edits, target_edits in rounds:
        source.update(source_edits)
        target.update(target_edits)
        first = merge_fields(source, target, base, FIELDS, DIGEST, prefer=prefer)
        apply(first, source, target, base)
        again = merge_fields(source, target, base, FIELDS, DIGEST, prefer=prefer)
        assert again.writes == ()
        assert again.agreed == {}
        # an unresolved conflict stays the same conflict: reported again, never settled by a flip
        assert again.conflicts == first.conflicts
        if prefer != "review":
            assert first.conflicts == ()
            assert source == target


@settings(max_examples=200, deadline=None)
@given(source=START, target=START, runs=st.integers(min_value=2, max_value=5))
def test_property_nothing_flips_back_and_forth_between_runs(
    source: dict[str, object], target: dict[str, object], runs: int
) -> None:
    """From any start, even with no base, each side's value changes at most once over repeated runs."""
    base: dict[str, str] = {}
    history: list[tuple[dict[str, object], dict[str, object]]] = [(dict(source), dict(target))]
    for _ in range(runs):
        apply(merge_fields(source, target, base, FIELDS, DIGEST), source, target, base)
        history.append((dict(source), dict(target)))
    for name in FIELDS:
        for side in (0, 1):
            seen = [state[side][name] for state in history]
            changes = sum(1 for a, b in itertools.pairwise(seen) if a != b)
            assert changes <= 1
    assert history[-1] == history[1]


@settings(max_examples=200, deadline=None)
@given(start=START, source_edits=EDITS, target_edits=EDITS, winner=st.sampled_from(["source", "target"]))
def test_property_resolving_every_conflict_leaves_both_sides_in_step(
    start: dict[str, object], source_edits: dict[str, object], target_edits: dict[str, object], winner: Any
) -> None:
    source, target, base = dict(start), dict(start), base_of(start)
    source.update(source_edits)
    target.update(target_edits)
    result = merge_fields(source, target, base, FIELDS, DIGEST)
    apply(result, source, target, base)
    for conflict in result.conflicts:
        wanted = (source if winner == "source" else target)[conflict.name]
        write = resolve_conflict(conflict, winner, source, target, DIGEST)
        assert write is not None
        apply(MergeResult(writes=(write,)), source, target, base)
        assert source[conflict.name] == target[conflict.name] == wanted
    assert merge_fields(source, target, base, FIELDS, DIGEST) == MergeResult()
