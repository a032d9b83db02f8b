"""The fault suite's fast subset (`python -m sandbox.chaos --fast`), through the same code, on a stack of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.chaos import Chaos, ScenarioSpec, chaos_stack, format_table, run_scenario, select

pytestmark = pytest.mark.e2e
FAST = select(only=None, fast=True)


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    with chaos_stack(tmp_path_factory.mktemp("chaos"), quiet=False) as running:  # pytest captures the noise
        yield running


def test_chaos_fast_subset_covers_the_leak_check_duplicates_triggers_and_bad_payloads() -> None:
    assert {spec.name for spec, _ in FAST} >= {"canary", "duplicate_deliveries", "concurrent_triggers", "bad_payloads"}


@pytest.mark.parametrize(("spec", "size"), FAST, ids=[spec.name for spec, _ in FAST])
def test_chaos_scenario_no_duplicates_lost_or_leaks_and_expectation_holds(
    chaos: Chaos, spec: ScenarioSpec, size: int
) -> None:
    row = run_scenario(chaos, spec, size)
    assert row.passed, "\n" + format_table([row])
    assert row.employees == row.successful + row.not_syncing + row.failed
