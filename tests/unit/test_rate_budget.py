"""The per-process rate budget: calls spaced to the rate, halved on a 429, climbing back when calm."""

from __future__ import annotations

import httpx
import pytest

from hrsync.systems.http import RateBudget, RetryPolicy, send


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
