"""The per-process rate budget: calls spaced to the rate, halved on a 429, climbing back when calm."""

from __future__ import annotations

import httpx
import pytest

from hrsync.systems.http import RateBudget, RetryPolicy, send
from tests.factories import staffology_expensein


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_budget_spaces_calls_at_the_rate():
    clock = Clock()
    budget = RateBudget(10, clock)
    waits = [budget.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_budget_halves_on_429_and_recovers_when_calm():
    clock = Clock()
    budget = RateBudget(40, clock)
    budget.throttled()
    budget.throttled()
    assert budget.rate == 10
    clock.now += 5  # five calm seconds: +4/s each, capped at the ceiling
    budget.reserve()
    assert budget.rate == 30
    clock.now += 10
    budget.reserve()
    assert budget.rate == 40


def test_budget_never_below_one_call_a_second():
    budget = RateBudget(2, Clock())
    for _ in range(5):
        budget.throttled()
    assert budget.rate == RateBudget.MIN_RATE


def test_send_takes_a_slot_per_attempt_and_reports_429(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("time.sleep", lambda _: None)
    answers = [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200)]
    client = httpx.Client(base_url="http://t.test/", transport=httpx.MockTransport(lambda _: answers.pop(0)))
    budget = RateBudget(100, Clock())
    send(client, "GET", "x", system="T", policy=RetryPolicy(attempts=3, wait_initial_s=0.0), budget=budget)
    assert budget.rate == 50
    # two slots were taken: the first at 100/s, the second after the 429 at 50/s
    assert budget.reserve() == pytest.approx(1 / 100 + 1 / 50)


def test_budget_starts_with_its_burst_and_credits_idle_time_up_to_it():
    clock = Clock()
    budget = RateBudget(10, clock, burst_s=1.0)
    # a new budget has a full second of credit (it has made no call): ten calls at once, then its pace
    assert [budget.reserve() for _ in range(12)] == pytest.approx([0.0] * 10 + [0.1, 0.2])
    clock.now += 0.2  # two slots were waited for: the next call waits its turn
    assert budget.reserve() == pytest.approx(0.1)
    clock.now += 5  # five idle seconds, but only one second of calls is credited
    waits = [budget.reserve() for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.1, 0.2])


def test_budget_429_drops_the_credit():
    clock = Clock()
    budget = RateBudget(10, clock, burst_s=1.0)
    clock.now += 5
    budget.reserve()
    budget.throttled()
    assert budget.rate == 5
    waits = [budget.reserve() for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.2, 0.4])  # no seconds saved up any more: spaced at the halved rate


def test_budgets_of_a_connection_are_shared_by_the_process_and_split_the_limit(monkeypatch: pytest.MonkeyPatch):
    from hrsync.connectors.base import BUDGET_BURST_S, target_budget

    for name, value in {"WORKER_CONCURRENCY": "4", "TABLE_NAME": "t", "SYNC_QUEUE_URL": "http://q.test/q"}.items():
        monkeypatch.setenv(name, value)
    from hrsync.settings import get_settings

    get_settings.cache_clear()
    try:
        connection = staffology_expensein("budget-test", target_rate_limit_per_s=200)
        first, second = target_budget(connection), target_budget(connection)
        assert first is second
        assert first is not None and first.ceiling == 50 and first.burst_s == BUDGET_BURST_S
    finally:
        get_settings.cache_clear()
