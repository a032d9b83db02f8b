"""`hrsync`: the on-call person's command for connections, runs, employees, conflicts, failures and queues.

Every read takes `--json` (one JSON document on stdout, for scripts); without it, rich tables. `--local`
talks to the local stack (`.hrsync/local.json`, or HRSYNC_LOCAL_STATE); otherwise the deployed stack named by
`--stack` (default hrsync, or HRSYNC_STACK) through its CloudFormation outputs, with SigV4-signed requests.
Exit codes: 0 done, 1 refused or failed (the message says why), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import httpx
import yaml
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hrsync.models.api import ConflictResolveRequest, DismissRequest, SyncRequest
from hrsync.models.connection import ConnectionInput, Credentials
from hrsync.models.records import RunStatus
from hrsync.models.work import WorkMessage
from hrsync.store.dlq import DeadLetterQueue
from hrsync_cli.target import DEFAULT_STACK, Target, TargetError, deployed_target, local_target

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
WAITING = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
# A DLQ's messages go back to the queue they came from.
REDRIVE_TO = {"SyncDLQ": "SyncQueue", "ReviewDLQ": "SyncDLQ"}
DLQ_NAMES = {"sync": "SyncDLQ", "review": "ReviewDLQ"}


class CliError(Exception):
    """Stops the command with a message and an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------------ plumbing
def _fields_of(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors(include_input=False)
    )


def _validated[M: BaseModel](model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CliError(f"{where}: {_fields_of(exc)}", 2) from None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), list):  # 422 from request validation
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', d.get('type', 'invalid'))}"
            for d in body["detail"]
            if isinstance(d, dict)
        )
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return json.dumps(body)[:300]


