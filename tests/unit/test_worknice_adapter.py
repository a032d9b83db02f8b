"""The Worknice adapter (systems/worknice.py): pure mapping, its GraphQL requests, and against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from hrsync.errors import AuthenticationError, ExternalSystemError, RejectedBySystemError
from hrsync.models.employee import (
    Address,
    BankAccount,
    BankShare,
    Employee,
    EmploymentStatus,
    RecordRejection,
    TaxDetails,
)
from hrsync.systems.http import RetryPolicy
from hrsync.systems.worknice import TOKEN_HEADER, Person, Worknice, person_from_worknice, person_input
from sandbox.sample import worknice_person
from sandbox.simulators import WorkniceSimulator

FAST = RetryPolicy(attempts=1)


def test_person_from_worknice_maps_profile_tax_and_status() -> None:
    raw = worknice_person("wn-1", "P001", "Ann", "Lee", "ann@example.com", status="ARCHIVED")

    person = person_from_worknice(raw)

    assert isinstance(person, Person)
    employee = person.employee
    assert (employee.id, employee.code, employee.first_name, employee.last_name) == ("wn-1", "P001", "Ann", "Lee")
    assert employee.address == Address(
        street="1 George St", suburb="Sydney", state="NSW", postcode="2000", country="AU"
    )
    assert employee.tax == TaxDetails(tax_free_threshold=True, residency_status="RESIDENT", help_debt=False)
    assert employee.status is EmploymentStatus.FORMER


def test_person_from_worknice_bad_field_is_named_without_its_value() -> None:
    raw = {**worknice_person("wn-1", "P001", "Ann", "Lee"), "startDate": "secret-not-a-date"}

    result = person_from_worknice(raw, position="people, record 3")

    assert isinstance(result, RecordRejection)
    assert (result.record_id, result.field, result.position) == ("wn-1", "startDate", "people, record 3")
    assert "secret" not in result.reason


def test_person_from_worknice_percent_split_has_no_fixed_accounts() -> None:
    raw = {
        **worknice_person("wn-1", "P001", "Ann", "Lee"),
        "bankAccounts": [
            {"bsb": "062-000", "accountNumber": "1", "percentage": 30, "order": 1},
            {"bsb": "033-000", "accountNumber": "2", "balanceOfPay": True, "order": 2},
        ],
    }

    person = person_from_worknice(raw)

    assert isinstance(person, Person)
    assert person.employee.bank_accounts is None
    assert [(b.percentage, b.balance_of_pay) for b in person.employee.bank_split or ()] == [
        (Decimal(30), False),
        (None, True),
    ]


def test_person_from_worknice_split_with_graphql_nulls_takes_the_defaults() -> None:
    null = {"bsb": None, "accountName": None, "amount": None}
    raw = {
        **worknice_person("wn-1", "P001", "Ann", "Lee"),
        "bankAccounts": [
            {**null, "bsb": "062-000", "accountNumber": "1", "percentage": 30.0, "balanceOfPay": None, "order": 1},
            {**null, "accountNumber": "2", "percentage": None, "balanceOfPay": True, "order": None},
        ],
    }

    person = person_from_worknice(raw)

    assert isinstance(person, Person)
    assert person.employee.bank_split == (
        BankShare(bsb="062-000", account_number="1", percentage=Decimal(30), order=1),
        BankShare(account_number="2", balance_of_pay=True, order=1),
    )


def test_person_from_worknice_fixed_split_maps_to_accounts() -> None:
    raw = {
        **worknice_person("wn-1", "P001", "Ann", "Lee"),
        "bankAccounts": [{"bsb": "062-000", "accountNumber": "1", "amount": "100", "order": 1}],
    }

    person = person_from_worknice(raw)

    assert isinstance(person, Person)
    assert person.employee.bank_accounts == (BankAccount(bsb="062-000", account_number="1", amount="100.00"),)
    assert person.employee.bank_split == (BankShare(bsb="062-000", account_number="1", amount="100.00"),)


def test_person_input_refuses_a_field_worknice_does_not_take() -> None:
    with pytest.raises(ValueError, match="location"):
        person_input(Employee(id="x"), ("location",))


def test_worknice_sends_token_header_and_graphql_body() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"session": {"org": {"people": []}}}})

    client = httpx.Client(
        base_url="https://wn.test/", transport=httpx.MockTransport(answer), headers={TOKEN_HEADER: "k"}
    )
    Worknice(client, FAST).list_people()

    [request] = seen
    assert request.method == "POST" and request.url.path == "/api/graphql"
    assert request.headers[TOKEN_HEADER] == "k"
    body = json.loads(request.content)
    assert "people(includeArchived: true, first: $first, after: $after)" in body["query"]
    assert body["variables"] == {"first": 100, "after": None}


def paged(people: list[dict[str, object]], seen: list[dict[str, object]]) -> httpx.MockTransport:
    """A Worknice answering people(first:, after:) over `people`, recording each request's variables."""

    def answer(request: httpx.Request) -> httpx.Response:
        variables = json.loads(request.content)["variables"]
        seen.append(variables)
        after = variables["after"]
        page = [p for p in people if after is None or str(p["id"]) > after][: variables["first"]]
        return httpx.Response(200, json={"data": {"session": {"org": {"people": page}}}})

    return httpx.MockTransport(answer)


