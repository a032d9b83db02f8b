"""Thin DynamoDB plumbing: a lazily created client, (de)serialisation, paging, batches, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from hrsync.errors import HrsyncError

WRITE_CONCURRENCY = 8  # BatchWriteItem calls in flight at once for one large write (a run's states)
_SER = TypeSerializer()
_DE = TypeDeserializer()
Item = dict[str, Any]


class StoreError(HrsyncError):
    """DynamoDB refused or failed a request."""


@lru_cache(maxsize=1)
def client() -> Any:
    """Created on first use, so tests' mock_aws and AWS_ENDPOINT_URL take effect."""
    return boto3.client("dynamodb", config=Config(retries={"mode": "adaptive", "max_attempts": 8}))


def reset_clients() -> None:
    client.cache_clear()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _storable(value: Any) -> Any:
    """DynamoDB numbers are Decimals: floats go through their string form."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(_storable(v)) for k, v in item.items() if v is not None}


def values(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(_storable(v)) for k, v in mapping.items()}


def deserialize(raw: Mapping[str, Any]) -> Item:
    return {k: _plain(_DE.deserialize(v)) for k, v in raw.items()}


def is_conditional_failure(exc: ClientError) -> bool:
    """A condition was false (not contention, not an outage): the write was refused for what the item holds."""
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        codes = cancellation_codes(exc)
        return not codes or "ConditionalCheckFailed" in codes
    return False


def cancellation_codes(exc: ClientError) -> list[str]:
    """Why a transaction was cancelled: one code per action (None, ConditionalCheckFailed, TransactionConflict)."""
    return [str(reason.get("Code")) for reason in exc.response.get("CancellationReasons", [])]


def transact(items: list[dict[str, Any]], *, attempts: int = 6) -> None:
    """TransactWriteItems, retrying the cancellations that are contention (another transaction on the same
    item), never those whose condition failed."""
    for attempt in range(attempts):
        try:
            client().transact_write_items(TransactItems=items)
            return
        except ClientError as exc:
            codes = cancellation_codes(exc)
            contended = "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes
            if not contended or attempt == attempts - 1:
                raise
            time.sleep(min(1.0, 0.02 * 2**attempt))


def query(table: str, **kwargs: Any) -> Iterator[Item]:
    """Every item of a query, page by page."""
    while True:
        try:
            page = client().query(TableName=table, **kwargs)
        except ClientError as exc:
            raise StoreError(f"DynamoDB query failed: {exc.response['Error']['Code']}") from exc
        for raw in page.get("Items", []):
            yield deserialize(raw)
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def get(table: str, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
    try:
        raw = client().get_item(TableName=table, Key=values({"pk": pk, "sk": sk}), ConsistentRead=consistent)
    except ClientError as exc:
        raise StoreError(f"DynamoDB get failed: {exc.response['Error']['Code']}") from exc
    return deserialize(raw["Item"]) if "Item" in raw else None


def put(table: str, item: Mapping[str, Any], **kwargs: Any) -> None:
    client().put_item(TableName=table, Item=serialize(item), **kwargs)


def batch_write(table: str, puts: list[Item], deletes: list[tuple[str, str]] | None = None) -> None:
    """BatchWriteItem in 25s, up to WRITE_CONCURRENCY at once, retrying UnprocessedItems with backoff."""
    requests = [{"PutRequest": {"Item": serialize(item)}} for item in puts]
    requests += [{"DeleteRequest": {"Key": values({"pk": pk, "sk": sk})}} for pk, sk in deletes or []]
    chunks = [requests[start : start + 25] for start in range(0, len(requests), 25)]
    if len(chunks) <= 1:
        for chunk in chunks:
            _write_chunk(table, chunk)
        return
    with ThreadPoolExecutor(max_workers=WRITE_CONCURRENCY) as pool:
        list(pool.map(lambda chunk: _write_chunk(table, chunk), chunks))


def _write_chunk(table: str, chunk: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table: chunk}
    for attempt in range(10):
        response = client().batch_write_item(RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
        time.sleep(min(2.0, 0.05 * 2**attempt))
    raise StoreError("DynamoDB left items unprocessed after 10 tries")


def batch_get(table: str, keys: list[tuple[str, str]]) -> list[Item]:
    """BatchGetItem in 100s, retrying UnprocessedKeys."""
    found: list[Item] = []
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {
            table: {
                "Keys": [values({"pk": pk, "sk": sk}) for pk, sk in keys[start : start + 100]],
                "ConsistentRead": True,
            }
        }
        for attempt in range(10):
            response = client().batch_get_item(RequestItems=pending)
            found += [deserialize(raw) for raw in response.get("Responses", {}).get(table, [])]
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(2.0, 0.05 * 2**attempt))
        else:
            raise StoreError("DynamoDB left keys unprocessed after 10 tries")
    return found
