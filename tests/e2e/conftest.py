"""One local stack (moto server, simulators, function hosts, emulator, local API) for the e2e session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.stack import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack(state_dir=None) as running:
        yield running


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with stack.api_client() as client:
        yield client


@pytest.fixture
def systems(stack: LocalStack) -> dict[str, str]:
    """Sandbox base URLs, reset before each test."""
    urls = {
        "staffology": stack.state()["systems"]["staffology"],
        "expensein": stack.state()["systems"]["expensein"].removesuffix("/1.0"),
    }
    for url in urls.values():
        httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    return urls
