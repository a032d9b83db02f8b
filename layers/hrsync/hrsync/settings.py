"""Environment settings, read once per process."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pydantic import BaseModel, Field, ValidationError

from hrsync.errors import ConfigurationError


class Settings(BaseModel):
    """What a function needs from its environment (template.yaml sets these)."""

    table_name: str = Field(min_length=1)
    sync_queue_url: str = Field(min_length=1)
    sync_dlq_url: str = ""
    secret_prefix: str = "hrsync/"  # noqa: S105 - a name prefix, not a secret
    connector: str = ""
    run_functions: dict[str, str] = Field(default_factory=dict)
    run_lease_seconds: int = Field(default=1200, ge=5)
    history_days: int = Field(default=30, ge=1)
    target_retry_attempts: int = Field(default=4, ge=1)
    target_retry_max_wait_s: float = Field(default=20.0, gt=0)
    max_receive_count: int = Field(default=5, ge=1)
    worker_concurrency: int = Field(default=1, ge=1)


_ENV = {
    "table_name": "TABLE_NAME",
    "sync_queue_url": "SYNC_QUEUE_URL",
    "sync_dlq_url": "SYNC_DLQ_URL",
    "secret_prefix": "SECRET_PREFIX",
    "connector": "CONNECTOR",
    "run_functions": "RUN_FUNCTIONS",
    "run_lease_seconds": "RUN_LEASE_SECONDS",
    "history_days": "HISTORY_DAYS",
    "target_retry_attempts": "TARGET_RETRY_ATTEMPTS",
    "target_retry_max_wait_s": "TARGET_RETRY_MAX_WAIT_S",
    "max_receive_count": "MAX_RECEIVE_COUNT",
    "worker_concurrency": "WORKER_CONCURRENCY",
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the environment once; a bad value names the variable."""
    raw: dict[str, object] = {}
    for field, var in _ENV.items():
        value = os.environ.get(var)
        if value is None or value == "":
            continue
        if field == "run_functions":
            try:
                raw[field] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"{var} is not valid JSON") from exc
        else:
            raw[field] = value
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        names = ", ".join(_ENV.get(str(err["loc"][0]), str(err["loc"][0])) for err in exc.errors())
        raise ConfigurationError(f"environment variables missing or invalid: {names}") from exc
