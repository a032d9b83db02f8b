"""The shared simulator machinery: lifecycle, control surface, faults, request log, HTTP/1.1 behaviour."""

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.simulators import StaffologySimulator
from sandbox.simulators.base import Faults, TokenBucket
from sandbox.simulators.staffology import DEFAULT_API_KEY, DEFAULT_EMPLOYER_ID

EMPLOYEES = f"/employers/{DEFAULT_EMPLOYER_ID}/employees"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def simulator() -> Iterator[StaffologySimulator]:
    with StaffologySimulator() as running:
        yield running


@pytest.fixture
def client(simulator: StaffologySimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, auth=("anyone", DEFAULT_API_KEY), timeout=5) as http:
        http.post("/_sandbox/reset").raise_for_status()
        yield http


def employee(number: int, **extra: object) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "personalDetails": {"firstName": "Ann", "lastName": f"Smith{number}"},
        "employmentDetails": {"payrollCode": f"E{number:03d}"},
        **extra,
    }


def test_simulator_port_zero_serves_on_a_free_loopback_port() -> None:
    with StaffologySimulator() as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert running.port > 0


def test_simulator_start_twice_raises() -> None:
    with StaffologySimulator() as running, pytest.raises(RuntimeError):
        running.start()


def test_simulator_stop_refuses_new_connections_and_is_idempotent() -> None:
    running = StaffologySimulator().start()
    url = running.url
    running.stop()
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_sandbox/records", timeout=2)


def test_simulator_stop_ends_open_keep_alive_connections() -> None:
    running = StaffologySimulator().start()
    with httpx.Client(base_url=running.url, timeout=2) as http:
        assert http.get("/_sandbox/records").status_code == 200
        running.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/_sandbox/records")


def test_server_keep_alive_reuses_one_connection(simulator: StaffologySimulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", simulator.port, timeout=5)
    try:
        connection.request("GET", "/_sandbox/faults")
        first = connection.getresponse()
        assert first.getheader("Content-Length") is not None
        first.read()
        socket_after_first = connection.sock
        connection.request("PUT", "/_sandbox/faults", body=b"{}", headers={"Content-Type": "application/json"})
        second = connection.getresponse()
        second.read()
        assert second.status == 200
        assert connection.sock is socket_after_first
    finally:
        connection.close()


def test_control_records_put_then_get_round_trips(client: httpx.Client) -> None:
    records = [employee(1), employee(2, status="Former")]
    assert client.put("/_sandbox/records", json=records).status_code == 200
    assert client.get("/_sandbox/records").json() == records


def test_control_departments_put_then_get_round_trips(client: httpx.Client) -> None:
    departments = [{"code": "ENG", "title": "Engineering"}]
    assert client.put("/_sandbox/departments", json=departments).status_code == 200
    assert client.get("/_sandbox/departments").json() == departments


def test_control_records_not_an_array_answers_400(client: httpx.Client) -> None:
    response = client.put("/_sandbox/records", json={"id": "x"})
    assert response.status_code == 400
    assert "array" in response.json()["message"]


def test_control_reset_empties_records_departments_faults_and_log(client: httpx.Client) -> None:
    client.put("/_sandbox/records", json=[employee(1)])
    client.put("/_sandbox/departments", json=[{"code": "ENG", "title": "Engineering"}])
    client.put("/_sandbox/faults", json={"latency_ms": 5})
    client.get(EMPLOYEES)

    assert client.post("/_sandbox/reset").status_code == 200

    assert client.get("/_sandbox/records").json() == []
    assert client.get("/_sandbox/departments").json() == []
    assert client.get("/_sandbox/faults").json()["latency_ms"] is None
    assert client.get("/_sandbox/requests").json() == []


def test_control_surface_needs_no_vendor_auth(simulator: StaffologySimulator) -> None:
    assert httpx.get(f"{simulator.url}/_sandbox/records").status_code == 200


def test_request_bad_json_body_answers_400_json(client: httpx.Client) -> None:
    response = client.put("/_sandbox/records", content=b"[{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


def test_request_unknown_route_answers_404_json(client: httpx.Client) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert "message" in response.json()


def test_request_wrong_method_answers_405_with_allow(client: httpx.Client) -> None:
    response = client.delete(EMPLOYEES)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": "half"}, "error_rate"),
        ({"error_status": 200}, "error_status"),
        ({"error_status": True}, "error_status"),
        ({"rate_limit_per_s": 0}, "rate_limit_per_s"),
        ({"jitter_ms": 3}, "jitter_ms"),
    ],
)
def test_faults_bad_value_answers_400_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    response = client.put("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["message"]


def test_faults_put_then_get_returns_them_with_missing_ones_off(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"error_rate": 0.25, "error_status": 503})
    assert client.get("/_sandbox/faults").json() == {
        "latency_ms": None,
        "error_rate": 0.25,
        "error_status": 503,
        "rate_limit_per_s": None,
        "error_methods": None,
        "errors": None,
    }


