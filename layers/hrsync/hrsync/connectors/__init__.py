"""Connector policies (which systems, match keys, fields and directions) and the registry."""

from hrsync.connectors.base import Connector, RunRead
from hrsync.connectors.registry import get_connector, known_connectors

__all__ = ["Connector", "RunRead", "get_connector", "known_connectors"]