def test_list_people_reads_page_after_page_by_the_last_id_until_a_short_page() -> None:
    people = [worknice_person(f"wn-{n}", f"P00{n}", "A", "B") for n in range(1, 6)]
    seen: list[dict[str, object]] = []
    client = httpx.Client(base_url="https://wn.test/", transport=paged(people, seen))

    found, rejected = Worknice(client, FAST, page_size=2).list_people()

    assert [p.employee.id for p in found] == ["wn-1", "wn-2", "wn-3", "wn-4", "wn-5"]
    assert rejected == []
    assert seen == [{"first": 2, "after": None}, {"first": 2, "after": "wn-2"}, {"first": 2, "after": "wn-4"}]


def test_list_people_full_last_page_reads_one_more_empty_page() -> None:
    people = [worknice_person(f"wn-{n}", f"P00{n}", "A", "B") for n in range(1, 5)]
    seen: list[dict[str, object]] = []
    client = httpx.Client(base_url="https://wn.test/", transport=paged(people, seen))

    found, _ = Worknice(client, FAST, page_size=2).list_people()

    assert len(found) == 4
    assert [v["after"] for v in seen] == [None, "wn-2", "wn-4"]


def test_list_people_page_failing_part_way_is_an_error_and_the_listing_incomplete() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return httpx.Response(500, json={"message": "down"})
        page = [worknice_person("wn-1", "P001", "A", "B"), worknice_person("wn-2", "P002", "C", "D")]
        return httpx.Response(200, json={"data": {"session": {"org": {"people": page}}}})

    client = httpx.Client(base_url="https://wn.test/", transport=httpx.MockTransport(answer))
    listing = Worknice(client, FAST, page_size=2).list_records()

    assert not listing.complete
    assert listing.records == []


def test_list_people_server_ignoring_the_cursor_is_an_error_not_a_loop() -> None:
    page = [worknice_person("wn-1", "P001", "A", "B"), worknice_person("wn-2", "P002", "C", "D")]
    client = httpx.Client(
        base_url="https://wn.test/",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"data": {"session": {"org": {"people": page}}}})
        ),
    )

    with pytest.raises(ExternalSystemError, match="page 2"):
        Worknice(client, FAST, page_size=2).list_people()


def test_worknice_graphql_errors_name_paths_not_messages() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"data": None, "errors": [{"message": "ann@example.com is taken", "path": ["updatePerson"]}]}
        return httpx.Response(200, json=body)

    client = httpx.Client(base_url="https://wn.test/", transport=httpx.MockTransport(answer))
    with pytest.raises(RejectedBySystemError) as caught:
        Worknice(client, FAST).update_person("wn-1", Employee(id="x", email="e"), ("email",))

    assert "updatePerson" in str(caught.value)
    assert "ann@example.com" not in str(caught.value)