def test_faults_error_methods_only_those_methods_fail(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500, "error_methods": ["post"]})
    assert client.get("/_sandbox/faults").json()["error_methods"] == ["POST"]
    assert client.get(EMPLOYEES).status_code == 200
    assert client.post(EMPLOYEES, json={}).status_code == 500
    assert client.put("/_sandbox/faults", json={"error_methods": ["FETCH"]}).status_code == 400


def test_faults_error_rate_one_answers_error_status_with_json_body(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503})
    response = client.get(EMPLOYEES)
    assert response.status_code == 503
    assert "message" in response.json()


def test_faults_error_status_defaults_to_500(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"error_rate": 1})
    assert client.get(EMPLOYEES).status_code == 500


def test_faults_never_apply_to_the_control_surface(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"error_rate": 1, "rate_limit_per_s": 0.001})
    assert client.get("/_sandbox/records").status_code == 200
    assert client.get("/_sandbox/faults").status_code == 200


def test_faults_rate_limit_over_budget_answers_429_with_retry_after(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"rate_limit_per_s": 3})
    statuses = [client.get(EMPLOYEES) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    retry_after = statuses[3].headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1


def test_faults_rate_limit_is_checked_before_the_error_draw(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"rate_limit_per_s": 1, "error_rate": 1})
    assert client.get(EMPLOYEES).status_code == 500
    assert client.get(EMPLOYEES).status_code == 429


MIX = [{"rate": 0.3, "status": 429, "retry_after": 1}, {"rate": 0.1, "status": 503}]


def test_faults_error_mix_put_then_get_round_trips(client: httpx.Client) -> None:
    assert client.put("/_sandbox/faults", json={"errors": MIX}).status_code == 200
    assert client.get("/_sandbox/faults").json()["errors"] == [
        {"rate": 0.3, "status": 429, "retry_after": 1},
        {"rate": 0.1, "status": 503},
    ]


@pytest.mark.parametrize(
    ("draw", "status"),
    [(0.0, 429), (0.299, 429), (0.3, 503), (0.399, 503), (0.4, None), (0.999, None)],
)
def test_faults_error_mix_one_draw_picks_at_most_one_entry(draw: float, status: int | None) -> None:
    faults = Faults.from_json({"errors": MIX})
    response = faults.draw_error("GET", lambda: draw)
    assert (response.status if response else None) == status


def test_faults_error_mix_shares_the_draw_with_error_rate_first() -> None:
    faults = Faults.from_json({"error_rate": 0.2, "error_status": 500, "errors": [{"rate": 0.3, "status": 503}]})
    assert [r.status if (r := faults.draw_error("GET", lambda v=v: v)) else None for v in (0.1, 0.3, 0.6)] == [
        500,
        503,
        None,
    ]


def test_faults_error_mix_429_sends_retry_after(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"errors": [{"rate": 1, "status": 429, "retry_after": 3}]})
    response = client.get(EMPLOYEES)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert "message" in response.json()


def test_faults_error_mix_429_without_retry_after_sends_one_second(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"errors": [{"rate": 1, "status": 429}]})
    assert client.get(EMPLOYEES).headers["Retry-After"] == "1"


def test_faults_error_mix_503_sends_no_retry_after(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"errors": [{"rate": 1, "status": 503}]})
    response = client.get(EMPLOYEES)
    assert response.status_code == 503
    assert "Retry-After" not in response.headers


