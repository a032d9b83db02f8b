"""MicrOpay -> Access ESS: members from payroll by the change feed; self-service edits back to payroll.

Matched by employee code (MicrOpay's EmpCode == the member's employee code). Employment and pay fields flow
MicrOpay -> ESS on every run. Profile fields (email, phone, address, emergency contact, bank accounts) are sent
only when the member is created; after that ESS owns them and member edits flow back (see member_edits.py).
Each run refreshes payroll's lookups first and reads the change feed (change_feed.py); a weekly full
reconciliation, or `full: true` on POST /syncs, compares everyone.
"""

from __future__ import annotations

from hrsync.change_feed import read_by_change_feed
from hrsync.connectors.base import Connector, target_budget
from hrsync.errors import ConfigurationError
from hrsync.member_edits import upload_member_edits
from hrsync.models.connection import Connection, Credentials
from hrsync.sync.plan import Policy
from hrsync.systems.access_ess import PROFILE_FIELDS, AccessEss
from hrsync.systems.http import RetryPolicy
from hrsync.systems.micropay import MicrOpay

NAME = "micropay-ess"
SOURCE = "MicrOpay"
TARGET = "Access ESS"
PAYROLL_OWNED = (
    "code",
    "first_name",
    "last_name",
    "gender",
    "start_date",
    "location",
    "pay_point",
    "pay_frequency",
    "job_classification",
    "cost_account",
    "super_fund",
    "leave_date",
)


def open_micropay(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> MicrOpay:
    """MicrOpay from a connection: its Web API key, and the username and password its secret must hold."""
    extra = credentials.source.model_extra or {}
    for name in ("username", "password"):
        if not isinstance(extra.get(name), str) or not extra[name]:
            raise ConfigurationError(f"connection {connection.id}: secret field source.{name} is required for MicrOpay")
    return MicrOpay.connect(
        str(connection.source.base_url), credentials.source.api_key, extra["username"], extra["password"], policy
    )


def _target(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> AccessEss:
    return AccessEss.connect(
        str(connection.target.base_url),
        credentials.target.api_key,
        policy,
        budget=target_budget(connection),
    )


def _policy(connection: Connection) -> Policy:
    # Names are required by the MicrOpay mapping itself; a deleted employee (code only) is still a leaver.
    return Policy(
        source_name=SOURCE,
        target_name=TARGET,
        required_fields=("code",),
        synced_fields=PAYROLL_OWNED,
        create_only_fields=PROFILE_FIELDS,
        record_name="member",
        key_word="employee code",
    )


CONNECTOR = Connector(
    name=NAME,
    source_name=SOURCE,
    target_name=TARGET,
    open_source=open_micropay,
    open_target=_target,
    policy_for=_policy,
    read_run=read_by_change_feed,
    upload_run=upload_member_edits,
)