# Against the simulator -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[WorkniceSimulator]:
    with WorkniceSimulator() as running:
        yield running


@pytest.fixture
def worknice(simulator: WorkniceSimulator) -> Iterator[Worknice]:
    httpx.post(f"{simulator.url}/_sandbox/reset").raise_for_status()
    people = [
        worknice_person("wn-1", "P001", "Ann", "Lee", "ann@example.com"),
        worknice_person("wn-2", None, "Bo", "Ray"),
        worknice_person("wn-3", "P003", "Cy", "Dee", status="ARCHIVED"),
        {"id": "wn-4", "startDate": "nope"},
    ]
    httpx.put(f"{simulator.url}/_sandbox/records", json=people).raise_for_status()
    adapter = Worknice.connect(simulator.url, simulator.token, FAST)
    yield adapter
    adapter.close()


def test_simulator_refuses_a_wrong_token(simulator: WorkniceSimulator) -> None:
    adapter = Worknice.connect(simulator.url, "wrong", FAST)
    with pytest.raises(AuthenticationError):
        adapter.list_people()


def test_list_people_from_the_simulator_reads_more_than_one_page(simulator: WorkniceSimulator) -> None:
    httpx.post(f"{simulator.url}/_sandbox/reset").raise_for_status()
    people = [worknice_person(f"wn-{n:02d}", f"P{n:03d}", "A", "B") for n in range(7, 0, -1)]
    httpx.put(f"{simulator.url}/_sandbox/records", json=people).raise_for_status()
    adapter = Worknice(httpx.Client(base_url=simulator.url, headers={TOKEN_HEADER: simulator.token}), FAST, page_size=3)

    found, _ = adapter.list_people()

    assert [p.employee.id for p in found] == [f"wn-{n:02d}" for n in range(1, 8)]
    graphql = [r for r in httpx.get(f"{simulator.url}/_sandbox/requests").json() if r["path"] == "/api/graphql"]
    assert len(graphql) == 3


def test_simulator_people_page_size_out_of_range_is_a_graphql_error(simulator: WorkniceSimulator) -> None:
    adapter = Worknice(
        httpx.Client(base_url=simulator.url, headers={TOKEN_HEADER: simulator.token}), FAST, page_size=501
    )

    with pytest.raises(RejectedBySystemError, match=r"session\.org\.people"):
        adapter.list_people()


def test_list_people_reads_everyone_and_names_the_bad_record(worknice: Worknice) -> None:
    people, rejections = worknice.list_people()

    assert [p.employee.id for p in people] == ["wn-1", "wn-2", "wn-3"]
    assert [p.employee.code for p in people] == ["P001", None, "P003"]
    assert [(r.record_id, r.field) for r in rejections] == [("wn-4", "startDate")]


def test_update_person_writes_address_and_tax(worknice: Worknice, simulator: WorkniceSimulator) -> None:
    employee = Employee(
        id="P001",
        address=Address(street="9 Elm Ave", suburb="Carlton", state="VIC", postcode="3053", country="AU"),
        tax=TaxDetails(tax_free_threshold=False, residency_status="RESIDENT", help_debt=True),
    )

    worknice.update_person("wn-1", employee, ("address", "tax"))

    people, _ = worknice.list_people()
    ann = {p.employee.id: p.employee for p in people}["wn-1"]
    assert ann.address == employee.address
    assert ann.tax == employee.tax


def test_simulator_operations_log_tells_reads_from_writes(worknice: Worknice, simulator: WorkniceSimulator) -> None:
    worknice.list_people()
    worknice.update_person("wn-1", Employee(id="P001", phone="0411"), ("phone",))
    worknice.complete_integration_sync("int-1")

    operations = httpx.get(f"{simulator.url}/_sandbox/operations").json()

    assert operations == [
        {"type": "query", "fields": ["session"]},
        {"type": "mutation", "fields": ["updatePerson"]},
        {"type": "mutation", "fields": ["completeIntegrationSync"]},
    ]
    assert httpx.get(f"{simulator.url}/_sandbox/operations", params={"since": 2}).json() == operations[2:]


