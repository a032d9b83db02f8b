"""The API against its own OpenAPI document: schemathesis over the local API, bounded to a few hundred cases.

schemathesis learns ids from answers and then changes what they name (it saved the demo connection with
options of its own), so it gets a local stack of its own, with a synced sample employer to read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.demo import sample_employer, sync
from sandbox.stack import LocalStack

pytestmark = pytest.mark.e2e
SCHEMATHESIS = str(Path(sys.executable).parent / "st")
ROUTES = [
    "GET /connections",
    "PUT /connections/{connection_id}",
    "GET /connections/{connection_id}",
    "DELETE /connections/{connection_id}",
    "DELETE /connections/{connection_id}/quarantine",
    "POST /connections/{connection_id}/syncs",
    "GET /connections/{connection_id}/syncs",
    "GET /connections/{connection_id}/syncs/{run_id}",
    "GET /connections/{connection_id}/syncs/{run_id}/log",
    "POST /connections/{connection_id}/syncs/{run_id}/approve",
    "GET /connections/{connection_id}/employees",
    "PUT /connections/{connection_id}/employees/{employee_id}",
    "POST /connections/{connection_id}/syncs/preview",
    "GET /connections/{connection_id}/employees/{employee_id}",
    "GET /connections/{connection_id}/conflicts",
    "POST /connections/{connection_id}/conflicts/resolve",
    "POST /connections/{connection_id}/conflicts/{conflict_id}/resolve",
    "GET /failures",
    "GET /failures/{failure_id}",
    "POST /failures/{failure_id}/retry",
    "DELETE /failures/{failure_id}",
]
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_openapi_document_and_swagger_ui_served_without_key(stack):
    document = httpx.get(f"{stack.api_url}/openapi.json").json()
    ui = httpx.get(f"{stack.api_url}/docs")
    assert ui.status_code == 200 and "swagger-ui" in ui.text and "hrsync" in ui.text
    operations = [(path, method) for path, item in document["paths"].items() for method in item]
    assert sorted(f"{method.upper()} {path}" for path, method in operations) == sorted(ROUTES)
    for path, method in operations:
        operation = document["paths"][path][method]
        assert operation.get("summary"), (path, method)
        errors = {code for code in operation["responses"] if code.startswith("4") or code.startswith("5")}
        assert "422" in errors, (path, method)
        if "{" in path and method != "put":  # PUT creates
            assert "404" in errors, (path, method)
        for code, response in operation["responses"].items():
            assert response["content"]["application/json"]["examples"], (path, method, code)
        if "requestBody" in operation:
            refs = json.dumps(operation["requestBody"])
            bodies = [name for name in document["components"]["schemas"] if f'/{name}"' in refs]
            assert bodies and all(document["components"]["schemas"][b].get("examples") for b in bodies), (path, method)
    # Other routes still need the key.
    assert httpx.get(f"{stack.api_url}/connections").status_code == 403


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[LocalStack]:
    with LocalStack(state_dir=None) as stack:
        systems = stack.state()["systems"]
        employees, users, departments = sample_employer()
        httpx.put(f"{systems['staffology']}/_sandbox/records", json=employees).raise_for_status()
        expensein = systems["expensein"].removesuffix("/1.0")
        httpx.put(f"{expensein}/_sandbox/records", json=users).raise_for_status()
        httpx.put(f"{expensein}/_sandbox/departments", json=departments).raise_for_status()
        with stack.api_client() as api:
            assert sync(api, stack.state()["connections"]["staffology-expensein"])["status"] == "SUCCEEDED"
        yield stack


def test_schemathesis_finds_no_server_error_or_schema_break(fuzzed, tmp_path):
    stack = fuzzed
    done = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{stack.api_url}/openapi.json",
            "--url",
            stack.api_url,
            "--header",
            f"x-api-key: {stack.api_key}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "6",
            "--generation-deterministic",
            "--request-timeout",
            "60",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a .schemathesis folder where it runs
    )
    failures = done.stdout[done.stdout.find("FAILURES") :] if "FAILURES" in done.stdout else done.stdout[-6000:]
    assert done.returncode == 0, failures[:10000] + done.stderr[-2000:]
    generated = re.search(r"(\d+) generated", done.stdout)
    # bounded: 6 examples per operation come to about 50 cases per route (the coverage phase adds its own)
    assert generated and 100 <= int(generated.group(1)) <= 60 * len(ROUTES), done.stdout[-2000:]
    assert f"Tested: {len(ROUTES)}" in done.stdout
