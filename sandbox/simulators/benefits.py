"""The benefits platform of the sandbox: the real third-party SCIM 2.0 server scim2-server, embedded.

hrsync does not write its own SCIM server: scim2-server (an in-memory SCIM server "for the tests and the demos
of a SCIM client") answers every SCIM request through its WSGI application, over its in-memory storage. This
module only puts it behind the same HTTP server and `/_sandbox/` control surface as the other simulators:

- SCIM under `<url>/v2` (`/Users`, `/Groups`, `/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`), with
  bearer-token auth (`Authorization: Bearer sandbox-benefits-token`).
- `PUT|GET /_sandbox/records`: SCIM User resources in and out of scim2-server's storage. Records are stored as
  given (so two accounts with one email can be staged); a record without an id or meta gets them.
- `PUT /_sandbox/faults`, `GET /_sandbox/requests`, `POST /_sandbox/reset`: as for every simulator (faults and
  the request log wrap the SCIM application like a middleware).
- Departments: SCIM holds a department as text on the user, so `PUT /_sandbox/departments` takes only `[]`.

Users carry the RFC 7643 enterprise extension and hrsync's provisional benefits extension
(`urn:hrsync:params:scim:schemas:extension:benefits:2.0:User`, see hrsync.systems.scim).
"""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from scim2_models import Meta, SchemaExtension, ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from hrsync.systems.scim import BenefitsUser
from sandbox.simulators.base import CONTROL_PREFIX, LOOPBACK, HttpError, Request, Response, Simulator

DEFAULT_API_KEY = "sandbox-benefits-token"
SCIM_PREFIX = "/v2"


def benefits_provider() -> ScimProvider:
    """scim2-server's default schemas and resource types, with the benefits extension on User."""
    schemas = [*load_default_schemas().values(), BenefitsUser.to_schema()]
    resource_types = load_default_resource_types()
    user = resource_types["User"]
    user.schema_extensions = [
        *(user.schema_extensions or []),
        SchemaExtension(schema_=BenefitsUser.__schema__, required=False),
    ]
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    return ScimProvider.from_discovery(schemas, resource_types.values(), config=config)


class BenefitsSimulator(Simulator):
    """scim2-server, with the sandbox's control surface, faults and request log around it."""

    display_name = "Benefits platform (SCIM)"
    default_port = 8103

    def __init__(self, token: str = DEFAULT_API_KEY, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.api_key = token
        self.provider = benefits_provider()
        self.user_model = self.provider.model_for("User")
        self.storage = InMemoryStorage()
        self.application = BearerTokenApplication(
            self.storage,
            self.provider,
            service=ScimService(self.provider, secret=uuid.uuid4().hex),
            bearer_tokens=[token],
        )

    @property
    def scim_url(self) -> str:
        return f"{self.url}{SCIM_PREFIX}"

    # --- the embedded SCIM application ------------------------------------------------------------------
    def _answer(self, request: Request, *, authorize: bool) -> Response:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return super()._answer(request, authorize=False)
        return self._wsgi(request)

    def _wsgi(self, request: Request) -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "SERVER_NAME": LOOPBACK,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(request.body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"], started["headers"] = int(status.split(" ", 1)[0]), headers
            return lambda data: None

        chunks: Iterable[bytes] = self.application(environ, start_response)  # type: ignore[arg-type]
        body = b"".join(chunks)
        headers = {k: v for k, v in started.get("headers", []) if k.lower() != "content-length"}
        return Response(started.get("status", 500), body or None, headers)

    # --- state hooks -------------------------------------------------------------------------------------
    def clear_state(self) -> None:
        self.storage.resources = []

    def load_records(self, records: list[Any]) -> None:
        resources = []
        now = datetime.now(UTC)
        ids: set[str] = set()
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise HttpError(400, f"record {index} is not a JSON object", extra={"index": index})
            try:
                user = self.user_model.model_validate(record)
            except ValueError as exc:
                raise HttpError(400, f"record {index} is not a SCIM User: {exc}", extra={"index": index}) from None
            user.id = user.id or uuid.uuid4().hex
            if user.id in ids:
                raise HttpError(400, f"record {index} repeats id {user.id}", extra={"index": index})
            ids.add(user.id)
            if user.meta is None:
                user.meta = Meta(
                    resource_type="User", created=now, last_modified=now, version=self.storage.next_version()
                )
            resources.append(user)
        self.storage.resources = resources

    def dump_records(self) -> list[Any]:
        return [resource.model_dump() for resource in self.storage.resources]

    def load_departments(self, departments: list[Any]) -> None:
        if departments:
            raise HttpError(400, "SCIM has no departments to load: a department is text on the user")

    def dump_departments(self) -> list[Any]:
        return []

    def is_authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"


if __name__ == "__main__":
    sys.exit(BenefitsSimulator.main())
