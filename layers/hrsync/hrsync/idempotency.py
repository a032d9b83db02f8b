"""Creates happen once in effect, with Powertools idempotency over the one table.

The key is connection + run + employee + action + an HMAC of the values sent (keyed per connection), so a
create whose answer was lost (the worker died after the target accepted it) returns the stored target id
instead of creating a second user, while a record that changed since the earlier attempt is a new key and
goes through. The run is part of the key because a later run plans from the target as it is then: a user
deleted since must be created again, not answered with the id it had. Records live under pk `IDEMPOTENCY`
with `expires_at` as their TTL; they hold a hash and the target id, never personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import BaseModel

from hrsync.errors import AttemptInProgressError
from hrsync.settings import get_settings

KEEP_SECONDS = 7 * 24 * 3600
config = IdempotencyConfig(expires_after_seconds=KEEP_SECONDS, raise_on_no_idempotency_key=True, hash_function="sha256")


class CreateKey(BaseModel):
    connection_id: str
    run_id: str
    employee_id: str
    action: str
    payload_hmac: str


def payload_hmac(secret: bytes, payload: dict[str, Any]) -> str:
    """An HMAC of what would be sent: equal payloads give equal keys, and the values cannot be read back."""
    canonical = json.dumps(payload, sort_keys=True, default=str).encode()
    return hmac.new(secret, canonical, hashlib.sha256).hexdigest()


@lru_cache(maxsize=1)
def _create_once() -> Callable[..., dict[str, str]]:
    persistence = DynamoDBPersistenceLayer(
        table_name=get_settings().table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value="IDEMPOTENCY",
        expiry_attr="expires_at",
    )

    @idempotent_function(data_keyword_argument="key", persistence_store=persistence, config=config)
    def create_once(*, key: CreateKey, create: Callable[[], str]) -> dict[str, str]:
        return {"target_id": create()}

    return create_once  # type: ignore[no-any-return]


def create_once(key: CreateKey, create: Callable[[], str]) -> str:
    """Run `create` once per key; a repeat returns the first answer's target id."""
    try:
        return _create_once()(key=key, create=create)["target_id"]
    except IdempotencyAlreadyInProgressError as exc:
        raise AttemptInProgressError("an earlier attempt at this create is still in progress") from exc


def reset() -> None:
    _create_once.cache_clear()
