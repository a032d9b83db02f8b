"""Simulated vendor systems: real HTTP servers on loopback with a `/_sandbox/` control surface.

    with StaffologySimulator() as payroll, ExpenseInSimulator() as expenses:
        httpx.put(f"{payroll.url}/_sandbox/records", json=[...])

Names are imported on first use so `python -m sandbox.simulators.<vendor>` runs each module only once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.simulators.access_ess import AccessEssSimulator
    from sandbox.simulators.base import Faults, HttpError, Request, Response, Simulator, route
    from sandbox.simulators.benefits import DEFAULT_API_KEY as BENEFITS_API_KEY
    from sandbox.simulators.benefits import BenefitsSimulator
    from sandbox.simulators.expensein import DEFAULT_API_KEY as EXPENSEIN_API_KEY
    from sandbox.simulators.expensein import ExpenseInSimulator
    from sandbox.simulators.micropay import MicrOpaySimulator
    from sandbox.simulators.staffology import DEFAULT_API_KEY as STAFFOLOGY_API_KEY
    from sandbox.simulators.staffology import DEFAULT_EMPLOYER_ID as STAFFOLOGY_EMPLOYER_ID
    from sandbox.simulators.staffology import StaffologySimulator
    from sandbox.simulators.worknice import DEFAULT_TOKEN as WORKNICE_TOKEN
    from sandbox.simulators.worknice import WorkniceSimulator

_PUBLIC = {
    "Faults": ("base", "Faults"),
    "HttpError": ("base", "HttpError"),
    "Request": ("base", "Request"),
    "Response": ("base", "Response"),
    "Simulator": ("base", "Simulator"),
    "route": ("base", "route"),
    "BenefitsSimulator": ("benefits", "BenefitsSimulator"),
    "BENEFITS_API_KEY": ("benefits", "DEFAULT_API_KEY"),
    "ExpenseInSimulator": ("expensein", "ExpenseInSimulator"),
    "MicrOpaySimulator": ("micropay", "MicrOpaySimulator"),
    "AccessEssSimulator": ("access_ess", "AccessEssSimulator"),
    "EXPENSEIN_API_KEY": ("expensein", "DEFAULT_API_KEY"),
    "StaffologySimulator": ("staffology", "StaffologySimulator"),
    "STAFFOLOGY_API_KEY": ("staffology", "DEFAULT_API_KEY"),
    "STAFFOLOGY_EMPLOYER_ID": ("staffology", "DEFAULT_EMPLOYER_ID"),
    "WorkniceSimulator": ("worknice", "WorkniceSimulator"),
    "WORKNICE_TOKEN": ("worknice", "DEFAULT_TOKEN"),
}

__all__ = [
    "BENEFITS_API_KEY",
    "EXPENSEIN_API_KEY",
    "STAFFOLOGY_API_KEY",
    "STAFFOLOGY_EMPLOYER_ID",
    "WORKNICE_TOKEN",
    "AccessEssSimulator",
    "BenefitsSimulator",
    "ExpenseInSimulator",
    "Faults",
    "HttpError",
    "MicrOpaySimulator",
    "Request",
    "Response",
    "Simulator",
    "StaffologySimulator",
    "WorkniceSimulator",
    "route",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
