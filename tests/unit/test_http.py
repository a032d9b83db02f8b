"""Retries: 429 honours Retry-After, 5xx and timeouts are retried, 4xx validation errors never are."""

from __future__ import annotations

import httpx
import pytest

from hrsync.errors import AuthenticationError, RejectedBySystemError, TransientSystemError
from hrsync.systems.http import RetryPolicy, send


def _client(responses: list[httpx.Response | Exception], seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(base_url="http://system.test/", transport=httpx.MockTransport(handle))


FAST = RetryPolicy(attempts=3, max_wait_s=2.0, wait_initial_s=0.01)


def test_send_429_waits_retry_after_then_succeeds(monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json={})], seen)
    assert send(client, "GET", "users", system="T", policy=FAST).status_code == 200
    assert len(seen) == 2 and waits == [1.0]


def test_send_retry_after_capped_by_max_wait(monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    client = _client([httpx.Response(429, headers={"Retry-After": "600"}), httpx.Response(200)], [])
    send(client, "GET", "users", system="T", policy=FAST)
    assert waits == [2.0]


def test_send_5xx_and_timeouts_retried_then_transient_error():
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(500)], seen)
    with pytest.raises(TransientSystemError, match="T answered 500 after 3 tries"):
        send(client, "POST", "users", system="T", policy=FAST)
    assert len(seen) == 3


def test_send_validation_error_not_retried_and_redacted():
    seen: list[httpx.Request] = []
    body = {"message": "ann@example.com is not valid", "errors": [{"field": "email", "message": "bad"}]}
    client = _client([httpx.Response(400, json=body)], seen)
    with pytest.raises(RejectedBySystemError) as rejected:
        send(client, "POST", "users", system="T", policy=FAST)
    assert len(seen) == 1 and rejected.value.status == 400
    assert "ann@example.com" not in str(rejected.value) and "fields: email" in str(rejected.value)


def test_send_401_is_authentication_error():
    client = _client([httpx.Response(401)], [])
    with pytest.raises(AuthenticationError):
        send(client, "GET", "users", system="T", policy=FAST)


def test_send_no_retry_past_the_deadline():
    seen: list[httpx.Request] = []
    client = _client([httpx.Response(503), httpx.Response(200)], seen)
    policy = RetryPolicy(attempts=5, wait_initial_s=0.01, deadline=lambda: 1.0)
    with pytest.raises(TransientSystemError):
        send(client, "GET", "users", system="T", policy=policy)
    assert len(seen) == 1
