"""Contract tests: the Staffology adapter and the Staffology simulator against Staffology's published OpenAPI.

1. The real adapter (`hrsync.systems.staffology.StaffologyPayroll`) talks to Prism serving the spec with
   `--errors`, so any request that breaks the spec (unknown path, wrong parameter type or enum value, a
   non-uuid id, missing Basic auth) is answered 4xx instead of 2xx. Every request the adapter sends is
   recorded through an httpx event hook; each must get a 2xx and must also pass a stricter check of our own
   (every query parameter is one the operation declares; Prism lets unknown ones through).
2. The simulator (`sandbox.simulators.StaffologySimulator`) answers the operations a sync uses with bodies that
   must validate against the spec's response schemas (OpenAPI 3.0 `nullable` included), and
   `sandbox.sample.staffology_employee(...)` must build a valid `Contract.EmployeeResponse`.

The spec is `shared/specs/staffology-employee-sync-subset.openapi.json` beside the repository (override the
shared folder with HRSYNC_SHARED_DIR); Prism comes from npm (`make setup`). Missing either fails the tests.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, oas30_format_checker

from hrsync.errors import AuthenticationError
from hrsync.models.employee import Employee
from hrsync.systems import staffology
from hrsync.systems.http import RetryPolicy, build_client
from hrsync.systems.staffology import StaffologyPayroll
from sandbox.sample import staffology_employee
from sandbox.simulators import StaffologySimulator
from sandbox.simulators.staffology import DEFAULT_API_KEY, DEFAULT_EMPLOYER_ID

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
SPEC_NAME = "staffology-employee-sync-subset.openapi.json"
PRISM = ROOT / "node_modules" / ".bin" / "prism"
PRISM_START_TIMEOUT_S = 30.0
EMPLOYER_ID = "6b0a1f7e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
API_KEY = "contract-test-key"
MAX_ADAPTER_REQUESTS = 300  # a bound on one adapter run against Prism's random data
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


# --- the spec ----------------------------------------------------------------------------------------------
def spec_path() -> Path:
    shared = os.environ.get("HRSYNC_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared"
    return base / "specs" / SPEC_NAME


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        pytest.fail(
            f"Staffology OpenAPI description not found at {path}: it lives in the shared/ folder beside the "
            "repository; set HRSYNC_SHARED_DIR to the shared folder if it is elsewhere."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def validator_for(spec: dict[str, Any], schema: dict[str, Any], *, response: bool = False) -> OAS30Validator:
    """A validator of `schema` whose `#/components/...` refs resolve into the spec's components.

    OAS 3.0 schemas are draft-4 based, so the sibling `components` key is ignored while validating but serves
    as the target of every `$ref`. Response bodies use the read validator (writeOnly properties not allowed).
    """
    cls = OAS30ReadValidator if response else OAS30Validator
    return cls({**schema, "components": spec["components"]}, format_checker=oas30_format_checker)


def schema_errors(spec: dict[str, Any], schema: dict[str, Any], value: Any, *, response: bool = False) -> list[str]:
    errors = validator_for(spec, schema, response=response).iter_errors(value)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in errors]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    placeholders: int
    definition: dict[str, Any] = field(hash=False, compare=False)
    parameters: tuple[dict[str, Any], ...] = field(hash=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.template} ({self.definition.get('operationId')})"

    def response_schema(self, status: int) -> dict[str, Any]:
        return self.definition["responses"][str(status)]["content"]["application/json"]["schema"]


def operations(spec: dict[str, Any]) -> list[Operation]:
    found: list[Operation] = []
    for template, item in spec["paths"].items():
        shared = item.get("parameters", [])
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        for method in METHODS:
            if method in item:
                own = item[method].get("parameters", [])
                names = {(p["in"], p["name"]) for p in own}
                params = tuple(own) + tuple(p for p in shared if (p["in"], p["name"]) not in names)
                found.append(
                    Operation(method, template, re.compile(f"^{regex}$"), template.count("{"), item[method], params)
                )
    return found


def match_operation(spec: dict[str, Any], method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The spec operation a request hits; a literal segment wins over a `{placeholder}` (leavers vs {id})."""
    candidates = []
    for operation in operations(spec):
        hit = operation.pattern.match(path)
        if operation.method == method.lower() and hit:
            candidates.append((operation.placeholders, operation, hit.groupdict()))
    if not candidates:
        return None
    _, operation, path_params = min(candidates, key=lambda c: c[0])
    return operation, path_params