def test_faults_error_mix_answers_each_entry_at_about_its_rate(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"errors": MIX})
    statuses = [client.get(EMPLOYEES).status_code for _ in range(600)]
    assert 0.22 < statuses.count(429) / 600 < 0.38
    assert 0.05 < statuses.count(503) / 600 < 0.16
    assert set(statuses) == {200, 429, 503}


def test_faults_error_mix_follows_error_methods(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"errors": [{"rate": 1, "status": 503}], "error_methods": ["POST"]})
    assert client.get(EMPLOYEES).status_code == 200
    assert client.post(EMPLOYEES, json={}).status_code == 503


def test_faults_error_mix_cleared_by_reset(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"errors": MIX})
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/faults").json()["errors"] is None
    assert client.get(EMPLOYEES).status_code == 200


@pytest.mark.parametrize(
    ("errors", "field"),
    [
        ({"rate": 0.3, "status": 429}, "errors"),
        ([{"rate": 0.1, "status": 500}] * 11, "errors"),
        (["429"], "errors[0]"),
        ([{"status": 429}], "errors[0].rate"),
        ([{"rate": 0.3}], "errors[0].status"),
        ([{"rate": 1.5, "status": 429}], "errors[0].rate"),
        ([{"rate": "0.3", "status": 429}], "errors[0].rate"),
        ([{"rate": 0.1, "status": 503}, {"rate": 0.1, "status": 302}], "errors[1].status"),
        ([{"rate": 0.1, "status": True}], "errors[0].status"),
        ([{"rate": 0.1, "status": 429, "retry_after": -1}], "errors[0].retry_after"),
        ([{"rate": 0.1, "status": 429, "retry_after": 1.5}], "errors[0].retry_after"),
        ([{"rate": 0.1, "status": 429, "jitter": 1}], "errors[0].jitter"),
        ([{"rate": 0.6, "status": 429}, {"rate": 0.5, "status": 503}], "errors"),
    ],
)
def test_faults_error_mix_bad_value_answers_400_naming_the_field(
    client: httpx.Client, errors: object, field: str
) -> None:
    response = client.put("/_sandbox/faults", json={"errors": errors})
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["message"]


def test_faults_error_rate_and_mix_over_one_answers_400_naming_errors(client: httpx.Client) -> None:
    response = client.put("/_sandbox/faults", json={"error_rate": 0.8, "errors": [{"rate": 0.3, "status": 503}]})
    assert response.status_code == 400
    assert response.json()["field"] == "errors"
    assert client.get("/_sandbox/faults").json()["error_rate"] is None  # nothing was applied


def test_faults_latency_delays_vendor_routes(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"latency_ms": 120})
    started = time.perf_counter()
    client.get(EMPLOYEES)
    assert time.perf_counter() - started >= 0.12


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take()] == [None, None]
    assert bucket.take() == 1
    now[0] = 0.5
    assert bucket.take() is None


def test_request_log_lists_vendor_requests_only_in_order(client: httpx.Client) -> None:
    client.get(EMPLOYEES, params={"pageNum": 0, "pageSize": 10})
    client.get("/_sandbox/records")
    httpx.get(f"{client.base_url}{EMPLOYEES}/unknown-id")  # no auth: still logged

    log = client.get("/_sandbox/requests").json()

    assert [(e["method"], e["path"], e["query"], e["status"]) for e in log] == [
        ("GET", EMPLOYEES, "pageNum=0&pageSize=10", 200),
        ("GET", f"{EMPLOYEES}/unknown-id", "", 401),
    ]
    assert log[0]["time"].endswith("Z")


def test_request_log_since_returns_entries_from_that_index(client: httpx.Client) -> None:
    for page in range(3):
        client.get(EMPLOYEES, params={"pageNum": page})
    log = client.get("/_sandbox/requests", params={"since": 2}).json()
    assert [entry["query"] for entry in log] == ["pageNum=2"]


def test_main_runs_in_the_foreground_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.simulators.staffology", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.rsplit(" ", 1)[-1].strip()
        assert httpx.get(f"{url}/_sandbox/faults", timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
