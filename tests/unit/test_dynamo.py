"""Transactions: contention is retried, a false condition is not, and neither is mistaken for the other."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from hrsync.store import dynamo


def _cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


class FakeClient:
    def __init__(self, failures: list[ClientError]) -> None:
        self.failures = failures
        self.calls = 0

    def transact_write_items(self, **_: Any) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    def install(failures: list[ClientError]) -> FakeClient:
        fake_client = FakeClient(failures)
        monkeypatch.setattr(dynamo, "client", lambda: fake_client)
        monkeypatch.setattr(dynamo.time, "sleep", lambda _: None)
        return fake_client

    return install


def test_transact_retries_transaction_conflicts(fake):
    client = fake([_cancelled("None", "TransactionConflict"), _cancelled("TransactionConflict", "None")])
    dynamo.transact([{}])
    assert client.calls == 3


def test_transact_condition_failure_not_retried_and_recognised(fake):
    client = fake([_cancelled("ConditionalCheckFailed", "None")])
    with pytest.raises(ClientError) as raised:
        dynamo.transact([{}])
    assert client.calls == 1
    assert dynamo.is_conditional_failure(raised.value)


def test_lasting_contention_is_not_taken_for_a_false_condition(fake):
    fake([_cancelled("TransactionConflict")] * 6)
    with pytest.raises(ClientError) as raised:
        dynamo.transact([{}])
    assert not dynamo.is_conditional_failure(raised.value)