def coerce(spec: dict[str, Any], schema: dict[str, Any], raw: str) -> Any:
    """A query or path value as the JSON value the parameter's schema describes; left as text if it is not one."""
    kind = resolve(spec, schema).get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def request_problems(spec: dict[str, Any], request: httpx.Request) -> list[str]:
    """Everything about one request that the spec does not allow, checked more strictly than Prism does."""
    where = f"{request.method} {request.url.raw_path.decode()}"
    matched = match_operation(spec, request.method, request.url.path)
    if matched is None:
        return [f"{where}: no operation in the spec"]
    operation, path_values = matched
    problems: list[str] = []
    declared = {(p["in"], p["name"]): p for p in operation.parameters}
    for name, raw in path_values.items():
        param = declared[("path", name)]
        problems += [
            f"{where}: path {name}: {e}"
            for e in schema_errors(spec, param["schema"], coerce(spec, param["schema"], raw))
        ]
    query = request.url.params
    for name in query:
        param = declared.get(("query", name))
        values = query.get_list(name)
        if param is None:
            problems.append(f"{where}: query parameter {name!r} is not declared by {operation.name}")
            continue
        if len(values) > 1:
            problems.append(f"{where}: query parameter {name!r} repeated")
        for raw in values:
            value = coerce(spec, param["schema"], raw)
            problems += [f"{where}: query {name}={raw!r}: {e}" for e in schema_errors(spec, param["schema"], value)]
    for (place, name), param in declared.items():
        if param.get("required") and place == "query" and name not in query:
            problems.append(f"{where}: required query parameter {name!r} missing")
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if "Basic" in spec["components"]["securitySchemes"] and scheme != "Basic":
        problems.append(f"{where}: no HTTP Basic credentials")
    elif scheme == "Basic" and not base64.b64decode(credentials).decode().partition(":")[2]:
        problems.append(f"{where}: Basic credentials without a password (the API key)")
    if request.method == "GET" and request.content:
        problems.append(f"{where}: a GET with a body")
    return problems


