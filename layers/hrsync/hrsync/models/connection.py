"""A connection: one customer's instance of a connector, as stored and as the API takes it."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl


def _storable_url(url: HttpUrl) -> HttpUrl:
    # Normalising (IDNA hosts, a trailing slash) can lengthen a URL past what HttpUrl reads back: refuse it
    # here rather than store a connection that cannot be loaded again.
    if len(str(url)) > 2000:
        raise ValueError("URL should have at most 2000 characters once normalised")
    return url


class SystemEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: Annotated[HttpUrl, AfterValidator(_storable_url)]
    employer_id: str | None = Field(default=None, max_length=100)
    # Which system this is, for a connector whose source is chosen per connection (hr-benefits: "staffology").
    system: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9-]+$")


def _four_places(value: float) -> float:
    return round(value, 4)


class ConnectionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_bank_details: bool = False
    # Numbers are stored in DynamoDB (38 digits, no denormals): bounded, and fractions kept to 4 places.
    leaver_threshold_percent: Annotated[float, AfterValidator(_four_places)] = Field(default=10.0, ge=0, le=100)
    leaver_threshold_min: int = Field(default=5, ge=0, le=1_000_000)
    approval_wait_hours: int = Field(default=24, ge=1, le=24 * 14)
    target_rate_limit_per_s: Annotated[float, AfterValidator(_four_places)] | None = Field(
        default=None, ge=0.01, le=10_000
    )
    # Employee details a full read fetches from the source at once, at most (Staffology: its list gives ids
    # only). A 429 halves it for the rest of that read; lower it for a source that throttles.
    source_read_concurrency: int = Field(default=256, ge=1, le=1024)
    # Incremental runs (a source with a change feed): changes are read from the last complete read minus
    # this overlap (the source's clock may run behind ours), and every so many days a run reads everyone.
    change_feed_overlap_seconds: int = Field(default=300, ge=0, le=86_400)
    full_read_every_days: int = Field(default=7, ge=1, le=31)
    # Connectors with data groups (micropay-worknice): a direction per group (source_to_target,
    # target_to_source, two_way, off; the connector checks each group and direction), how a two_way group
    # settles a field changed differently on both sides (source, target, or review: a conflict to resolve),
    # and which leave categories employees may see in the target.
    directions: dict[str, str] = Field(default_factory=dict, max_length=20)
    prefer: dict[str, Literal["source", "target", "review"]] = Field(default_factory=dict, max_length=20)
    visible_leave_categories: list[str] | None = Field(default=None, max_length=50)

    def leaver_threshold(self, linked: int) -> int:
        """The most leaver marks a run may make without approval: a share of linked users, with a floor."""
        return max(self.leaver_threshold_min, math.ceil(linked * self.leaver_threshold_percent / 100))


class ConnectionInput(BaseModel):
    """Body of PUT /connections/{id}."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "connector": "staffology-expensein",
                    "source": {"base_url": "https://payroll.example.com/", "employer_id": "acme"},
                    "target": {"base_url": "https://expenses.example.com/1.0/"},
                    "secret_name": "hrsync/acme-staffology-expensein",
                    "options": {"include_bank_details": False, "leaver_threshold_percent": 10},
                }
            ]
        },
    )

    connector: str = Field(min_length=1, max_length=64, examples=["staffology-expensein"])
    source: SystemEndpoint
    target: SystemEndpoint
    secret_name: str = Field(min_length=1, max_length=512, examples=["hrsync/acme-payroll"])
    options: ConnectionOptions = ConnectionOptions()


class Connection(ConnectionInput):
    id: str
    created_at: str
    updated_at: str
    secret_version: str | None = None


class SystemCredentials(BaseModel):
    model_config = ConfigDict(extra="allow")

    api_key: str = Field(min_length=1)


class Credentials(BaseModel):
    """The SecretString of a connection's secret: `{"source": {"api_key": ..}, "target": {"api_key": ..}}`."""

    source: SystemCredentials
    target: SystemCredentials
