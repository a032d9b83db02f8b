"""The HR and payroll systems a connector may read from when its source is chosen per connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hrsync.errors import ConfigurationError
from hrsync.models.connection import Connection, Credentials
from hrsync.systems.base import SourceSystem
from hrsync.systems.http import RetryPolicy
from hrsync.systems.staffology import NAME as STAFFOLOGY_NAME
from hrsync.systems.staffology import StaffologyPayroll


@dataclass(frozen=True)
class SourceOption:
    name: str
    open: Callable[[Connection, Credentials, RetryPolicy], SourceSystem]


def open_staffology(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> StaffologyPayroll:
    """The connection's Staffology employer, read with the connection's `source_read_concurrency`."""
    if not connection.source.employer_id:
        raise ConfigurationError(f"connection {connection.id}: source.employer_id is required for Staffology")
    return StaffologyPayroll.connect(
        str(connection.source.base_url),
        connection.source.employer_id,
        credentials.source.api_key,
        policy,
        concurrency=connection.options.source_read_concurrency,
    )


SOURCES: dict[str, SourceOption] = {
    "staffology": SourceOption(STAFFOLOGY_NAME, open_staffology),
}


def source_option(connection: Connection) -> SourceOption:
    """The source system a connection names in `source.system`; ConfigurationError when it names none we know."""
    system = connection.source.system
    try:
        return SOURCES[system or ""]
    except KeyError:
        raise ConfigurationError(
            f"connection {connection.id}: source.system must be one of {', '.join(sorted(SOURCES))}"
        ) from None