class Api:
    """The REST API, answering parsed JSON or raising CliError with the API's own message."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._client = target.api()

    def call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(
                method, path, json=body, params={k: v for k, v in (params or {}).items() if v is not None}
            )
        except httpx.HTTPError as exc:
            raise CliError(f"the API could not be reached ({type(exc).__name__}: {exc})") from None
        if response.is_error:
            raise CliError(f"{method} {path} answered {response.status_code}: {_error_message(response)}")
        return response.json() if response.content else None

    def run_connection(self, run_id: str, connection: str | None) -> str:
        """The connection a run belongs to (runs are stored per connection)."""
        if connection:
            return connection
        for candidate in self.call("GET", "/connections")["connections"]:
            try:
                self.call("GET", f"/connections/{candidate['id']}/syncs/{run_id}")
            except CliError:
                continue
            return str(candidate["id"])
        raise CliError(f"run {run_id} not found on any connection", 1)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _table(title: str, columns: Sequence[str], rows: list[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(table)


def _counts(counters: dict[str, Any], names: Sequence[str]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {counters.get(name, 0)}" for name in names if counters.get(name))


# ------------------------------------------------------------------------------------------------ connections
def connections_list(api: Api, args: argparse.Namespace) -> int:
    data = api.call("GET", "/connections")
    if args.json:
        _print_json(data)
        return 0
    _table(
        "Connections",
        ["id", "connector", "last successful sync", "running run", "quarantine"],
        [
            [
                c["id"],
                c["connector"],
                c.get("last_success_at"),
                c.get("running_run"),
                (c.get("quarantine") or {}).get("reason"),
            ]
            for c in data["connections"]
        ],
    )
    return 0


def connections_show(api: Api, args: argparse.Namespace) -> int:
    data = api.call("GET", f"/connections/{args.connection}")
    if args.json:
        _print_json(data)
        return 0
    _table(
        f"Connection {data['id']}",
        ["field", "value"],
        [
            ["connector", data["connector"]],
            ["source", json.dumps(data["source"])],
            ["target", json.dumps(data["target"])],
            ["secret", data["secret_name"]],
            ["options", json.dumps(data["options"])],
            ["last successful sync", data.get("last_success_at")],
            ["last run", data.get("last_run_id")],
            ["running run", data.get("running_run")],
            ["quarantine", json.dumps(data["quarantine"]) if data.get("quarantine") else None],
        ],
    )
    return 0


def _load_file(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{what} {path} cannot be read ({exc.strerror})", 2) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CliError(f"{what} {path} is not YAML or JSON{where}", 2) from None


def connections_put(api: Api, args: argparse.Namespace) -> int:
    document = _load_file(args.file, "connection file")
    if not isinstance(document, dict):
        raise CliError(f"connection file {args.file}: expected a mapping with id, connector, source, target", 2)
    if "credentials" in document:
        raise CliError(
            f"connection file {args.file}: field credentials: keep credentials out of the connection file; "
            "pass them with --credentials FILE (or - for stdin)",
            2,
        )
    connection_id = document.pop("id", None) or args.id
    if not connection_id:
        raise CliError(f"connection file {args.file}: field id: missing (or pass --id)", 2)
    document.setdefault("secret_name", f"{api.target.secret_prefix}{connection_id}")
    body = _validated(ConnectionInput, document, f"connection file {args.file}")
    if args.credentials:
        credentials = _validated(Credentials, _load_file(args.credentials, "credentials"), "credentials")
        _store_secret(api.target, body.secret_name, credentials)
    data = api.call("PUT", f"/connections/{connection_id}", body=body.model_dump(mode="json"))
    if args.json:
        _print_json(data)
    else:
        started = f"; run {data['started_run']} started" if data.get("started_run") else ""
        out.print(f"connection {data['id']} saved{started}")
    return 0


def _store_secret(target: Target, name: str, credentials: Credentials) -> None:
    """Create the secret, or add a new version: the API sees the new version and starts a run."""
    secrets = target.client("secretsmanager")
    value = credentials.model_dump_json()
    try:
        try:
            secrets.put_secret_value(SecretId=name, SecretString=value)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            secrets.create_secret(Name=name, SecretString=value)
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        raise CliError(f"secret {name} could not be stored ({code})") from None


def connections_delete(api: Api, args: argparse.Namespace) -> int:
    data = api.call("DELETE", f"/connections/{args.connection}")
    if args.json:
        _print_json(data)
    else:
        out.print(f"connection {args.connection} deleted; links and history kept, secret {data['secret_name']} left")
    return 0


# ------------------------------------------------------------------------------------------------ runs
def sync(api: Api, args: argparse.Namespace) -> int:
    request: dict[str, Any] = _validated(
        SyncRequest, {"employee_ids": args.employee or None, "dry_run": args.dry_run}, "sync"
    ).model_dump(exclude_defaults=True)
    if args.full:
        request["full"] = True  # a full read instead of the change feed, where the API offers it
    answer = api.call("POST", f"/connections/{args.connection}/syncs", body=request)
    if args.dry_run:
        return _show_plan(answer, args)
    run_id = answer["run_id"]
    if not args.wait:
        if args.json:
            _print_json(answer)
        else:
            out.print(f"run {run_id} {answer['status'].lower()}; follow it with: hrsync log {run_id} --follow")
        return 0
    run = _wait(api, args.connection, run_id, quiet=args.json)
    if args.json:
        _print_json(run)
    else:
        _print_run(run)
    return 0 if run["status"] == RunStatus.SUCCEEDED.value else 1


def _wait(api: Api, connection: str, run_id: str, *, quiet: bool, timeout: float = 3600) -> dict[str, Any]:
    """Poll the run until it ends (or waits for approval), with a progress bar of changes applied."""
    deadline = time.monotonic() + timeout
    path = f"/connections/{connection}/syncs/{run_id}"
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task(f"run {run_id}: queued", total=None)
        while True:
            run: dict[str, Any] = api.call("GET", path)
            c = run.get("counters", {})
            total = c.get("to_create", 0) + c.get("to_update", 0) + c.get("to_mark_leaver", 0)
            status = run["status"]
            if status == RunStatus.RUNNING.value and total:
                progress.update(
                    task, description=f"run {run_id}: applying", total=total, completed=total - c.get("pending", 0)
                )
            else:
                progress.update(task, description=f"run {run_id}: {status.lower()}")
            if status not in WAITING:
                return run
            if time.monotonic() > deadline:
                raise CliError(f"run {run_id} still {status} after {timeout:g} s")
            time.sleep(0.5)


def _print_run(run: dict[str, Any]) -> None:
    c = run.get("counters", {})
    out.print(f"run {run['run_id']}: {run['status']}" + (f" ({run['reason']})" if run.get("reason") else ""))
    done = _counts(
        c, ["created", "updated", "marked_leaver", "in_step", "not_syncing", "conflicts", "failed", "deferred"]
    )
    if done:
        out.print(done)


def _show_plan(plan: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        _print_json(plan)
        return 0
    c = plan["counters"]
    out.print(
        f"dry run of {plan['connection_id']}: nothing was written. "
        + (
            _counts(c, ["to_create", "to_update", "to_mark_leaver", "in_step", "not_syncing", "conflicts", "failed"])
            or "nothing to do"
        )
    )
    if plan.get("held_for_approval"):
        out.print(f"[yellow]the run would wait for approval: {plan['held_for_approval']}[/yellow]")
    for title, key in (("Creates", "creates"), ("Updates", "updates"), ("Leavers", "leavers")):
        if plan[key]:
            _table(
                title,
                ["employee", "code", "target", "fields"],
                [[p["employee_id"], p.get("code"), p.get("target_id"), ", ".join(p["fields"])] for p in plan[key]],
            )
    for title, key in (("Not syncing", "not_syncing"), ("Could not be read", "failed")):
        if plan[key]:
            _table(
                title,
                ["employee", "code", "reason"],
                [[p["employee_id"], p.get("code"), p["reason"]] for p in plan[key]],
            )
    if plan["conflicts"]:
        _table(
            "Conflicts",
            ["conflict", "reason", "employees", "target records"],
            [
                [x["conflict_id"], x["reason"], ", ".join(x["employee_ids"]), ", ".join(x["target_ids"])]
                for x in plan["conflicts"]
            ],
        )
    return 0


def runs(api: Api, args: argparse.Namespace) -> int:
    data = api.call("GET", f"/connections/{args.connection}/syncs")
    if args.json:
        _print_json(data)
        return 0
    _table(
        f"Runs of {args.connection}",
        ["run", "trigger", "status", "queued", "finished", "counts"],
        [
            [
                r["run_id"],
                r["trigger"],
                r["status"],
                r["queued_at"],
                r.get("finished_at"),
                _counts(r.get("counters", {}), ["created", "updated", "marked_leaver", "not_syncing", "failed"]),
            ]
            for r in data["runs"]
        ],
    )
    return 0


def log(api: Api, args: argparse.Namespace) -> int:
    connection = api.run_connection(args.run_id, args.connection)
    path = f"/connections/{connection}/syncs/{args.run_id}"
    if not args.follow:
        data = api.call("GET", f"{path}/log")
        if args.json:
            _print_json(data)
        else:
            for line in data["lines"]:
                _print_line(line)
        return 0
    seen: set[str] = set()
    while True:
        status = api.call("GET", path)["status"]  # read first: lines written before it ended are all in the log
        for line in api.call("GET", f"{path}/log")["lines"]:
            if line["seq"] not in seen:
                seen.add(line["seq"])
                if args.json:
                    sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
                    sys.stdout.flush()
                else:
                    _print_line(line)
        if status not in WAITING:
            return 0
        time.sleep(1)


def _print_line(line: dict[str, Any]) -> None:
    style = {"WARNING": "yellow", "ERROR": "red"}.get(line["level"], "")
    text = f"{line['time']}  {line['level']:<7}  {line['message']}"
    out.print(text, style=style, markup=False, highlight=False)


def approve(api: Api, args: argparse.Namespace) -> int:
    connection = api.run_connection(args.run_id, args.connection)
    data = api.call("POST", f"/connections/{connection}/syncs/{args.run_id}/approve")
    if args.json:
        _print_json(data)
    else:
        out.print(f"run {data['run_id']} approved: {data['status'].lower()}")
    return 0


# ------------------------------------------------------------------------------------------------ employees
def employees(api: Api, args: argparse.Namespace) -> int:
    data = api.call(
        "GET", f"/connections/{args.connection}/employees", params={"status": args.status, "search": args.search}
    )
    if args.json:
        _print_json(data)
        return 0
    _table(
        f"Employees of {args.connection}",
        ["employee", "code", "status", "reason", "target", "updated"],
        [
            [
                e["employee_id"],
                e.get("code"),
                e["status"],
                "; ".join([e.get("reason") or "", *e.get("warnings", [])]).strip("; "),
                e.get("target_id"),
                e.get("updated_at"),
            ]
            for e in data["employees"]
        ],
    )
    return 0


def employee(api: Api, args: argparse.Namespace) -> int:
    data = api.call("GET", f"/connections/{args.connection}/employees/{args.employee_id}")
    if args.json:
        _print_json(data)
        return 0
    e = data["employee"]
    _table(
        f"Employee {e['employee_id']}",
        ["field", "value"],
        [
            ["code", e.get("code")],
            ["status", e["status"]],
            ["reason", e.get("reason")],
            ["warnings", "; ".join(e.get("warnings", []))],
            ["target record", e.get("target_id")],
            ["matched by", e.get("matched_by")],
            ["last run", e.get("run_id")],
            ["last error", e.get("last_error")],
        ],
    )
    _table(
        "History",
        ["time", "run", "action", "fields", "outcome", "reason"],
        [
            [h["time"], h["run_id"], h.get("action"), ", ".join(h.get("fields", [])), h["outcome"], h.get("reason")]
            for h in data["history"]
        ],
    )
    return 0


# ------------------------------------------------------------------------------------------------ conflicts
def conflicts(api: Api, args: argparse.Namespace) -> int:
    if args.resolve:
        body = _validated(ConflictResolveRequest, {"conflict_id": args.resolve}, "--resolve").model_dump()
        accepted = api.call("POST", f"/connections/{args.connection}/conflicts/resolve", body=body)
        if not args.wait:
            if args.json:
                _print_json(accepted)
            else:
                out.print(
                    f"re-checking {args.resolve}: run {accepted['run_id']} for {', '.join(accepted['employee_ids'])}"
                )
            return 0
        _wait(api, args.connection, accepted["run_id"], quiet=args.json)
        remaining = api.call("GET", f"/connections/{args.connection}/conflicts")["conflicts"]
        still = any(c["conflict_id"] == args.resolve for c in remaining)
        result = {**accepted, "resolved": not still}
        if args.json:
            _print_json(result)
        else:
            out.print(f"conflict {args.resolve} " + ("is still there: the data is unchanged" if still else "is gone"))
        return 1 if still else 0
    data = api.call("GET", f"/connections/{args.connection}/conflicts")
    if args.json:
        _print_json(data)
        return 0
    _table(
        f"Conflicts of {args.connection}",
        ["conflict", "reason", "employees", "target records", "run"],
        [
            [c["conflict_id"], c["reason"], ", ".join(c["employee_ids"]), ", ".join(c["target_ids"]), c["run_id"]]
            for c in data["conflicts"]
        ],
    )
    return 0


# ------------------------------------------------------------------------------------------------ failures
def failures_list(api: Api, args: argparse.Namespace) -> int:
    data = api.call("GET", "/failures", params={"status": args.status})
    if args.json:
        _print_json(data)
        return 0
    _table(
        f"Failures ({args.status})",
        ["failure", "connection", "employee", "action", "class", "attempts", "reason"],
        [
            [
                f["failure_id"],
                f["connection_id"],
                f["employee_id"],
                f["action"],
                f["failure_class"],
                f["attempts"],
                f["reason"],
            ]
            for f in data["failures"]
        ],
    )
    return 0


def failures_show(api: Api, args: argparse.Namespace) -> int:
    data = api.call("GET", f"/failures/{args.failure_id}")
    if args.json:
        _print_json(data)
        return 0
    _table(f"Failure {data['failure_id']}", ["field", "value"], [[k, v] for k, v in data.items() if v is not None])
    return 0


def failures_retry(api: Api, args: argparse.Namespace) -> int:
    accepted = api.call("POST", f"/failures/{args.failure_id}/retry")
    if not args.wait:
        if args.json:
            _print_json(accepted)
        else:
            out.print(f"failure {args.failure_id} retried by run {accepted['run_id']}")
        return 0
    failure = api.call("GET", f"/failures/{args.failure_id}")
    run = _wait(api, failure["connection_id"], accepted["run_id"], quiet=args.json)
    if args.json:
        _print_json({**accepted, "run": run})
    else:
        _print_run(run)
    return 0 if run["status"] == RunStatus.SUCCEEDED.value else 1


def failures_dismiss(api: Api, args: argparse.Namespace) -> int:
    body = _validated(DismissRequest, {"note": args.note}, "--note").model_dump()
    data = api.call("DELETE", f"/failures/{args.failure_id}", body=body)
    if args.json:
        _print_json(data)
    else:
        out.print(f"failure {data['failure_id']} dismissed")
    return 0


# ------------------------------------------------------------------------------------------------ queues
def _dlq(target: Target, which: str) -> tuple[DeadLetterQueue, str]:
    name = DLQ_NAMES[which]
    url = target.queues.get(name)
    if not url:
        raise CliError(f"the stack does not say where {name} is (no queue URL)")
    return DeadLetterQueue(target.client("sqs"), url), name


def dlq_peek(api: Api, args: argparse.Namespace) -> int:
    queue, name = _dlq(api.target, args.queue)
    try:
        depth = queue.depth()
        messages = queue.peek(args.limit)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"{name} could not be read ({type(exc).__name__})") from None
    rows: list[dict[str, Any]] = []
    for message in messages:
        items: list[dict[str, Any]]
        try:
            items = [i.model_dump(mode="json") for i in WorkMessage.model_validate_json(message.body).items]
            readable = True
        except ValueError:
            items, readable = [], False
        rows.append(
            {
                "message_id": message.message_id,
                "receive_count": message.receive_count,
                "readable": readable,
                "items": items,
            }
        )
    if args.json:
        _print_json({"queue": name, "depth": depth, "messages": rows})
        return 0
    out.print(f"{name}: about {depth} messages (peeked; none consumed)")
    _table(
        name,
        ["message", "receives", "connection", "run", "employee", "action", "fields"],
        [
            [
                r["message_id"],
                r["receive_count"],
                i.get("connection_id"),
                i.get("run_id"),
                i.get("employee_id"),
                i.get("action"),
                ", ".join(i.get("fields", [])),
            ]
            for r in rows
            for i in (r["items"] or [{"employee_id": "(not a work message)"}])
        ],
    )
    return 0


def dlq_redrive(api: Api, args: argparse.Namespace) -> int:
    queue, name = _dlq(api.target, args.queue)
    destination = api.target.queues.get(REDRIVE_TO[name])
    if not destination:
        raise CliError(f"the stack does not say where {REDRIVE_TO[name]} is (no queue URL)")
    try:
        result = queue.redrive(destination)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"{name} could not be redriven ({type(exc).__name__})") from None
    except Exception as exc:  # StoreError from the wrapper, with SQS's reason
        raise CliError(f"{name} could not be redriven: {exc}") from None
    answer = {
        "queue": name,
        "to": REDRIVE_TO[name],
        "method": result.method,
        "moved": result.moved,
        "task_handle": result.task_handle,
    }
    if args.json:
        _print_json(answer)
    elif result.method == "move_task":
        out.print(f"{name} -> {REDRIVE_TO[name]}: SQS move task started ({result.task_handle})")
    else:
        out.print(f"{name} -> {REDRIVE_TO[name]}: {result.moved} messages moved")
    return 0


# ------------------------------------------------------------------------------------------------ parser
def _parser() -> argparse.ArgumentParser:
    def common() -> argparse.ArgumentParser:
        # A fresh parent each time: argparse shares a parent's actions, and the top-level defaults below must
        # not become the subcommands' (an option given before the subcommand would be reset by them).
        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
        options.add_argument(
            "--local",
            action="store_true",
            default=argparse.SUPPRESS,
            help="talk to the local stack (.hrsync/local.json, or HRSYNC_LOCAL_STATE)",
        )
        options.add_argument("--stack", default=argparse.SUPPRESS, help="deployed stack name (default hrsync)")
        options.add_argument("--region", default=argparse.SUPPRESS, help="AWS region of the deployed stack")
        options.add_argument("--profile", default=argparse.SUPPRESS, help="AWS profile")
        return options

    parser = argparse.ArgumentParser(prog="hrsync", description=__doc__.split("\n\n")[0], parents=[common()])
    parser.set_defaults(
        json=False, local=False, stack=os.environ.get("HRSYNC_STACK", DEFAULT_STACK), region=None, profile=None
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, run: Callable[[Api, argparse.Namespace], int], text: str) -> Any:
        sub = parent.add_parser(name, parents=[common()], help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    connections = commands.add_parser("connections", help="list, show, save or delete connections")
    verbs = connections.add_subparsers(dest="verb", required=True, metavar="VERB")
    command(verbs, "list", connections_list, "every connection")
    command(verbs, "show", connections_show, "one connection").add_argument("connection")
    put = command(verbs, "put", connections_put, "save a connection from a YAML/JSON file (credentials never on argv)")
    put.add_argument("--file", required=True, help="conn.yaml: id, connector, source, target, options")
    put.add_argument("--id", help="the connection id, when the file has none")
    put.add_argument("--credentials", help="file with {source: {api_key}, target: {api_key}}, or - for stdin")
    command(verbs, "delete", connections_delete, "delete a connection (links and history stay)").add_argument(
        "connection"
    )

    s = command(commands, "sync", sync, "start a run (or plan one with --dry-run)")
    s.add_argument("connection")
    s.add_argument("--employee", action="append", metavar="ID", help="only this employee (repeatable)")
    s.add_argument("--full", action="store_true", help="a full read rather than the change feed")
    s.add_argument("--dry-run", action="store_true", help="plan and show the plan; write nothing")
    s.add_argument("--wait", action="store_true", help="wait for the run to end, with a progress bar")

    command(commands, "runs", runs, "a connection's recent runs").add_argument("connection")
    lg = command(commands, "log", log, "a run's log")
    lg.add_argument("run_id")
    lg.add_argument("--connection", help="the run's connection (found by asking each connection otherwise)")
    lg.add_argument("--follow", action="store_true", help="keep printing new lines until the run ends")
    ap = command(commands, "approve", approve, "let a run held by the mass-leaver safeguard go on")
    ap.add_argument("run_id")
    ap.add_argument("--connection", help="the run's connection")

    em = command(commands, "employees", employees, "employees with their status and reason")
    em.add_argument("connection")
    em.add_argument("--status", choices=["NOT_SYNCING", "IN_PROGRESS", "SUCCESSFUL", "FAILED"])
    em.add_argument("--search", help="part of a payroll code or employee id")
    one = command(commands, "employee", employee, "one employee: status, link, history")
    one.add_argument("connection")
    one.add_argument("employee_id")

    cf = command(commands, "conflicts", conflicts, "the conflicts report, or --resolve one once its data was fixed")
    cf.add_argument("connection")
    cf.add_argument("--resolve", metavar="CONFLICT_ID", help="re-check this conflict with a run for its employees")
    cf.add_argument("--wait", action="store_true", help="with --resolve: wait and say whether it is gone")

    failures = commands.add_parser("failures", help="failures for review: list, show, retry, dismiss")
    fverbs = failures.add_subparsers(dest="verb", required=True, metavar="VERB")
    command(fverbs, "list", failures_list, "failures for review").add_argument(
        "--status", default="OPEN", choices=["OPEN", "RETRIED", "DISMISSED"]
    )
    command(fverbs, "show", failures_show, "one failure").add_argument("failure_id")
    retry = command(fverbs, "retry", failures_retry, "sync the failed employee again")
    retry.add_argument("failure_id")
    retry.add_argument("--wait", action="store_true", help="wait for the retry run to end")
    dismiss = command(fverbs, "dismiss", failures_dismiss, "close a failure with a note")
    dismiss.add_argument("failure_id")
    dismiss.add_argument("--note", required=True, help="why no further action is needed")

    dlq = commands.add_parser("dlq", help="dead-letter queues: peek (nothing consumed) or redrive")
    dverbs = dlq.add_subparsers(dest="verb", required=True, metavar="VERB")
    peek = command(dverbs, "peek", dlq_peek, "look at messages without consuming them")
    peek.add_argument("--queue", choices=sorted(DLQ_NAMES), default="sync")
    peek.add_argument("--limit", type=int, default=10)
    redrive = command(dverbs, "redrive", dlq_redrive, "move every message back to its source queue")
    redrive.add_argument("--queue", choices=sorted(DLQ_NAMES), default="sync")
    return parser


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"hrsync: {message}", style="red", markup=False, highlight=False)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        target = local_target() if args.local else deployed_target(args.stack, args.region, args.profile)
        return int(args.run(Api(target), args))
    except TargetError as exc:
        _fail(str(exc), 2)
    except CliError as exc:
        _fail(str(exc), exc.code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
