"""`make bench`: hrsync's speed and cost on the local stack, with simulated latency and rate limits.

Every figure comes from a real run through the local API: the real handlers, moto as AWS, the simulators
with 40 ms latency on every call and ExpenseIn limited to 200 requests a second (429 + Retry-After over it).
Results go to bench/results.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from sandbox.demo import wait_for_run
from sandbox.sample import staffology_employee
from sandbox.stack import LocalStack

REPO = Path(__file__).resolve().parents[1]
CONNECTOR = "staffology-expensein"
LATENCY_MS = 40
TARGET_RATE = 200


def employees(count: int, *, changed: set[int] | None = None) -> list[dict[str, Any]]:
    """A Staffology employer of `count` current employees; `changed` ones have a new last name."""
    changed = changed or set()
    return [
        staffology_employee(
            f"B{n:06}",
            "Alex",
            f"Bench{n}" + ("-Changed" if n in changed else ""),
            f"alex.bench{n}@bench.example",
            department=None,
        )
        for n in range(count)
    ]


class Bench:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        state = stack.state()
        self.connection = state["connections"][CONNECTOR]
        self.staffology = state["systems"]["staffology"]
        self.expensein = state["systems"]["expensein"].removesuffix("/1.0")
        self.api = stack.api_client(timeout=120)

    def reset(self, count: int) -> None:
        for url in (self.staffology, self.expensein):
            httpx.post(f"{url}/_sandbox/reset").raise_for_status()
        httpx.put(f"{self.staffology}/_sandbox/records", json=employees(count), timeout=120).raise_for_status()
        self.faults()

    def faults(self) -> None:
        httpx.put(f"{self.staffology}/_sandbox/faults", json={"latency_ms": LATENCY_MS}).raise_for_status()
        httpx.put(
            f"{self.expensein}/_sandbox/faults", json={"latency_ms": LATENCY_MS, "rate_limit_per_s": TARGET_RATE}
        ).raise_for_status()

    def requests_so_far(self) -> int:
        return len(httpx.get(f"{self.expensein}/_sandbox/requests", timeout=60).json())

    def run(self) -> dict[str, Any]:
        """One sync through the API; wall time from the trigger to the run's end."""
        log_start = self.requests_so_far()
        started = time.monotonic()
        response = self.api.post(f"/connections/{self.connection}/syncs", json={})
        response.raise_for_status()
        run = wait_for_run(self.api, self.connection, response.json()["run_id"], timeout=1800)
        wall = time.monotonic() - started
        self.stack.wait_idle(120)
        log = httpx.get(f"{self.expensein}/_sandbox/requests", timeout=60).json()[log_start:]
        calls = Counter(entry["method"] for entry in log)
        throttled = sum(1 for entry in log if entry["status"] == 429)
        return {"run": run, "wall_s": round(wall, 2), "calls": dict(calls), "throttled": throttled}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=5, help="WorkerMaxConcurrency")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as state,
        LocalStack(state_dir=Path(state), parameters={"WorkerMaxConcurrency": args.workers}) as stack,
    ):
        bench = Bench(stack)
        bench.reset(args.employees)
        initial = bench.run()
        c = initial["run"]["counters"]
        bound = c["created"] / TARGET_RATE
        print(json.dumps({**initial, "bound_s": bound, "utilisation": round(bound / initial["wall_s"], 3)}, indent=1))
        again = bench.run()
        print(json.dumps(again, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
