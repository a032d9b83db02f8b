"""The simulated ExpenseIn user API (provisional names), driven over HTTP as the ExpenseIn adapter would."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox.simulators import ExpenseInSimulator
from sandbox.simulators.expensein import DEFAULT_API_KEY

TODAY = datetime.now(UTC).date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def simulator() -> Iterator[ExpenseInSimulator]:
    with ExpenseInSimulator() as running:
        yield running


@pytest.fixture
def client(simulator: ExpenseInSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"ApiKey {DEFAULT_API_KEY}"}
    with httpx.Client(base_url=f"{simulator.url}/1.0", headers=headers, timeout=5) as http:
        http.post(f"{simulator.url}/_sandbox/reset").raise_for_status()
        http.put(
            f"{simulator.url}/_sandbox/departments",
            json=[{"reference": "ENG", "name": "Engineering"}, {"reference": "OPS", "name": "Operations"}],
        ).raise_for_status()
        yield http


def new_user(number: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "firstName": "Ann",
        "lastName": f"Smith{number}",
        "email": f"ann.smith{number}@example.com",
        "reference": f"E{number:03d}",
        **fields,
    }


def create(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/users", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def error_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [error["field"] for error in response.json()["errors"]]


@pytest.mark.parametrize("header", [None, "ApiKey wrong", f"Bearer {DEFAULT_API_KEY}", DEFAULT_API_KEY])
def test_auth_without_the_api_key_header_answers_401(simulator: ExpenseInSimulator, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    assert httpx.get(f"{simulator.url}/1.0/users", headers=headers).status_code == 401


def test_create_answers_201_with_the_server_assigned_user(client: httpx.Client) -> None:
    created = create(
        client,
        new_user(
            department="ENG",
            bankDetails={"accountName": "A Smith", "accountNumber": "12345678", "sortCode": "12-34-56"},
            sendInvitation=True,
        ),
    )
    assert created == {
        "id": "u-000001",
        "firstName": "Ann",
        "lastName": "Smith1",
        "email": "ann.smith1@example.com",
        "reference": "E001",
        "department": "ENG",
        "bankDetails": {"accountName": "A Smith", "accountNumber": "12345678", "sortCode": "12-34-56"},
        "leaveDate": None,
        "isActive": True,
        "invited": True,
        "approvalFlow": None,
        "expensePolicy": None,
    }
    assert client.get("/users/u-000001").json() == created


def test_create_without_send_invitation_is_not_invited(client: httpx.Client) -> None:
    assert create(client, new_user())["invited"] is False


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"lastName": "Smith", "email": "a@example.com"}, ["firstName"]),
        (new_user(email="not-an-address"), ["email"]),
        (new_user(firstName="x" * 101), ["firstName"]),
        (new_user(nickname="Annie"), ["nickname"]),
        (new_user(approvalFlow="Managers"), ["approvalFlow"]),
        (new_user(expensePolicy="Standard"), ["expensePolicy"]),
        (new_user(department="NOPE"), ["department"]),
        (new_user(leaveDate="31/12/2026"), ["leaveDate"]),
        (new_user(bankDetails={"iban": "GB00"}), ["bankDetails.iban"]),
        ({}, ["firstName", "lastName", "email"]),
    ],
)
def test_create_invalid_body_answers_400_listing_the_fields(
    client: httpx.Client, body: dict[str, Any], fields: list[str]
) -> None:
    response = client.post("/users", json=body)
    assert error_fields(response) == fields
    assert response.json()["message"]


def test_create_duplicate_reference_answers_409(client: httpx.Client) -> None:
    create(client, new_user(1))
    response = client.post("/users", json=new_user(2, reference="E001"))
    assert response.status_code == 409
    assert response.json() == {"message": "A user with this reference already exists"}


def test_create_duplicate_email_in_other_case_answers_409(client: httpx.Client) -> None:
    create(client, new_user(1))
    response = client.post("/users", json=new_user(2, email="ANN.Smith1@Example.com"))
    assert response.status_code == 409


def test_create_empty_reference_is_not_unique(client: httpx.Client) -> None:
    create(client, new_user(1, reference=""))
    create(client, new_user(2, reference=""))


def test_patch_updates_only_the_given_fields(client: httpx.Client) -> None:
    created = create(client, new_user(1))
    response = client.patch(f"/users/{created['id']}", json={"lastName": "Jones", "department": "OPS"})
    assert response.status_code == 200
    assert response.json() == {**created, "lastName": "Jones", "department": "OPS"}


def test_patch_leave_date_today_or_earlier_makes_the_user_inactive(client: httpx.Client) -> None:
    user_id = create(client, new_user(1))["id"]
    for leave_date, active in ((TOMORROW, True), (TODAY.isoformat(), False), (YESTERDAY, False)):
        patched = client.patch(f"/users/{user_id}", json={"leaveDate": leave_date}).json()
        assert (patched["leaveDate"], patched["isActive"]) == (leave_date, active)


def test_patch_unknown_id_answers_404(client: httpx.Client) -> None:
    assert client.patch("/users/u-999999", json={"lastName": "X"}).status_code == 404


def test_patch_send_invitation_is_rejected(client: httpx.Client) -> None:
    user_id = create(client, new_user(1))["id"]
    assert error_fields(client.patch(f"/users/{user_id}", json={"sendInvitation": True})) == ["sendInvitation"]


def test_patch_own_values_are_not_a_conflict(client: httpx.Client) -> None:
    created = create(client, new_user(1))
    body = {"email": created["email"].upper(), "reference": created["reference"]}
    assert client.patch(f"/users/{created['id']}", json=body).status_code == 200


def test_patch_another_users_reference_answers_409(client: httpx.Client) -> None:
    create(client, new_user(1))
    second = create(client, new_user(2))
    assert client.patch(f"/users/{second['id']}", json={"reference": "E001"}).status_code == 409


def test_delete_is_not_allowed(client: httpx.Client) -> None:
    user_id = create(client, new_user(1))["id"]
    assert client.delete(f"/users/{user_id}").status_code == 405


def test_list_without_include_leavers_hides_leavers(client: httpx.Client) -> None:
    create(client, new_user(1))
    create(client, new_user(2, leaveDate=YESTERDAY))
    create(client, new_user(3, leaveDate=TOMORROW))

    active = client.get("/users").json()
    everyone = client.get("/users", params={"includeLeavers": "true"}).json()

    assert [u["reference"] for u in active["items"]] == ["E001", "E003"]
    assert [u["reference"] for u in everyone["items"]] == ["E001", "E002", "E003"]
    assert everyone["totalItems"] == 3


def test_list_pages_are_one_based_with_a_total(client: httpx.Client) -> None:
    for number in range(1, 6):
        create(client, new_user(number))
    page = client.get("/users", params={"page": 2, "pageSize": 2}).json()
    assert [u["reference"] for u in page["items"]] == ["E003", "E004"]
    assert (page["page"], page["pageSize"], page["totalItems"]) == (2, 2, 5)


def test_list_page_size_over_500_answers_400(client: httpx.Client) -> None:
    assert client.get("/users", params={"pageSize": 501}).status_code == 400


def test_list_filters_reference_exactly_and_email_ignoring_case(client: httpx.Client) -> None:
    create(client, new_user(1))
    create(client, new_user(2))
    by_reference = client.get("/users", params={"reference": "E002"}).json()["items"]
    by_email = client.get("/users", params={"email": "ANN.SMITH1@example.com"}).json()["items"]
    assert [u["lastName"] for u in by_reference] == ["Smith2"]
    assert [u["lastName"] for u in by_email] == ["Smith1"]
    assert client.get("/users", params={"reference": "e002"}).json()["items"] == []


def test_departments_lists_the_loaded_departments(client: httpx.Client) -> None:
    assert client.get("/departments").json() == {
        "items": [{"reference": "ENG", "name": "Engineering"}, {"reference": "OPS", "name": "Operations"}]
    }


def test_records_loaded_keep_ids_fill_defaults_and_derive_is_active(
    client: httpx.Client, simulator: ExpenseInSimulator
) -> None:
    records = [
        {"id": "u-000001", "firstName": "Old", "email": "old@example.com", "leaveDate": YESTERDAY},
        {"firstName": "New", "email": "new@example.com", "approvalFlow": "Managers", "isActive": False},
    ]
    loaded = client.put(f"{simulator.url}/_sandbox/records", json=records).json()

    assert [(u["id"], u["isActive"], u["invited"]) for u in loaded] == [
        ("u-000001", False, False),
        ("u-000002", True, False),
    ]
    assert loaded[1]["approvalFlow"] == "Managers"
    assert create(client, new_user(9))["id"] == "u-000003"