def test_update_person_unknown_person_is_rejected(worknice: Worknice) -> None:
    with pytest.raises(RejectedBySystemError, match="updatePerson"):
        worknice.update_person("nobody", Employee(id="x", phone="1"), ("phone",))


def test_person_connections_create_update_list_and_complete(worknice: Worknice, simulator: WorkniceSimulator) -> None:
    made = worknice.create_person_connection("int-1", "wn-1", "P001", "Ann Lee", "CONNECTED")
    worknice.create_person_connection("int-1", None, "P077", "Someone", "REMOTE_ONLY")
    worknice.create_person_connection("int-2", "wn-2", "X", "Other", "CONNECTED")

    worknice.update_person_connection(made, remote_id="P001", remote_name="Ann Lee", status="MERGED")
    worknice.complete_integration_sync("int-1")

    found = {c.remote_id: c for c in worknice.person_connections("int-1")}
    assert set(found) == {"P001", "P077"}
    assert (found["P001"].person_id, found["P001"].status) == ("wn-1", "MERGED")
    assert (found["P077"].person_id, found["P077"].status) == (None, "REMOTE_ONLY")
    assert httpx.get(f"{simulator.url}/_sandbox/integration-syncs").json() == ["int-1"]


def test_create_person_connection_twice_for_one_remote_is_refused(worknice: Worknice) -> None:
    worknice.create_person_connection("int-1", "wn-1", "P001", "Ann Lee", "CONNECTED")
    with pytest.raises(RejectedBySystemError):
        worknice.create_person_connection("int-1", "wn-1", "P001", "Ann Lee", "CONNECTED")


def test_leave_requests_by_status_and_balances(worknice: Worknice, simulator: WorkniceSimulator) -> None:
    requests = [
        {"id": "lr-1", "personId": "wn-1", "category": "ANNUAL", "startDate": "2026-12-01", "endDate": "2026-12-02",
         "hours": 15.2, "status": "APPROVED"},
        {"id": "lr-2", "personId": "wn-1", "category": "SICK", "startDate": "2026-11-03", "endDate": "2026-11-03",
         "hours": 7.6, "status": "PENDING"},
        {"id": "lr-3", "personId": "wn-2", "category": "ANNUAL", "startDate": "2026-10-01", "endDate": "2026-10-01",
         "hours": 7.6, "status": "CANCELLED"},
    ]  # fmt: skip
    httpx.put(f"{simulator.url}/_sandbox/leave-requests", json=requests).raise_for_status()

    found, rejected = worknice.leave_requests()
    worknice.set_leave_balances("wn-1", {"ANNUAL": Decimal("76.0"), "SICK": Decimal("38")})

    assert rejected == []
    assert [(r.request_id, r.person_id, r.status, r.hours) for r in found] == [
        ("lr-1", "wn-1", "APPROVED", Decimal("15.2")),
        ("lr-3", "wn-2", "CANCELLED", Decimal("7.6")),
    ]
    assert httpx.get(f"{simulator.url}/_sandbox/leave-balances").json() == {"wn-1": {"ANNUAL": "76.0", "SICK": "38"}}


def test_list_records_marks_listing_incomplete_when_worknice_fails(simulator: WorkniceSimulator) -> None:
    httpx.put(f"{simulator.url}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    try:
        listing = Worknice.connect(simulator.url, simulator.token, FAST).list_records()
    finally:
        httpx.put(f"{simulator.url}/_sandbox/faults", json={}).raise_for_status()

    assert not listing.complete
    assert listing.records == []


def test_list_people_without_people_in_answer_is_an_error() -> None:
    client = httpx.Client(
        base_url="https://wn.test/", transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"data": {}}))
    )
    with pytest.raises(ExternalSystemError, match=r"session\.org\.people"):
        Worknice(client, FAST).list_people()
