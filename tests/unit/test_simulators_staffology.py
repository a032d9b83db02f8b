"""The simulated Staffology Payroll API, driven over HTTP as the Staffology adapter would."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox.simulators import StaffologySimulator
from sandbox.simulators.staffology import DEFAULT_API_KEY, DEFAULT_EMPLOYER_ID

BASE = f"/employers/{DEFAULT_EMPLOYER_ID}"
EMPLOYEES = f"{BASE}/employees"


@pytest.fixture(scope="module")
def simulator() -> Iterator[StaffologySimulator]:
    with StaffologySimulator() as running:
        yield running


@pytest.fixture
def client(simulator: StaffologySimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, auth=("ignored", DEFAULT_API_KEY), timeout=5) as http:
        http.post("/_sandbox/reset").raise_for_status()
        yield http


def employee(number: int, *, status: str | None = None, dept: str | None = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "personalDetails": {
            "firstName": "Ann",
            "lastName": f"Smith{number}",
            "email": f"a{number}@example.com",
        },
        "employmentDetails": {"payrollCode": f"E{number:03d}"},
        **extra,
    }
    if status is not None:
        record["status"] = status
    if dept is not None:
        record["employmentDetails"]["department"] = {"code": dept, "title": dept.title()}
    return record


def load(client: httpx.Client, records: list[dict[str, Any]]) -> None:
    client.put("/_sandbox/records", json=records).raise_for_status()


def read_all_pages(client: httpx.Client, page_size: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Reads until a page comes back shorter than pageSize, as the spec requires; returns items and pages."""
    items: list[dict[str, Any]] = []
    page_num = 0
    while True:
        page = client.get(EMPLOYEES, params={"pageNum": page_num, "pageSize": page_size, **params}).json()
        items.extend(page)
        page_num += 1
        if len(page) < page_size:
            return items, page_num


def test_auth_missing_answers_401_with_basic_challenge(simulator: StaffologySimulator) -> None:
    response = httpx.get(f"{simulator.url}{EMPLOYEES}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_auth_wrong_password_answers_401(simulator: StaffologySimulator) -> None:
    response = httpx.get(f"{simulator.url}{EMPLOYEES}", auth=("ignored", "wrong"))
    assert response.status_code == 401


def test_auth_any_username_with_the_key_as_password_is_accepted(simulator: StaffologySimulator) -> None:
    response = httpx.get(f"{simulator.url}{EMPLOYEES}", auth=("someone else", DEFAULT_API_KEY))
    assert response.status_code == 200


def test_auth_custom_key_and_employer_are_honoured() -> None:
    employer = "11111111-2222-4333-8444-555555555555"
    with StaffologySimulator(employer_id=employer, api_key="k") as running:
        assert httpx.get(f"{running.url}/employers/{employer}/employees", auth=("", "k")).status_code == 200
        assert httpx.get(f"{running.url}{EMPLOYEES}", auth=("", "k")).status_code == 404


def test_employees_unknown_employer_answers_404(client: httpx.Client) -> None:
    assert client.get("/employers/99999999-9999-4999-8999-999999999999/employees").status_code == 404


def test_employees_list_items_have_the_item_shape(client: httpx.Client) -> None:
    load(client, [employee(1)])
    assert client.get(EMPLOYEES).json() == [
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "name": "Ann Smith1",
            "url": f"{EMPLOYEES}/00000000-0000-4000-8000-000000000001",
            "metadata": None,
        }
    ]


def test_employees_paging_reads_until_a_short_page(client: httpx.Client) -> None:
    load(client, [employee(n) for n in range(1, 251)])
    items, pages = read_all_pages(client, 100)
    assert pages == 3
    assert [item["id"] for item in items] == [employee(n)["id"] for n in range(1, 251)]


def test_employees_paging_exact_multiple_ends_with_an_empty_page(client: httpx.Client) -> None:
    load(client, [employee(n) for n in range(1, 21)])
    items, pages = read_all_pages(client, 10)
    assert (len(items), pages) == (20, 3)


def test_employees_page_size_defaults_to_100(client: httpx.Client) -> None:
    load(client, [employee(n) for n in range(1, 151)])
    assert len(client.get(EMPLOYEES).json()) == 100
    assert len(client.get(EMPLOYEES, params={"pageNum": 1}).json()) == 50


