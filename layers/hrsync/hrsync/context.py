"""What a use case works with: the store, and open systems for a connection (cached per process)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from hrsync.connectors import Connector, get_connector
from hrsync.errors import AuthenticationError
from hrsync.models.connection import Connection
from hrsync.settings import get_settings
from hrsync.store.secrets import credentials_for
from hrsync.store.table import Store
from hrsync.sync.plan import Policy
from hrsync.systems.base import SourceSystem, TargetSystem
from hrsync.systems.http import RetryPolicy

_MAX_AGE_S = 300


@lru_cache(maxsize=1)
def store() -> Store:
    settings = get_settings()
    return Store(settings.table_name, keep_days=settings.history_days)


@dataclass
class OpenConnection:
    """A connection with its connector and clients to both systems; reused while the process lives."""

    connection: Connection
    connector: Connector
    policy: Policy
    source: SourceSystem
    target: TargetSystem
    retry: RetryPolicy
    secret: bytes = b""  # per-connection key for HMACs of payloads, derived from its credentials
    opened: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        self.source.close()
        self.target.close()


_OPEN: dict[str, OpenConnection] = {}
_OPENING = threading.Lock()  # a worker applies a batch's items in threads


def open_connection(connection_id: str, *, refresh: bool = False, current: Connection | None = None) -> OpenConnection:
    """Open (or reuse) a connection's systems. `refresh` re-reads the config and force-fetches the secret;
    `current` is the config as just read: a cached connection saved since (options, URLs) is opened anew."""
    with _OPENING:
        return _open(connection_id, refresh=refresh, current=current)


def _open(connection_id: str, *, refresh: bool, current: Connection | None) -> OpenConnection:
    cached = _OPEN.get(connection_id)
    fresh = cached is not None and time.monotonic() - cached.opened < _MAX_AGE_S
    if cached and fresh and not refresh and (current is None or current == cached.connection):
        return cached
    if cached:
        cached.close()
        _OPEN.pop(connection_id, None)
    settings = get_settings()
    connection = store().get_connection(connection_id)
    connector = get_connector(connection.connector)
    credentials = credentials_for(connection, force=refresh)
    retry = RetryPolicy(attempts=settings.target_retry_attempts, max_wait_s=settings.target_retry_max_wait_s)
    opened = OpenConnection(
        connection=connection,
        connector=connector,
        policy=connector.policy_for(connection),
        source=connector.open_source(connection, credentials, retry),
        target=connector.open_target(connection, credentials, retry),
        retry=retry,
        secret=hashlib.sha256(credentials.model_dump_json().encode()).digest(),
    )
    _OPEN[connection_id] = opened
    return opened


def with_fresh_credentials[T](
    connection_id: str,
    call: Callable[[OpenConnection], T],
    deadline: Callable[[], float] | None = None,
    current: Connection | None = None,
) -> T:
    """Run `call` on the open connection; after a 401/403 force-fetch the secret once and run it again."""
    opened = open_connection(connection_id, current=current)
    opened.retry.deadline = deadline
    try:
        return call(opened)
    except AuthenticationError:
        opened = open_connection(connection_id, refresh=True)
        opened.retry.deadline = deadline
        return call(opened)


def forget_connections() -> None:
    """Close every cached connection (tests; a connection whose config changed)."""
    for opened in _OPEN.values():
        opened.close()
    _OPEN.clear()
