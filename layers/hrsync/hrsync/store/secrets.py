"""Connection credentials from Secrets Manager, through Powertools parameters (cached five minutes)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from hrsync.errors import ConfigurationError
from hrsync.models.connection import Connection, Credentials

CACHE_SECONDS = 300


def credentials_for(connection: Connection, *, force: bool = False) -> Credentials:
    """The connection's credentials; `force` fetches again (after a system refused the cached ones)."""
    try:
        raw = provider().get(connection.secret_name, transform="json", max_age=CACHE_SECONDS, force_fetch=force)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(
            f"connection {connection.id}: secret {connection.secret_name} could not be read"
        ) from exc
    except parameters.exceptions.TransformParameterError as exc:
        raise ConfigurationError(f"connection {connection.id}: secret {connection.secret_name} is not JSON") from exc
    try:
        return Credentials.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors(include_input=False))
        raise ConfigurationError(f"connection {connection.id}: secret {connection.secret_name} lacks {fields}") from exc


@lru_cache(maxsize=1)
def provider() -> parameters.SecretsProvider:
    """Powertools' Secrets Manager provider (its cache is per provider): created on first use, or by warm_up."""
    return parameters.SecretsProvider()


@lru_cache(maxsize=1)
def _secretsmanager() -> Any:
    return boto3.client("secretsmanager")


def current_version(secret_name: str) -> str | None:
    """The AWSCURRENT version id of a secret (to notice new credentials), or None if it cannot be described."""
    try:
        described = _secretsmanager().describe_secret(SecretId=secret_name)
    except (ClientError, BotoCoreError):
        return None
    for version, stages in (described.get("VersionIdsToStages") or {}).items():
        if "AWSCURRENT" in stages:
            return str(version)
    return None


def reset_clients() -> None:
    _secretsmanager.cache_clear()
    provider.cache_clear()
