"""`make bench`: hrsync's speed, memory and cost on the local stack, with simulated latency and rate limits.

Every figure comes from real runs through the local API: the real handlers in their own processes, moto as
AWS, the simulators with 40 ms latency on every call and ExpenseIn limited to 200 requests a second (429 +
Retry-After over it). The connection declares that limit (`target_rate_limit_per_s`), so the workers pace
themselves under it. The worker pool is started before the timed runs (Lambda's cold starts are not what is
measured). Scenarios, in order:

- initial:     N employees (default 10,000), all creates; wall time from the trigger to the run's end
- no_change:   the same run again; calls to the target, DynamoDB and SQS requests
- one_percent: 1% of employees get a new last name; target writes must equal that number
- naive_1k:    1,000 creates by a naive loop (one request at a time, one DynamoDB write per employee), and
               the same 1,000 through hrsync (a fresh connection), and the ratio
- plan_100k:   100,000 employees planned and queued by run_sync (no latency: it measures hrsync), its time
               and the peak resident memory of its process; the workers are paused and the queue purged

Figures go to bench/results.json and a table on stdout. Nothing here is asserted: the targets are in the
README's Performance section, with the figures of a real run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sandbox.sample import staffology_employee
from sandbox.stack import LocalStack

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.json"
LATENCY_MS = 40
TARGET_RATE = 200
WORKERS = 5
OVERLAP_S = 2  # the bench connection's change_feed_overlap_seconds (the sandbox's clock is ours)
WRITES = ("POST", "PUT", "PATCH", "DELETE")

# AWS list prices (us-east-1, on-demand, checked 2026-11), for the cost estimate.
PRICE_LAMBDA_GB_S = 0.0000133334  # arm64
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_DYNAMODB_WRU = 0.625 / 1e6
PRICE_DYNAMODB_RRU = 0.125 / 1e6
PRICE_SQS_REQUEST = 0.40 / 1e6


def employees(count: int, *, changed: set[int] | None = None, prefix: str = "B") -> list[dict[str, Any]]:
    """A Staffology employer of `count` current employees; `changed` ones have a new last name."""
    changed = changed or set()
    return [
        staffology_employee(
            f"{prefix}{n:06}",
            "Alex",
            f"Bench{n}" + ("-Changed" if n in changed else ""),
            f"alex.{prefix.lower()}{n}@bench.example",
            department=None,
        )
        for n in range(count)
    ]


class Bench:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        state = stack.state()
        self.staffology = state["systems"]["staffology"]
        self.expensein = state["systems"]["expensein"].removesuffix("/1.0")
        self.api = stack.api_client(timeout=600)
        self.demo = state["connections"]["staffology-expensein"]
        self.template = self.api.get(f"/connections/{self.demo}").raise_for_status().json()

    # -- the systems ---------------------------------------------------------------------------------------
    def reset(self, records: list[dict[str, Any]], *, latency: bool = True) -> None:
        for url in (self.staffology, self.expensein):
            httpx.post(f"{url}/_sandbox/reset").raise_for_status()
        httpx.put(f"{self.staffology}/_sandbox/records", json=records, timeout=600).raise_for_status()
        self.faults(latency)

    def faults(self, latency: bool = True) -> None:
        staffology = {"latency_ms": LATENCY_MS} if latency else {}
        expensein = {"latency_ms": LATENCY_MS, "rate_limit_per_s": TARGET_RATE} if latency else {}
        httpx.put(f"{self.staffology}/_sandbox/faults", json=staffology).raise_for_status()
        httpx.put(f"{self.expensein}/_sandbox/faults", json=expensein).raise_for_status()

    def target_log(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.expensein}/_sandbox/requests", timeout=120).json())

    def users(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.expensein}/_sandbox/records", timeout=120).json())

    # -- hrsync --------------------------------------------------------------------------------------------
    def connect(self, connection_id: str) -> str:
        """A connection to the simulators as they are now, paced under the target's limit; waits for the
        run that saving it starts."""
        body = {key: self.template[key] for key in ("connector", "source", "target", "secret_name")}
        body["options"] = {"target_rate_limit_per_s": TARGET_RATE, "change_feed_overlap_seconds": OVERLAP_S}
        self.api.put(f"/connections/{connection_id}", json=body).raise_for_status()
        deadline = time.monotonic() + 600
        while self.api.get(f"/connections/{connection_id}").json().get("running_run") and time.monotonic() < deadline:
            time.sleep(0.25)
        self.stack.wait_idle(120)
        return connection_id

    def run(self, connection_id: str, *, wait: bool = True) -> dict[str, Any]:
        """One sync through the API: wall time from the trigger to the run's end, what the target was sent,
        the AWS requests made, and the functions' billed seconds."""
        log_start = len(self.target_log())
        httpx.delete(f"{self.stack.aws_endpoint}/_local/requests").raise_for_status()
        busy = {name: pool.busy_seconds for name, pool in self.stack.pools.items()}
        calls = {name: pool.invocations for name, pool in self.stack.pools.items()}
        started = time.monotonic()
        response = self.api.post(f"/connections/{connection_id}/syncs", json={})
        response.raise_for_status()
        run_id = response.json()["run_id"]
        if not wait:
            return {"run_id": run_id}
        run = self.wait(connection_id, run_id)
        # The run's own times (one clock, no polling delay): from the trigger to the end.
        wall = _seconds(run["finished_at"]) - _seconds(run["queued_at"]) if run.get("finished_at") else 0.0
        wall = wall or time.monotonic() - started
        self.stack.wait_idle(120)
        log = self.target_log()[log_start:]
        aws = httpx.get(f"{self.stack.aws_endpoint}/_local/requests").json()
        return {
            "run": run,
            "wall_s": round(wall, 2),
            "target_calls": dict(Counter(entry["method"] for entry in log)),
            "target_writes": sum(1 for entry in log if entry["method"] in WRITES),
            "throttled": sum(1 for entry in log if entry["status"] == 429),
            "dynamodb": _requests(aws, "DynamoDB"),
            "sqs": _requests(aws, "AmazonSQS"),
            "aws_cpu_s": _cpu(aws),
            "lambda_s": {
                name: round(pool.busy_seconds - busy[name], 2)
                for name, pool in self.stack.pools.items()
                if pool.busy_seconds > busy[name]
            },
            "lambda_invocations": sum(pool.invocations - calls[name] for name, pool in self.stack.pools.items()),
        }

    def wait(self, connection_id: str, run_id: str, timeout: float = 3600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api.get(f"/connections/{connection_id}/syncs/{run_id}").raise_for_status().json()
            if run["status"] not in ("QUEUED", "RUNNING"):
                return dict(run)
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} did not end in {timeout:.0f} s")

    def log(self, connection_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.api.get(f"/connections/{connection_id}/syncs/{run_id}/log").json()["lines"])

    # -- scenarios -----------------------------------------------------------------------------------------
    def initial(self, count: int) -> tuple[str, dict[str, Any]]:
        self.reset([])
        connection = self.connect("bench-initial")
        self.reset(employees(count))
        time.sleep(OVERLAP_S + 1)  # the records were loaded before this run, not during the overlap window
        result = self.run(connection)
        counters = result["run"]["counters"]
        users = self.users()
        created = counters["created"]
        result.update(
            employees=count,
            created=created,
            failures=counters["failed"],
            duplicates=len(users) - len({user["reference"] for user in users}),
            users=len(users),
            bound_s=round(created / TARGET_RATE, 2),
            write_rate_per_s=round(created / result["wall_s"], 1),
            utilisation=round(created / TARGET_RATE / result["wall_s"], 3),
            phases=self.phases(connection, result["run"]["run_id"]),
        )
        return connection, result

    def phases(self, connection_id: str, run_id: str) -> dict[str, float]:
        """Seconds from Job Started to the end of the read, the plan's queueing and the end."""
        lines = self.log(connection_id, run_id)
        times = [(line["message"], _seconds(line["time"])) for line in lines]
        start = times[0][1]
        marks = {}
        for message, at in times:
            if message.startswith("Reading users"):
                marks["source_listed_s"] = round(at - start, 2)
            elif message.startswith("Read ") and " users" in message:
                marks["target_read_s"] = round(at - start, 2)
            elif message.startswith("Read ") and " employees " in message:
                marks["read_s"] = round(at - start, 2)
            elif message.startswith("Queued "):
                marks["queued_s"] = round(at - start, 2)
            elif message.startswith("Job Finished"):
                marks["finished_s"] = round(at - start, 2)
        return marks

    def no_change(self, connection: str) -> dict[str, Any]:
        result = self.run(connection)
        counters = result["run"]["counters"]
        result.update(
            details_read=counters["details_read"],
            carried=counters["carried"],
            phases=self.phases(connection, result["run"]["run_id"]),
        )
        return result

    def one_percent(self, connection: str, count: int) -> dict[str, Any]:
        changed = set(range(0, count, 100))
        httpx.put(
            f"{self.staffology}/_sandbox/records", json=employees(count, changed=changed), timeout=600
        ).raise_for_status()
        result = self.run(connection)
        counters = result["run"]["counters"]
        result.update(changed=len(changed), updated=counters["updated"], details_read=counters["details_read"])
        return result

    def naive_1k(self, count: int = 1000) -> dict[str, Any]:
        records = employees(count, prefix="N")
        self.reset(records)
        started = time.monotonic()
        naive(self.stack, self.template, count)
        naive_s = time.monotonic() - started
        naive_users = len(self.users())

        self.reset([])
        connection = self.connect("bench-1k")
        self.reset(records)
        time.sleep(OVERLAP_S + 1)
        hrsync = self.run(connection)
        return {
            "employees": count,
            "naive_wall_s": round(naive_s, 2),
            "naive_created": naive_users,
            "hrsync_wall_s": hrsync["wall_s"],
            "hrsync_created": hrsync["run"]["counters"]["created"],
            "ratio": round(naive_s / hrsync["wall_s"], 1),
        }

    def plan_100k(self, count: int = 100_000) -> dict[str, Any]:
        """run_sync on `count` employees with the workers paused: plan and queue only."""
        self.reset([], latency=False)
        connection = self.connect("bench-100k")
        self.reset(employees(count, prefix="P"), latency=False)
        time.sleep(OVERLAP_S + 1)
        pool = self.stack.pools[self.stack.connectors()["staffology-expensein"]]
        self.stack.pause_events("SyncWorkerFunction")
        try:
            started = time.monotonic()
            run_id = self.run(connection, wait=False)["run_id"]
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                if any(line["message"].startswith("Queued ") for line in self.log(connection, run_id)):
                    break
                time.sleep(0.5)
            wall = time.monotonic() - started
            peak = max(_peak_rss_mb(pid) for pid in pool.pids())
            self.stack.client("sqs").purge_queue(QueueUrl=self.stack.resources.ref("SyncQueue"))
        finally:
            self.stack.resume_events("SyncWorkerFunction")
        run = self.api.get(f"/connections/{connection}/syncs/{run_id}").json()
        return {
            "employees": count,
            "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak, 1),
            "planned": run["counters"]["to_create"],
            "phases": self.phases(connection, run_id),
        }


