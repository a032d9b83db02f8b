"""Lambda's part, played locally: SQS event sources, schedules and the Invoke API, all read from the template.

    emulator = EventSourceEmulator(sqs_event_sources(cfn, resources), schedules(cfn, resources), ...)
    emulator.url                                      # bound already: give it to the functions' environment
    emulator.start(pools)                             # {logical id: FunctionPool}
    boto3.client("lambda", endpoint_url=emulator.url).invoke(FunctionName="ApiFunction", Payload=b"{}")
    emulator.fire_schedule("StaffologyExpenseInSyncFunction")
    emulator.wait_idle(timeout=60)

- SQS: one poller per AWS::Lambda::EventSourceMapping; batches of up to BatchSize records (gathered for up
  to MaximumBatchingWindowInSeconds) go to a free instance of the function, at most MaximumConcurrency at
  once; records not named in `batchItemFailures` are deleted (ReportBatchItemFailures), a function error
  fails the whole batch. Failed records become visible again after `retry_delay` seconds rather than the
  queue's visibility timeout, so retries and moto's RedrivePolicy (a record received more than
  maxReceiveCount times moves to the dead-letter queue) take seconds locally instead of minutes.
- Schedules (AWS::Scheduler::Schedule, AWS::Events::Rule): no clock runs; `fire_schedule` and
  `POST /_local/schedules/<FunctionLogicalId>` invoke the function asynchronously with the target's Input,
  as EventBridge Scheduler would.
- Invoke: `POST /2015-03-31/functions/<name>/invocations` for boto3 (`AWS_ENDPOINT_URL_LAMBDA`), with
  `RequestResponse`, `Event` (async, retried per the function's EventInvokeConfig, default 2) and `DryRun`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.function_host import FunctionPool, Invocation

if TYPE_CHECKING:
    from sandbox.localaws import StackResources

LOOPBACK = "127.0.0.1"
DEFAULT_RETRY_DELAY_SECONDS = 1
DEFAULT_ASYNC_RETRY_ATTEMPTS = 2  # Lambda's default for asynchronous invocations
SQS_RECEIVE_LIMIT = 10  # ReceiveMessage returns at most 10 messages per call
_QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

log = logging.getLogger(__name__)
EMPTY_POLL_PAUSE_SECONDS = 0.05


# --------------------------------------------------------------------------------------------- template
@dataclass(frozen=True)
class SqsEventSource:
    """One SQS event source mapping: which queue feeds which function, in what batches, how concurrently."""

    logical_id: str
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    batching_window_seconds: float = 0.0
    enabled: bool = True


@dataclass(frozen=True)
class Schedule:
    """One schedule that targets a function, with the payload it would send."""

    logical_id: str
    function: str
    expression: str
    timezone: str | None
    input: str | None
    is_rule: bool = False  # an EventBridge rule sends a "Scheduled Event" when it has no Input


def sqs_event_sources(cfn_template: Mapping[str, Any], resources: StackResources) -> list[SqsEventSource]:
    """The template's SQS event source mappings, with queue ARNs resolved to local URLs."""
    queues_by_arn = {
        physical.attributes["Arn"]: physical.ref
        for physical in resources.physical.values()
        if physical.attributes.get("Arn", "").startswith("arn:aws:sqs:")
    }
    sources = []
    for logical_id, resource in (cfn_template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resources.resolve(resource.get("Properties") or {})
        arn = str(properties.get("EventSourceArn", ""))
        if arn not in queues_by_arn:
            log.warning("%s: only SQS event sources run locally; skipped", logical_id)
            continue
        scaling = properties.get("ScalingConfig") or {}
        maximum = scaling.get("MaximumConcurrency")
        sources.append(
            SqsEventSource(
                logical_id=logical_id,
                function=function_name_from(str(properties["FunctionName"])),
                queue_url=queues_by_arn[arn],
                queue_arn=arn,
                batch_size=int(properties.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or []),
                maximum_concurrency=int(maximum) if maximum is not None else None,
                batching_window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                enabled=str(properties.get("Enabled", True)).lower() != "false",
            )
        )
    return sources


def schedules(cfn_template: Mapping[str, Any], resources: StackResources) -> list[Schedule]:
    """The template's schedules (EventBridge Scheduler schedules and scheduled rules) that target functions."""
    found = []
    for logical_id, resource in (cfn_template.get("Resources") or {}).items():
        kind = resource.get("Type")
        if kind not in ("AWS::Scheduler::Schedule", "AWS::Events::Rule"):
            continue
        properties = resources.resolve(resource.get("Properties") or {})
        if kind == "AWS::Events::Rule" and "ScheduleExpression" not in properties:
            continue  # an event pattern rule, not a schedule
        targets = (
            [properties.get("Target") or {}] if kind == "AWS::Scheduler::Schedule" else properties.get("Targets") or []
        )
        for target in targets:
            arn = str(target.get("Arn", ""))
            if ":lambda:" not in arn:
                continue
            found.append(
                Schedule(
                    logical_id=logical_id,
                    function=function_name_from(arn),
                    expression=str(properties.get("ScheduleExpression", "")),
                    timezone=properties.get("ScheduleExpressionTimezone"),
                    input=target.get("Input"),
                    is_rule=kind == "AWS::Events::Rule",
                )
            )
    return found


def async_retry_attempts(cfn_template: Mapping[str, Any], resources: StackResources) -> dict[str, int]:
    """MaximumRetryAttempts per function from AWS::Lambda::EventInvokeConfig (functions without one: 2)."""
    attempts = {}
    for resource in (cfn_template.get("Resources") or {}).values():
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig":
            properties = resources.resolve(resource.get("Properties") or {})
            if "MaximumRetryAttempts" in properties:
                name = function_name_from(str(properties["FunctionName"]))
                attempts[name] = int(properties["MaximumRetryAttempts"])
    return attempts


def function_name_from(identifier: str) -> str:
    """A function's name from a name, `name:qualifier`, a partial ARN or a full ARN."""
    if identifier.startswith("arn:"):
        return identifier.split(":")[6]
    if ":function:" in identifier:
        return identifier.split(":function:", 1)[1].split(":")[0]
    return identifier.split(":")[0]


# --------------------------------------------------------------------------------------------- emulator
class FunctionNotFoundError(LookupError):
    """No local function has that name."""


class EventSourceEmulator:
    """Polls SQS event sources, fires schedules on request and serves Lambda's Invoke API on loopback."""

    def __init__(
        self,
        sqs_sources: Sequence[SqsEventSource],
        schedule_list: Sequence[Schedule],
        *,
        sqs_client_factory: Callable[[], Any],
        region: str,
        account_id: str = "123456789012",
        async_retries: Mapping[str, int] | None = None,
        retry_delay: int = DEFAULT_RETRY_DELAY_SECONDS,
        poll_wait_seconds: int = 1,
        port: int = 0,
    ) -> None:
        self.sqs_sources = [source for source in sqs_sources if source.enabled]
        self.schedules = list(schedule_list)
        self.pools: dict[str, FunctionPool] = {}
        self.region = region
        self.account_id = account_id
        self.retry_delay = retry_delay
        self._sqs_client_factory = sqs_client_factory
        self._local = threading.local()
        self._async_retries = dict(async_retries or {})
        self._poll_wait_seconds = poll_wait_seconds
        self._stopping = threading.Event()
        self.paused: set[str] = set()  # logical ids of SQS event sources not polled for now (make bench)
        self._threads: list[threading.Thread] = []
        self._activity = threading.Condition()
        self._in_flight = 0
        self._started_invocations = 0
        # Bound now, so the functions' environment can name this endpoint before they exist.
        self._server = _InvokeServer((LOOPBACK, port), self)
        self._serving = False
        self.watched_sources: list[SqsEventSource] = []

    # ----------------------------------------------------------------------------------------- lifecycle
    def start(self, pools: Mapping[str, FunctionPool]) -> EventSourceEmulator:
        """Serve the Invoke endpoint and poll every SQS event source whose function is in `pools`."""
        self.pools = dict(pools)
        self._serving = True
        self._spawn(self._server.serve_forever, "lambda-invoke-endpoint", poll_interval=0.1)
        for source in self.sqs_sources:
            if source.function in self.pools:
                self.watched_sources.append(source)
                self._spawn(self._poll, f"sqs-{source.logical_id}", source)
            else:
                log.warning("%s: %s does not run locally; queue not polled", source.logical_id, source.function)
        return self

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop polling, let in-flight invocations finish (up to `drain_timeout`), stop serving."""
        self._stopping.set()
        with self._activity:
            self._activity.wait_for(lambda: self._in_flight == 0, timeout=drain_timeout)
        if self._serving:
            self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=self._poll_wait_seconds + 5)

    def _spawn(self, target: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    @property
    def url(self) -> str:
        """Base URL of the Lambda Invoke endpoint (AWS_ENDPOINT_URL_LAMBDA)."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def _sqs(self) -> Any:
        # boto3 clients are thread-safe, but one per thread keeps connection pools out of each other's way.
        client = getattr(self._local, "sqs", None)
        if client is None:
            client = self._local.sqs = self._sqs_client_factory()
        return client

    # ----------------------------------------------------------------------------------------- invoke
    @contextlib.contextmanager
    def _tracked(self) -> Any:
        with self._activity:
            self._in_flight += 1
            self._started_invocations += 1
        try:
            yield
        finally:
            with self._activity:
                self._in_flight -= 1
                self._activity.notify_all()

    def resolve_function(self, identifier: str) -> str:
        """The logical id of the local function a name, qualified name or ARN refers to."""
        name = function_name_from(identifier)
        if name not in self.pools:
            raise FunctionNotFoundError(identifier)
        return name

    def invoke(self, function: str, payload: bytes | Any = b"{}") -> Invocation:
        """Invoke synchronously (RequestResponse); `payload` is JSON bytes or a JSON-able value."""
        name = self.resolve_function(function)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        with self._tracked():
            return self.pools[name].invoke(raw)

    def invoke_async(self, function: str, payload: bytes | Any = b"{}") -> str:
        """Queue an asynchronous invocation (Event), retried like Lambda's; returns its request id."""
        name = self.resolve_function(function)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        request_id = str(uuid.uuid4())
        with self._activity:
            # Counted from now, so wait_idle cannot slip between this call and the thread starting.
            self._in_flight += 1
            self._started_invocations += 1
        threading.Thread(
            target=self._run_async, args=(name, raw, request_id), name=f"async-{name}", daemon=True
        ).start()
        return request_id

    def _run_async(self, name: str, raw: bytes, request_id: str) -> None:
        try:
            attempts = 1 + self._async_retries.get(name, DEFAULT_ASYNC_RETRY_ATTEMPTS)
            for attempt in range(1, attempts + 1):
                result = self.pools[name].invoke(raw, request_id)
                if not result.error:
                    return
                log.warning(
                    "%s async invocation %s failed (attempt %d of %d): %s",
                    name,
                    request_id,
                    attempt,
                    attempts,
                    result.payload[:500],
                )
                # Lambda waits about a minute, then two, before retrying; locally retry_delay seconds.
                if attempt < attempts and self._stopping.wait(self.retry_delay):
                    return
        except RuntimeError:
            if not self._stopping.is_set():
                raise
        finally:
            with self._activity:
                self._in_flight -= 1
                self._activity.notify_all()

    # ----------------------------------------------------------------------------------------- schedules
    def schedule_for(self, function: str, schedule: str | None = None) -> Schedule:
        name = self.resolve_function(function)
        matching = [s for s in self.schedules if s.function == name and schedule in (None, s.logical_id)]
        if not matching:
            raise FunctionNotFoundError(f"no schedule targets {function}" + (f" named {schedule}" if schedule else ""))
        if len(matching) > 1:
            raise LookupError(f"{function} has several schedules; name one of {[s.logical_id for s in matching]}")
        return matching[0]

    def schedule_payload(self, schedule: Schedule) -> bytes:
        if schedule.input is not None:
            return schedule.input.encode()
        if not schedule.is_rule:
            return b"{}"
        return json.dumps(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.account_id,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [f"arn:aws:events:{self.region}:{self.account_id}:rule/{schedule.logical_id}"],
                "detail": {},
            }
        ).encode()

    def fire_schedule(self, function: str, *, schedule: str | None = None, wait: bool = False) -> Invocation | str:
        """Do what the function's schedule does when it fires: invoke it asynchronously with the Input.

        With `wait=True` the invocation is synchronous and its result is returned; otherwise the request id.
        """
        chosen = self.schedule_for(function, schedule)
        payload = self.schedule_payload(chosen)
        if wait:
            return self.invoke(chosen.function, payload)
        return self.invoke_async(chosen.function, payload)

    # ----------------------------------------------------------------------------------------- SQS
    def _poll(self, source: SqsEventSource) -> None:
        concurrency = min(
            source.maximum_concurrency or self.pools[source.function].size, self.pools[source.function].size
        )
        slots = threading.Semaphore(concurrency)
        while not self._stopping.is_set():
            if source.logical_id in self.paused:
                self._stopping.wait(0.1)
                continue
            if not slots.acquire(timeout=0.5):
                continue
            try:
                messages = self._receive_batch(source)
            except Exception:
                slots.release()
                if self._stopping.is_set():
                    return
                log.exception("%s: ReceiveMessage failed", source.logical_id)
                self._stopping.wait(1)
                continue
            if not messages:
                slots.release()
                continue
            with self._activity:
                self._in_flight += 1
                self._started_invocations += 1
            threading.Thread(
                target=self._deliver, args=(source, messages, slots), name=f"batch-{source.function}", daemon=True
            ).start()

    def _receive(self, source: SqsEventSource, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(count, SQS_RECEIVE_LIMIT),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _receive_batch(self, source: SqsEventSource) -> list[dict[str, Any]]:
        """Long-poll for a first message, then, like Lambda, gather more until the batch is full or the
        MaximumBatchingWindowInSeconds has passed."""
        # Short polls, not long ones: the local moto answers one request at a time (see
        # localaws.serialize_moto_requests), and a long poll would hold every other AWS call up.
        messages = self._receive(source, source.batch_size, 0)
        if not messages:
            self._stopping.wait(EMPTY_POLL_PAUSE_SECONDS)
            return messages
        deadline = time.monotonic() + source.batching_window_seconds
        while messages and len(messages) < source.batch_size and time.monotonic() < deadline:
            more = self._receive(source, source.batch_size - len(messages), 0)
            messages += more
            if not more:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return messages

    def _deliver(self, source: SqsEventSource, messages: list[dict[str, Any]], slots: threading.Semaphore) -> None:
        try:
            event = {"Records": [self._sqs_record(source, message) for message in messages]}
            try:
                result = self.pools[source.function].invoke(json.dumps(event).encode())
            except RuntimeError:  # the pool was stopped under us
                return
            failed = self._failed_message_ids(source, messages, result)
            self._settle(source, messages, failed)
        except Exception:
            log.exception("%s: delivering a batch failed", source.logical_id)
        finally:
            slots.release()
            with self._activity:
                self._in_flight -= 1
                self._activity.notify_all()

    def _sqs_record(self, source: SqsEventSource, message: dict[str, Any]) -> dict[str, Any]:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": self.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _failed_message_ids(
        self, source: SqsEventSource, messages: list[dict[str, Any]], result: Invocation
    ) -> set[str]:
        every = {message["MessageId"] for message in messages}
        if result.error:
            log.warning("%s: batch of %d failed: %s", source.function, len(messages), result.payload[:500])
            return every
        if not source.report_batch_item_failures:
            return set()
        try:
            response = result.json()
        except ValueError:
            return every
        if not isinstance(response, dict) or not response.get("batchItemFailures"):
            return set()
        failures = response["batchItemFailures"]
        identifiers = {item.get("itemIdentifier") for item in failures if isinstance(item, dict)}
        # Lambda treats the whole batch as failed when the response names something not in the batch.
        if len(identifiers) != len(failures) or not identifiers <= every:
            log.warning("%s: invalid batchItemFailures %r: whole batch failed", source.function, failures)
            return every
        return {str(identifier) for identifier in identifiers}

    def _settle(self, source: SqsEventSource, messages: list[dict[str, Any]], failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if retry:
            # Lambda would leave these invisible for the queue's whole visibility timeout (minutes);
            # a short delay keeps local retries, and moto's redrive to the DLQ, within seconds.
            self._sqs.change_message_visibility_batch(
                QueueUrl=source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_delay}
                    for i, m in enumerate(retry)
                ],
            )

    # ----------------------------------------------------------------------------------------- idle
    def queue_counts(self) -> dict[str, int]:
        """Messages in each watched queue (visible + in flight + delayed), keyed by event source."""
        counts = {}
        for source in self.watched_sources:
            attributes = self._sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=list(_QUEUE_COUNTS))
            counts[source.logical_id] = sum(int(attributes["Attributes"].get(name, 0)) for name in _QUEUE_COUNTS)
        return counts

    def idle(self) -> bool:
        """True when no invocation is in flight and every queue an event source reads is empty."""
        with self._activity:
            if self._in_flight:
                return False
            started = self._started_invocations
        if any(self.queue_counts().values()):
            return False
        with self._activity:
            # An invocation that started (and perhaps ended) while the queues were read may have sent more.
            return self._in_flight == 0 and self._started_invocations == started

    def activity(self) -> dict[str, Any]:
        """What keeps the emulator busy: in-flight invocations and queue counts."""
        with self._activity:
            in_flight = self._in_flight
        return {"in_flight": in_flight, "queues": self.queue_counts()}

    def wait_idle(self, timeout: float = 60.0, interval: float = 0.2) -> bool:
        """Block until `idle()`; raise TimeoutError naming what is still busy after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(f"local stack not idle after {timeout:g} s: {self.activity()}")
            time.sleep(interval)
        return True


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS message attribute as Lambda's SQS event spells it (camelCase, binary as base64)."""

    def encoded(data: Any) -> str:
        return base64.b64encode(data).decode() if isinstance(data, bytes | bytearray) else str(data)

    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [encoded(item) for item in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = encoded(value["BinaryValue"])
    return attribute


# --------------------------------------------------------------------------------------------- HTTP
class _InvokeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: EventSourceEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _InvokeRequestHandler)


