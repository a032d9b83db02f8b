"""Domain errors. Each entry point maps them to a response once (see api/app.py)."""

from __future__ import annotations


class HrsyncError(Exception):
    """Base of every hrsync error. Messages carry ids and reasons, never personal data."""


class ConfigurationError(HrsyncError):
    """The deployment or a connection is configured wrongly."""


class NotFoundError(HrsyncError):
    """An id names nothing (connection, run, employee, failure)."""


class RunInProgressError(HrsyncError):
    """A connection already has a run holding its lock."""

    def __init__(self, connection_id: str, run_id: str) -> None:
        super().__init__(f"connection {connection_id} is already running run {run_id}")
        self.connection_id = connection_id
        self.run_id = run_id


class StateConflictError(HrsyncError):
    """A state change was refused because the item is not in the state it needs."""


class ExternalSystemError(HrsyncError):
    """Base for errors talking to an external system."""


class AuthenticationError(ExternalSystemError):
    """The system refused our credentials (401/403)."""


class TransientSystemError(ExternalSystemError):
    """A fault worth retrying later: 429, 5xx, timeouts, connection errors."""


class AttemptInProgressError(TransientSystemError):
    """Another attempt at the same change is under way; try later. Not a failure of the system."""


class RejectedBySystemError(ExternalSystemError):
    """The system refused the request for a reason retrying will not change (4xx validation)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RecordNotFoundError(ExternalSystemError):
    """The system has no record with that id (404 on a single-record read)."""
