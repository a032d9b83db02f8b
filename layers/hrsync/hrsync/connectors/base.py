"""A connector is mostly declaration: its systems, required fields and the fields it keeps in step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hrsync.models.connection import Connection, Credentials
from hrsync.sync.plan import Policy
from hrsync.systems.base import SourceSystem, TargetSystem
from hrsync.systems.http import RetryPolicy

SourceFactory = Callable[[Connection, Credentials, RetryPolicy], SourceSystem]
TargetFactory = Callable[[Connection, Credentials, RetryPolicy], TargetSystem]


@dataclass(frozen=True)
class Connector:
    name: str
    source_name: str
    target_name: str
    open_source: SourceFactory
    open_target: TargetFactory
    policy_for: Callable[[Connection], Policy]