@pytest.mark.parametrize(
    "params",
    [
        {"pageNum": "abc"},
        {"pageSize": "1.5"},
        {"pageNum": -1},
        {"status": "Retired"},
        {"sortBy": "Salary"},
        {"sortDescending": "maybe"},
    ],
)
def test_employees_bad_query_parameter_answers_400_naming_it(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get(EMPLOYEES, params=params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["message"]


def test_employees_status_filter_treats_missing_status_as_current(client: httpx.Client) -> None:
    load(client, [employee(1), employee(2, status="Former"), employee(3, status="Upcoming")])
    names = {
        status: [item["name"] for item in client.get(EMPLOYEES, params={"status": status}).json()]
        for status in ("Current", "Former", "Upcoming")
    }
    assert names == {"Current": ["Ann Smith1"], "Former": ["Ann Smith2"], "Upcoming": ["Ann Smith3"]}


def test_employees_dept_code_filters_on_the_department_code(client: httpx.Client) -> None:
    load(client, [employee(1, dept="ENG"), employee(2, dept="OPS"), employee(3)])
    assert [i["name"] for i in client.get(EMPLOYEES, params={"deptCode": "OPS"}).json()] == ["Ann Smith2"]


def test_employees_sort_by_payroll_code_orders_by_code(client: httpx.Client) -> None:
    records = [employee(3), employee(1), employee(2)]
    load(client, records)
    unsorted = [i["name"] for i in client.get(EMPLOYEES).json()]
    by_code = [i["name"] for i in client.get(EMPLOYEES, params={"sortBy": "PayrollCode"}).json()]
    assert unsorted == ["Ann Smith3", "Ann Smith1", "Ann Smith2"]
    assert by_code == ["Ann Smith1", "Ann Smith2", "Ann Smith3"]


def test_employee_get_serves_a_malformed_record_verbatim(client: httpx.Client) -> None:
    odd = {"id": "00000000-0000-4000-8000-000000000009", "personalDetails": None, "employmentDetails": 7}
    load(client, [odd])
    assert client.get(f"{EMPLOYEES}/{odd['id']}").json() == odd
    assert client.get(EMPLOYEES).json()[0]["name"] is None


def test_employee_get_unknown_id_answers_404(client: httpx.Client) -> None:
    assert client.get(f"{EMPLOYEES}/00000000-0000-4000-8000-000000000404").status_code == 404


def test_records_put_without_id_answers_400_naming_the_index(client: httpx.Client) -> None:
    response = client.put("/_sandbox/records", json=[employee(1), {"personalDetails": {}}])
    assert response.status_code == 400
    assert response.json()["index"] == 1
    assert "1" in response.json()["message"]


def test_leavers_lists_former_employees(client: httpx.Client) -> None:
    load(client, [employee(1), employee(2, status="Former")])
    assert [i["name"] for i in client.get(f"{EMPLOYEES}/leavers").json()] == ["Ann Smith2"]


def test_search_by_payroll_code_finds_one_item_or_404(client: httpx.Client) -> None:
    load(client, [employee(1), employee(2)])
    found = client.get(f"{EMPLOYEES}/search/payrollcode", params={"code": "E002"})
    assert found.status_code == 200
    assert found.json()["name"] == "Ann Smith2"
    assert client.get(f"{EMPLOYEES}/search/payrollcode", params={"code": "E999"}).status_code == 404


def test_departments_derived_from_employees_when_none_loaded(client: httpx.Client) -> None:
    load(client, [employee(1, dept="ENG"), employee(2, dept="ENG"), employee(3, dept="OPS")])
    departments = client.get(f"{BASE}/departments").json()
    assert [(d["name"], d["metadata"]["code"], d["metadata"]["employeeCount"]) for d in departments] == [
        ("Eng", "ENG", 2),
        ("Ops", "OPS", 1),
    ]
    assert set(departments[0]) == {"id", "name", "url", "metadata"}


def test_departments_loaded_ones_are_listed(client: httpx.Client) -> None:
    client.put("/_sandbox/departments", json=[{"code": "FIN", "title": "Finance"}]).raise_for_status()
    departments = client.get(f"{BASE}/departments").json()
    assert [(d["name"], d["url"]) for d in departments] == [("Finance", f"{BASE}/departments/FIN")]


def test_changes_report_lists_added_then_edited_with_modifications(client: httpx.Client) -> None:
    load(client, [employee(1), employee(2)])
    changed = employee(2)
    changed["personalDetails"]["lastName"] = "Jones"
    load(client, [employee(1), changed])

    report = client.get(f"{BASE}/reports/changes").json()

    actions = [(c["actionPerformed"], c["employeeUniqueId"]) for c in report["model"]]
    assert actions == [
        ("Added", employee(1)["id"]),
        ("Added", employee(2)["id"]),
        ("Edited", employee(2)["id"]),
    ]
    assert report["model"][2]["modifications"] == [
        {
            "fieldName": "personalDetails.lastName",
            "oldValue": "Smith2",
            "newValue": "Jones",
            "isSignificant": True,
        }
    ]
    assert report["type"] == "application/json"


def test_changes_report_date_range_filters_by_change_date(client: httpx.Client) -> None:
    load(client, [employee(1)])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert client.get(f"{BASE}/reports/changes", params={"fromDate": tomorrow}).json()["model"] == []
    assert len(client.get(f"{BASE}/reports/changes", params={"fromDate": yesterday}).json()["model"]) == 1
    assert client.get(f"{BASE}/reports/changes", params={"fromDate": "soon"}).status_code == 400