def naive(stack: LocalStack, template: dict[str, Any], count: int) -> None:
    """The baseline: the same adapters, one request at a time, one DynamoDB write per employee."""
    from hrsync.models.connection import Credentials
    from hrsync.systems.expensein import ExpenseIn
    from hrsync.systems.http import RetryPolicy
    from hrsync.systems.staffology import StaffologyPayroll

    secrets = stack.client("secretsmanager")
    credentials = Credentials.model_validate_json(
        secrets.get_secret_value(SecretId=template["secret_name"])["SecretString"]
    )
    policy = RetryPolicy(attempts=20)
    source = StaffologyPayroll.connect(
        template["source"]["base_url"],
        template["source"]["employer_id"],
        credentials.source.api_key,
        policy,
        concurrency=1,  # one request at a time
    )
    target = ExpenseIn.connect(template["target"]["base_url"], credentials.target.api_key, policy, include_bank=False)
    table = stack.client("dynamodb")
    name = stack.resources.ref("Table")
    try:
        listing = source.list_employees()
        fields = ("first_name", "last_name", "email", "code")
        for employee in listing.records[:count]:
            target_id = target.create(employee, fields)
            table.put_item(
                TableName=name,
                Item={"pk": {"S": "NAIVE"}, "sk": {"S": employee.id}, "target_id": {"S": target_id}},
            )
    finally:
        source.close()
        target.close()


