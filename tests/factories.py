"""Test-only builders shared by the test modules."""

from __future__ import annotations

from typing import Any

from hrsync.models.connection import Connection

EMPLOYER_ID = "00000000-0000-0000-0000-000000000001"


def staffology_expensein(
    connection_id: str = "c1",
    *,
    source_url: str = "http://127.0.0.1:1",
    target_url: str = "http://127.0.0.1:2",
    employer_id: str = EMPLOYER_ID,
    **options: Any,
) -> Connection:
    """A staffology-expensein connection as stored, with `options` (the defaults where none are given)."""
    return Connection.model_validate(
        {
            "id": connection_id,
            "connector": "staffology-expensein",
            "source": {"base_url": source_url, "employer_id": employer_id},
            "target": {"base_url": target_url},
            "secret_name": f"hrsync/{connection_id}",
            "options": options,
            "created_at": "2026-11-22T00:00:00Z",
            "updated_at": "2026-11-22T00:00:00Z",
        }
    )