# --- Prism -------------------------------------------------------------------------------------------------
@dataclass
class Prism:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="session")
def prism(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    """`prism mock <spec> --errors` on a free loopback port for the session; stopped at the end."""
    if not PRISM.exists():
        pytest.fail(
            "Prism is not installed (node_modules/.bin/prism is missing): run `make setup`, or "
            "`npm install --no-audit --no-fund` in the repository root."
        )
    if shutil.which("node") is None:
        pytest.fail("Prism needs Node.js (`node`) on PATH.")
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(PRISM), "mock", str(spec_path()), "-h", "127.0.0.1", "-p", str(port), "--errors"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + PRISM_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism exited with code {process.returncode} while starting:\n{_log_tail(log)}")
            try:
                httpx.get(f"{url}/", timeout=1.0)  # any answer (Prism says 404 for /) means it is serving
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not answer within {PRISM_START_TIMEOUT_S:.0f} s:\n{_log_tail(log)}")
                time.sleep(0.1)
        yield Prism(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- recording the adapter's requests ----------------------------------------------------------------------
class Recorder:
    """An httpx response hook keeping every exchange; refuses to let a run go unbounded."""

    def __init__(self, limit: int = MAX_ADAPTER_REQUESTS) -> None:
        self.limit = limit
        self.responses: list[httpx.Response] = []
        self._lock = threading.Lock()

    def __call__(self, response: httpx.Response) -> None:
        with self._lock:
            self.responses.append(response)
            if len(self.responses) > self.limit:
                raise RuntimeError(f"the adapter sent more than {self.limit} requests")

    @property
    def exchanges(self) -> list[tuple[httpx.Request, int]]:
        return [(response.request, response.status_code) for response in self.responses]

    def attach(self, client: httpx.Client) -> httpx.Client:
        hooks = client.event_hooks
        client.event_hooks = {**hooks, "response": [*hooks.get("response", []), self]}
        return client

    def refused(self) -> list[str]:
        """Every exchange that did not get a 2xx, with the server's reason (Prism names the broken rule)."""
        return [
            f"{r.request.method} {r.request.url.raw_path.decode()} -> {r.status_code}: {r.text[:400]}"
            for r in self.responses
            if not 200 <= r.status_code < 300
        ]

    def problems(self, spec: dict[str, Any]) -> list[str]:
        return [problem for request, _ in self.exchanges for problem in request_problems(spec, request)]


def recording_adapter(
    base_url: str,
    recorder: Recorder,
    *,
    page_size: int,
    auth: httpx.Auth | None = None,
    headers: dict[str, str] | None = None,
) -> StaffologyPayroll:
    """The adapter through its constructor with the client `connect` would build, plus the recording hook."""
    client = recorder.attach(build_client(base_url, headers=headers, auth=auth))
    return StaffologyPayroll(client, EMPLOYER_ID, RetryPolicy(attempts=1), page_size=page_size)


def assert_all_accepted(recorder: Recorder, spec: dict[str, Any], *, minimum: int) -> None:
    assert len(recorder.exchanges) >= minimum, f"only {len(recorder.exchanges)} requests were sent"
    assert recorder.refused() == [], "Prism refused requests the adapter sent"
    assert recorder.problems(spec) == []


def paths_sent(recorder: Recorder) -> list[str]:
    return [request.url.path for request, _ in recorder.exchanges]


# --- 1. the adapter against Prism --------------------------------------------------------------------------
def test_staffology_adapter_connect_list_and_get_are_accepted_by_prism(
    prism: Prism, spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()

    def recording_build_client(*args: Any, **kwargs: Any) -> httpx.Client:
        return recorder.attach(build_client(*args, **kwargs))

    monkeypatch.setattr(staffology, "build_client", recording_build_client)
    adapter = StaffologyPayroll.connect(prism.url, employer_id=EMPLOYER_ID, api_key="x", policy=RetryPolicy(attempts=1))
    try:
        listing = adapter.list_employees()
        assert listing.complete, listing.incomplete_reason
        assert listing.records, listing.rejections
        one = adapter.get_employee(listing.records[0].id)
    finally:
        adapter.close()

    assert isinstance(one, Employee)
    assert one.id == listing.records[0].id
    assert_all_accepted(recorder, spec, minimum=5)
    statuses = {request.url.params["status"] for request, _ in recorder.exchanges if request.url.params}
    assert statuses == {"Current", "Upcoming", "Former"}


def test_staffology_adapter_several_pages_are_accepted_by_prism(prism: Prism, spec: dict[str, Any]) -> None:
    # Prism's static listing has one Item; with pageSize=1 every status is read to page 1 (which repeats page 0,
    # so the adapter stops and marks the listing incomplete): pageNum > 0 gets checked too.
    recorder = Recorder()
    adapter = recording_adapter(prism.url, recorder, page_size=1, auth=httpx.BasicAuth("hrsync", API_KEY))
    try:
        listing = adapter.list_employees()
    finally:
        adapter.close()

    assert_all_accepted(recorder, spec, minimum=7)
    assert {request.url.params.get("pageNum") for request, _ in recorder.exchanges} >= {"0", "1"}
    assert listing.records or listing.rejections


def test_staffology_adapter_random_schema_data_requests_are_accepted_by_prism(
    prism: Prism, spec: dict[str, Any]
) -> None:
    # `Prefer: dynamic=true` makes Prism generate random schema-shaped bodies: listings of random length with
    # random uuids, so the adapter reads details of many different ids. Their ids never match what was asked
    # for, so those come back as rejections; what matters here is that every request was valid.
    recorder = Recorder()
    adapter = recording_adapter(
        prism.url,
        recorder,
        page_size=50,
        auth=httpx.BasicAuth("hrsync", API_KEY),
        headers={"Prefer": "dynamic=true"},
    )
    try:
        for _ in range(3):
            adapter.list_employees()
    finally:
        adapter.close()

    assert_all_accepted(recorder, spec, minimum=9)
    details = {path for path in paths_sent(recorder) if re.search(r"/employees/[0-9a-f-]{36}$", path)}
    assert len(details) > 1


def test_staffology_adapter_without_basic_auth_is_refused_by_prism_with_401(prism: Prism, spec: dict[str, Any]) -> None:
    recorder = Recorder()
    adapter = recording_adapter(prism.url, recorder, page_size=10, auth=None)
    try:
        with pytest.raises(AuthenticationError):
            adapter.get_employee(str(uuid.uuid4()))
        listing = adapter.list_employees()
    finally:
        adapter.close()

    assert not listing.complete
    assert {status for _, status in recorder.exchanges} == {401}
    assert recorder.refused(), "the check that every request got a 2xx would have caught this"
    assert any("no HTTP Basic credentials" in problem for problem in recorder.problems(spec))


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("employees", {"pageNum": "abc"}, 422),
        ("employees", {"pageSize": "1.5"}, 422),
        ("employees", {"status": "Retired"}, 422),
        ("employees", {"sortBy": "Surname"}, 422),
        ("employees/not-a-uuid", {}, 422),
        ("employeez", {}, 404),
    ],
    ids=[
        "pageNum-not-integer",
        "pageSize-not-integer",
        "status-not-in-enum",
        "sortBy-not-in-enum",
        "id-not-uuid",
        "unknown-path",
    ],
)
def test_prism_request_breaking_spec_is_refused(
    prism: Prism, spec: dict[str, Any], path: str, params: dict[str, str], expected: int
) -> None:
    with httpx.Client(base_url=prism.url, auth=("hrsync", API_KEY), timeout=10) as client:
        response = client.get(f"/employers/{EMPLOYER_ID}/{path}", params=params)
    assert response.status_code == expected, response.text
    assert request_problems(spec, response.request) != []


def test_prism_employer_id_not_uuid_is_refused_with_422(prism: Prism) -> None:
    with httpx.Client(base_url=prism.url, auth=("hrsync", API_KEY), timeout=10) as client:
        response = client.get("/employers/ACME/employees")
    assert response.status_code == 422, response.text


def test_request_check_undeclared_query_parameter_is_reported(spec: dict[str, Any]) -> None:
    # Prism lets unknown query parameters through, so our own check has to catch a misspelt one.
    request = httpx.Request(
        "GET",
        f"http://api.invalid/employers/{EMPLOYER_ID}/employees",
        params={"page": 0, "pageSize": 10},
        headers={"Authorization": "Basic " + base64.b64encode(b"u:key").decode()},
    )
    assert request_problems(spec, request) == [
        f"GET /employers/{EMPLOYER_ID}/employees?page=0&pageSize=10: query parameter 'page' is not declared by "
        "GET /employers/{employerId}/employees (IndexEmployee)"
    ]


def test_request_check_literal_path_wins_over_placeholder(spec: dict[str, Any]) -> None:
    matched = match_operation(spec, "GET", f"/employers/{EMPLOYER_ID}/employees/leavers")
    assert matched is not None
    assert matched[0].definition["operationId"] == "LeaversEmployee"


# --- 2. the simulator and the sample records against the spec ----------------------------------------------
BANK = {"accountName": "A Lee", "accountNumber": "12345678", "sortCode": "112233"}


def sample_records() -> list[dict[str, Any]]:
    return [
        staffology_employee("E001", "Ann", "Lee", "ann@example.com", bank=BANK),
        staffology_employee("E002", "Bob", "Ray", None, department="ENG", status="Upcoming", bank=BANK),
        staffology_employee("E003", "Cy", None, "cy@example.com", status="Former", leave_date="2025-03-31", bank=BANK),
    ]


@pytest.fixture(scope="module")
def simulator() -> Iterator[StaffologySimulator]:
    with StaffologySimulator(port=0) as running:
        with httpx.Client(base_url=running.url, timeout=5) as control:
            control.put("/_sandbox/records", json=sample_records()).raise_for_status()
            departments = [
                {"code": "SALES", "title": "Sales", "color": "#ff0000", "accountingCode": "4000"},
                {"code": "ENG", "title": "Engineering"},
            ]
            control.put("/_sandbox/departments", json=departments).raise_for_status()
        yield running


@pytest.fixture
def vendor_client(simulator: StaffologySimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, auth=("hrsync", DEFAULT_API_KEY), timeout=5) as client:
        yield client


SIMULATOR_CALLS: dict[str, tuple[str, dict[str, str]]] = {
    "IndexEmployee": ("employees", {"pageNum": "0", "pageSize": "2", "status": "Current", "sortBy": "PayrollCode"}),
    "GetEmployee": (f"employees/{sample_records()[0]['id']}", {}),
    "LeaversEmployee": ("employees/leavers", {}),
    "SearchByPayrollCodeEmployee": ("employees/search/payrollcode", {"code": "E002"}),
    "IndexDepartment": ("departments", {}),
}


@pytest.mark.parametrize("operation_id", list(SIMULATOR_CALLS))
def test_staffology_simulator_operation_response_matches_spec_schema(
    spec: dict[str, Any], vendor_client: httpx.Client, operation_id: str
) -> None:
    path, params = SIMULATOR_CALLS[operation_id]
    response = vendor_client.get(f"/employers/{DEFAULT_EMPLOYER_ID}/{path}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    matched = match_operation(spec, "GET", response.request.url.path)
    assert matched is not None
    operation, _ = matched
    assert operation.definition["operationId"] == operation_id
    assert request_problems(spec, response.request) == []
    body = response.json()
    assert body, "an empty answer would prove nothing"
    assert schema_errors(spec, operation.response_schema(200), body, response=True) == []


def test_staffology_simulator_answers_to_adapter_match_spec(
    spec: dict[str, Any], simulator: StaffologySimulator
) -> None:
    recorder = Recorder()
    client = recorder.attach(build_client(simulator.url, auth=httpx.BasicAuth("hrsync", DEFAULT_API_KEY)))
    adapter = StaffologyPayroll(client, DEFAULT_EMPLOYER_ID, RetryPolicy(attempts=1), page_size=2)
    try:
        listing = adapter.list_employees()
    finally:
        adapter.close()

    assert listing.complete
    assert len(listing.records) == 3
    assert listing.rejections == []
    assert recorder.refused() == []
    assert recorder.problems(spec) == []
    assert len(recorder.responses) >= 4
    for response in recorder.responses:
        matched = match_operation(spec, response.request.method, response.request.url.path)
        assert matched is not None
        errors = schema_errors(spec, matched[0].response_schema(200), response.json(), response=True)
        assert errors == [], f"{response.request.url.path}: {errors}"


def employee_response_errors(spec: dict[str, Any]) -> Callable[[dict[str, Any]], list[str]]:
    schema = {"$ref": "#/components/schemas/Contract.EmployeeResponse"}
    return lambda record: schema_errors(spec, schema, record, response=True)


@pytest.mark.parametrize("record", sample_records(), ids=lambda record: record["employmentDetails"]["payrollCode"])
def test_sample_staffology_employee_full_record_is_valid_employee_response(
    spec: dict[str, Any], record: dict[str, Any]
) -> None:
    assert employee_response_errors(spec)(record) == []


@pytest.mark.parametrize(
    "kwargs", [{}, {"department": None, "bank": BANK}], ids=["defaults-bank-none", "department-none"]
)
def test_sample_staffology_employee_defaults_is_valid_employee_response(
    spec: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    record = staffology_employee("E010", "Dee", "Fox", "dee@example.com", **kwargs)
    assert employee_response_errors(spec)(record) == []


def test_schema_check_wrong_field_type_is_reported(spec: dict[str, Any]) -> None:
    # Proves the schema check can fail: a number where the spec wants a string, an unknown status.
    record = staffology_employee("E011", "Eve", "Gale", "eve@example.com", bank=BANK)
    record["employmentDetails"]["payrollCode"] = 11
    record["status"] = "Retired"
    errors = employee_response_errors(spec)(record)
    assert any(error.startswith("employmentDetails/payrollCode") for error in errors)
    assert any(error.startswith("status") for error in errors)


def test_staffology_adapter_search_by_name_is_accepted_by_prism(prism: Prism, spec: dict[str, Any]) -> None:
    # The employee tabs' search by name asks Staffology (names are not stored in hrsync).
    recorder = Recorder()
    adapter = recording_adapter(prism.url, recorder, page_size=100, auth=httpx.BasicAuth("hrsync", API_KEY))
    try:
        found = adapter.search("Lee")
        short = adapter.search("Le")
    finally:
        adapter.close()

    assert_all_accepted(recorder, spec, minimum=1)
    assert [request.url.params["query"] for request, _ in recorder.exchanges] == ["Lee"]  # 2 letters: not asked
    assert all(isinstance(item_id, str) for item_id in found) and short == []
