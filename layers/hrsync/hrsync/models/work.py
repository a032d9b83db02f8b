"""Work items: one employee action on SyncQueue. Ids and field names only, never personal data."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    MARK_LEAVER = "mark_leaver"


class WorkItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: str
    run_id: str
    employee_id: str
    action: Action
    target_id: str | None = None
    fields: tuple[str, ...] = ()