def _requests(aws: dict[str, dict[str, Any]], service: str) -> dict[str, int]:
    return {
        action.split(".", 1)[1]: int(figures["count"])
        for action, figures in sorted(aws.items())
        if action.startswith(service + ".") or action.startswith(service + "_")
    }


def _cpu(aws: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The local AWS's CPU seconds by action, largest first: what moto spent answering this run."""
    spent = sorted(((float(figures["cpu_s"]), action) for action, figures in aws.items()), reverse=True)
    return {action: round(seconds, 2) for seconds, action in spent if seconds >= 0.05}


def _seconds(iso: str) -> float:
    from hrsync.clock import parse

    return parse(iso).timestamp()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cost(initial: dict[str, Any], employees_count: int) -> dict[str, Any]:
    """An AWS bill for one daily initial-size sync, scaled to 10,000 employees, from the measured requests.

    Request units are estimated from the requests: every item written is under 1 KB (1 WRU, 2 in a
    transaction), every item read under 4 KB (1 RRU, strongly consistent)."""
    scale = 10_000 / employees_count
    d, s = initial["dynamodb"], initial["sqs"]
    per_message = initial["created"] / max(1, s.get("SendMessageBatch", 0) * 10)
    wru = (
        employees_count  # states written by the plan (BatchWriteItem)
        + 2 * 2 * initial["created"]  # each end: state + history, in a transaction
        + 2 * d.get("TransactWriteItems", 0)  # the run counters' update in each
        + d.get("PutItem", 0)
        + d.get("UpdateItem", 0)
    )
    rru = employees_count + d.get("GetItem", 0) + d.get("Query", 0)
    memory = _memory_gb()
    gb_s = sum(seconds * memory[name] for name, seconds in initial["lambda_s"].items())
    lambda_usd = gb_s * PRICE_LAMBDA_GB_S + initial["lambda_invocations"] * PRICE_LAMBDA_REQUEST
    dynamodb_usd = wru * PRICE_DYNAMODB_WRU + rru * PRICE_DYNAMODB_RRU
    sqs_usd = sum(s.values()) * PRICE_SQS_REQUEST
    return {
        "lambda_gb_s": round(gb_s * scale, 1),
        "dynamodb_wru": round(wru * scale),
        "dynamodb_rru": round(rru * scale),
        "sqs_requests": round(sum(s.values()) * scale),
        "items_per_message": round(per_message, 1),
        "usd": {
            "lambda": round(lambda_usd * scale, 4),
            "dynamodb": round(dynamodb_usd * scale, 4),
            "sqs": round(sqs_usd * scale, 4),
            "total": round((lambda_usd + dynamodb_usd + sqs_usd) * scale, 4),
        },
        "prices": "us-east-1 list prices: Lambda arm64 $0.0000133334/GB-s + $0.20/M requests; DynamoDB "
        "on-demand $0.625/M write and $0.125/M read request units; SQS $0.40/M requests",
    }


def _memory_gb() -> dict[str, float]:
    """Each function's MemorySize in template.yaml, in GB (the Globals' where it sets none)."""
    from sandbox.localaws import load_template

    template = load_template(REPO / "template.yaml")
    default = template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    return {
        name: float(resource.get("Properties", {}).get("MemorySize", default)) / 1024
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def table(results: dict[str, Any]) -> str:
    i, n, o, b, p = (results[k] for k in ("initial", "no_change", "one_percent", "naive_1k", "plan_100k"))
    c = results["cost_10k"]
    count = i["employees"]
    rows = [
        ("scenario", "figure", "value", "target"),
        (f"initial {count:,}", "wall time", f"{i['wall_s']:.1f} s", ""),
        ("", "creates / bound at 200/s", f"{i['created']:,} / {i['bound_s']:.1f} s", ""),
        ("", "write rate", f"{i['write_rate_per_s']:.0f}/s", ""),
        ("", "utilisation", f"{i['utilisation']:.2f}", ">= 0.9"),
        ("", "failures, duplicates, 429s", f"{i['failures']}, {i['duplicates']}, {i['throttled']}", "0, 0"),
        ("", "read / queued / finished", _phases(i["phases"]), ""),
        ("", "DynamoDB, SQS requests / employee", _per(i, count), ""),
        ("no change", "wall time", f"{n['wall_s']:.1f} s ({n['wall_s'] / i['wall_s']:.0%})", "<= 10%"),
        ("", "target calls", json.dumps(n["target_calls"]), "reads only"),
        ("", "target writes", str(n["target_writes"]), "0"),
        ("", "details read / carried over", f"{n['details_read']:,} / {n['carried']:,}", ""),
        ("", "DynamoDB requests", str(sum(n["dynamodb"].values())), ""),
        ("1% changed", "changed / target writes", f"{o['changed']} / {o['target_writes']}", "equal"),
        ("", "wall time", f"{o['wall_s']:.1f} s", ""),
        (f"plan {p['employees']:,}", "peak RSS of run_sync", f"{p['peak_rss_mb']:.0f} MB", "<= 512 MB"),
        ("", "time to queued", f"{p['wall_s']:.1f} s", ""),
        (f"naive {b['employees']:,}", "naive / hrsync", f"{b['naive_wall_s']:.1f} s / {b['hrsync_wall_s']:.1f} s", ""),
        ("", "ratio", f"{b['ratio']:.1f}x", ">= 10x"),
        ("cost / 10,000 daily", "Lambda, DynamoDB, SQS", _usd(c), ""),
    ]
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _phases(phases: dict[str, float]) -> str:
    return " / ".join(f"{phases.get(key, float('nan')):.1f} s" for key in ("read_s", "queued_s", "finished_s"))


def _per(result: dict[str, Any], count: int) -> str:
    return f"{sum(result['dynamodb'].values()) / count:.2f}, {sum(result['sqs'].values()) / count:.2f}"


def _usd(c: dict[str, Any]) -> str:
    usd = c["usd"]
    return f"${usd['lambda']:.4f} + ${usd['dynamodb']:.4f} + ${usd['sqs']:.4f} = ${usd['total']:.4f}"


@contextmanager
def local_stack(workers: int) -> Iterator[LocalStack]:
    with (
        tempfile.TemporaryDirectory() as state,
        LocalStack(state_dir=Path(state), parameters={"WorkerMaxConcurrency": workers}) as stack,
    ):
        stack.pools["SyncWorkerFunction"].warm(workers)
        yield stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=10_000, help="size of the initial sync")
    parser.add_argument("--plan", type=int, default=100_000, help="size of the planning run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="the initial sync and the no-change run only")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with local_stack(WORKERS) as stack:
        bench = Bench(stack)
        connection, results["initial"] = bench.initial(args.employees)
        print(f"initial: {json.dumps(results['initial'] | {'run': None})}", flush=True)
        results["no_change"] = bench.no_change(connection)
        print(f"no_change: {json.dumps(results['no_change'] | {'run': None})}", flush=True)
        if args.quick:
            return 0
        results["one_percent"] = bench.one_percent(connection, args.employees)
        results["naive_1k"] = bench.naive_1k()
        print(f"naive_1k: {results['naive_1k']['ratio']}x", flush=True)
        results["plan_100k"] = bench.plan_100k(args.plan)
    results["cost_10k"] = cost(results["initial"], args.employees)
    flat = {
        "initial_10k.utilisation": results["initial"]["utilisation"],
        "initial_10k.wall_s": results["initial"]["wall_s"],
        "no_change.target_writes": results["no_change"]["target_writes"],
        "no_change.wall_s": results["no_change"]["wall_s"],
        "one_percent.changed": results["one_percent"]["changed"],
        "one_percent.target_writes": results["one_percent"]["target_writes"],
        "plan_100k.peak_rss_mb": results["plan_100k"]["peak_rss_mb"],
        "naive_1k.ratio": results["naive_1k"]["ratio"],
    }
    for scenario in ("initial", "no_change", "one_percent"):
        results[scenario].pop("run", None)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        **flat,
        "initial_10k": results["initial"],
        "no_change": results["no_change"],
        "one_percent": results["one_percent"],
        "naive_1k": results["naive_1k"],
        "plan_100k": results["plan_100k"],
        "cost_10k": results["cost_10k"],
        "machine": _machine(),
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nfigures written to {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 0


def _machine() -> dict[str, Any]:
    import os
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()}


if __name__ == "__main__":
    sys.exit(main())
