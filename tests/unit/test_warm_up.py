"""warm_up: in Lambda the AWS clients and the TLS context are made while the function initialises; outside
Lambda (tests, the CLI) nothing is made, so clients are made on first use, inside tests' mocks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hrsync import context, settings
from hrsync.entry import warm_up
from hrsync.store import dynamo, queue, secrets

MADE = (context.store, dynamo.client, queue.client, secrets.provider)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "TABLE_NAME": "t",
        "SYNC_QUEUE_URL": "http://q.test/q",
        "AWS_DEFAULT_REGION": "eu-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    settings.get_settings.cache_clear()
    for made in MADE:
        made.cache_clear()
    yield
    for made in MADE:
        made.cache_clear()
    settings.get_settings.cache_clear()


def test_outside_lambda_nothing_is_made(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    warm_up()
    assert [made.cache_info().currsize for made in MADE] == [0, 0, 0, 0]


def test_in_lambda_the_clients_are_made_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "hrsync-SyncWorkerFunction")
    warm_up()
    assert [made.cache_info().currsize for made in MADE] == [1, 1, 1, 1]
    client = dynamo.client()
    warm_up()
    assert dynamo.client() is client
