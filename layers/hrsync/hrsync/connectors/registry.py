"""Every connector hrsync knows, by name. Adding one is a module and a line here."""

from __future__ import annotations

from hrsync.connectors import hr_benefits, micropay_ess, micropay_worknice, staffology_expensein
from hrsync.connectors.base import Connector
from hrsync.errors import ConfigurationError

_CONNECTORS: dict[str, Connector] = {
    staffology_expensein.NAME: staffology_expensein.CONNECTOR,
    hr_benefits.NAME: hr_benefits.CONNECTOR,
    micropay_ess.NAME: micropay_ess.CONNECTOR,
    micropay_worknice.NAME: micropay_worknice.CONNECTOR,
}


def get_connector(name: str) -> Connector:
    try:
        return _CONNECTORS[name]
    except KeyError:
        raise ConfigurationError(f"unknown connector {name!r}; known: {', '.join(sorted(_CONNECTORS))}") from None


def known_connectors() -> list[str]:
    return sorted(_CONNECTORS)