class _InvokeRequestHandler(BaseHTTPRequestHandler):
    server: _InvokeServer
    protocol_version = "HTTP/1.1"
    _INVOKE_PREFIX = "/2015-03-31/functions/"

    def do_POST(self) -> None:
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        emulator = self.server.emulator
        try:
            if target.path.startswith(self._INVOKE_PREFIX) and target.path.endswith("/invocations"):
                function = unquote(target.path[len(self._INVOKE_PREFIX) : -len("/invocations")])
                self._invoke(function, body)
            elif target.path.startswith("/_local/schedules/"):
                function = unquote(target.path.removeprefix("/_local/schedules/"))
                wait = parse_qs(target.query).get("wait", ["false"])[0].lower() in ("1", "true", "yes")
                outcome = emulator.fire_schedule(function, wait=wait)
                if isinstance(outcome, Invocation):
                    self._send(200, outcome.payload, {"X-Amz-Function-Error": "Unhandled"} if outcome.error else {})
                else:
                    self._send(202, json.dumps({"requestId": outcome}).encode())
            else:
                self._send(404, json.dumps({"message": f"no route for POST {target.path}"}).encode())
        except FunctionNotFoundError as exc:
            self._error(404, "ResourceNotFoundException", f"Function not found: {exc.args[0]}")
        except LookupError as exc:
            self._error(400, "InvalidParameterValueException", str(exc))

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/_local/idle":
            emulator = self.server.emulator
            self._send(200, json.dumps({"idle": emulator.idle(), **emulator.activity()}).encode())
        else:
            self._send(404, json.dumps({"message": f"no route for GET {self.path}"}).encode())

    def _invoke(self, function: str, body: bytes) -> None:
        emulator = self.server.emulator
        name = emulator.resolve_function(function)
        payload = body or b"{}"
        try:
            json.loads(payload)
        except ValueError:
            self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self._send(204, b"")
        elif invocation_type == "Event":
            emulator.invoke_async(name, payload)
            self._send(202, b"")
        elif invocation_type == "RequestResponse":
            result = emulator.invoke(name, payload)
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            if result.error:
                headers["X-Amz-Function-Error"] = "Unhandled"
            self._send(200, result.payload, headers)
        else:
            self._error(400, "InvalidParameterValueException", f"Unsupported invocation type {invocation_type}")

    def _error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._send(status, body, {"x-amzn-ErrorType": error_type})

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("lambda endpoint: " + format, *args)
