"""moto in server mode as the local AWS, with the table and queues created from template.yaml itself.

    aws = LocalAws().start()
    sam = load_template(Path("template.yaml"))
    resources = aws.deploy(translate_template(sam, aws.client("iam")))
    resources.ref("Table")                      # the table's physical name
    resources.resolve({"Fn::GetAtt": ["SyncQueue", "Arn"]})

moto runs in a child process rather than a thread of this one: moto's backends are module globals, so a
`mock_aws` started by another test in the same process would wipe the stack's state, and a separate process
keeps moto's work off this process's GIL.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from botocore.client import BaseClient

LOOPBACK = "127.0.0.1"
REGION = "eu-west-2"
ACCOUNT_ID = "123456789012"  # moto's default account
STACK_NAME = "hrsync-local"
# CodeUri/ContentUri become s3://<this>/<local path> before translation, so the translated
# AWS::Lambda::Function keeps its code folder in Code.S3Key.
LOCAL_CODE_BUCKET = "hrsync-local-code"

# The resource types the local stack creates through moto's CloudFormation. Functions, roles, the API and
# schedules are played by the emulator instead; AWS::SQS::QueuePolicy is left out because moto's
# CloudFormation does not implement it (and moto does not enforce resource policies anyway).
LOCAL_RESOURCE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic"})

_START_TIMEOUT_SECONDS = 30
_NO_VALUE = object()

log = logging.getLogger(__name__)


class LocalAwsError(RuntimeError):
    """The local AWS could not be started or the template could not be created in it."""


# --------------------------------------------------------------------------------------------- template
class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (`!Ref X`, `!GetAtt A.B`, `!Sub ...`) into long form."""


def _construct_short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_short_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Read a SAM/CloudFormation template (YAML or JSON) with short tags expanded to their long form."""
    with path.open(encoding="utf-8") as stream:
        template = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise LocalAwsError(f"{path} is not a CloudFormation template (no Resources)")
    return template


def translate_template(
    sam_template: Mapping[str, Any], iam_client: BaseClient, *, region: str = REGION
) -> dict[str, Any]:
    """Translate SAM to plain CloudFormation with aws-sam-translator, keeping local code folders.

    Each CodeUri/ContentUri path becomes `s3://hrsync-local-code/<path>`, so the translated functions and
    layers carry their folder in `Code.S3Key` / `Content.S3Key` (see `local_code_path`).
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    # It warns about its own feature-toggle config on every run; nothing for us to act on.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    template = copy.deepcopy(dict(sam_template))
    properties_blocks = [resource.get("Properties") or {} for resource in template["Resources"].values()]
    properties_blocks += [block for block in (template.get("Globals") or {}).values() if isinstance(block, dict)]
    for properties in properties_blocks:
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://{LOCAL_CODE_BUCKET}/{properties[key]}"
    # What samtranslator's transform() does, with the region given rather than read from this process's
    # AWS environment (the translator needs one for ARNs).
    parameters: dict[str, Any] = {}
    to_py27_compatible_template(template, parameters)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    policies = ManagedPolicyLoader(iam_client)
    translated = translator.translate(template, parameter_values=parameters, get_managed_policy_map=policies.load)
    return dict(undo_mark_unicode_str_in_template(translated))


def local_code_path(code: Any) -> str | None:
    """The local folder a translated `Code`/`Content` block points at, or None when it is not local."""
    if isinstance(code, Mapping) and code.get("S3Bucket") == LOCAL_CODE_BUCKET:
        return str(code.get("S3Key", ""))
    return None


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Each template parameter's value as CloudFormation sees it (a string): the override, else the default."""
    values: dict[str, str] = {}
    for name, declaration in (template.get("Parameters") or {}).items():
        if overrides and name in overrides:
            values[name] = _parameter_string(overrides[name])
        elif "Default" in declaration:
            values[name] = _parameter_string(declaration["Default"])
        else:
            raise LocalAwsError(f"parameter {name} has no Default: pass a value for it")
    unknown = set(overrides or ()) - set(values)
    if unknown:
        raise LocalAwsError(f"unknown template parameters: {sorted(unknown)}")
    return values


def _parameter_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


# --------------------------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class PhysicalResource:
    """What `Ref` and `Fn::GetAtt` give for one created resource."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class StackResources:
    """The local stack's physical ids, and CloudFormation intrinsic functions resolved against them.

    Resources the local stack does not create (functions, roles, the API, schedules) resolve to local
    stand-ins: a function's name is its logical id, its ARN a Lambda ARN with that name.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        physical: Mapping[str, PhysicalResource],
        *,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.physical = dict(physical)
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self._pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        }
        self._conditions: dict[str, bool] = {}

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.template.get("Resources") or {}

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self.physical:
            return self.physical[name].ref
        if name in self.resources:
            return name  # not created locally: its logical id is its local name
        raise LocalAwsError(f"Ref to unknown name {name!r}")

    def get_att(self, name: str, attribute: str) -> str:
        if name in self.physical:
            try:
                return self.physical[name].attributes[attribute]
            except KeyError:
                raise LocalAwsError(f"{name} has no attribute {attribute!r} locally") from None
        resource_type = (self.resources.get(name) or {}).get("Type")
        if resource_type is None:
            raise LocalAwsError(f"Fn::GetAtt on unknown resource {name!r}")
        if resource_type == "AWS::Lambda::Function" and attribute == "Arn":
            return self.function_arn(name)
        service = resource_type.split("::")[1].lower()
        return f"arn:aws:{service}:{self.region}:{self.account_id}:local/{name}/{attribute}"

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise LocalAwsError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function (Ref, GetAtt, Sub, Join, Select, Split, If, ...) evaluated."""
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self._resolve, value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {
                key: item for key, item in ((k, self._resolve(v)) for k, v in value.items()) if item is not _NO_VALUE
            }
        ((function, argument),) = value.items()
        if function == "Ref":
            return _NO_VALUE if argument == "AWS::NoValue" else self.ref(argument)
        if function == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(name, self._resolve(attribute))
        if function == "Fn::Sub":
            return self._sub(argument)
        if function == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(str(item) for item in self._resolve(items))
        if function == "Fn::Select":
            index, items = self._resolve(argument)
            return items[int(index)]
        if function == "Fn::Split":
            delimiter, text = self._resolve(argument)
            return text.split(delimiter)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self._resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Equals":
            left, right = self._resolve(argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self._resolve(argument[0])
        if function == "Fn::And":
            return all(self._resolve(argument))
        if function == "Fn::Or":
            return any(self._resolve(argument))
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if function == "Fn::ToJsonString":
            return json.dumps(self._resolve(argument), separators=(",", ":"))
        if function.startswith("Fn::"):
            raise LocalAwsError(f"{function} is not supported by the local stack")
        return {function: self._resolve(argument)}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        variables = self._resolve(variables)

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and expression.split(".", 1)[0] in self.resources:
                return self.get_att(*expression.split(".", 1))
            return self.ref(expression)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# --------------------------------------------------------------------------------------------- moto
class LocalAws:
    """moto's server on a free loopback port, in a child process, and the environment that reaches it."""

    def __init__(self, *, region: str = REGION, log_path: Path | None = None) -> None:
        self.region = region
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    def start(self) -> LocalAws:
        if self._process is not None:
            raise LocalAwsError("the local AWS is already running")
        stderr: Any = subprocess.DEVNULL
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = self._log_path.open("ab")
        repo_root = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")])),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.localaws"],
            stdin=subprocess.PIPE,  # the child exits when this pipe closes, even if this process is killed
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,  # Ctrl-C reaches this process only; it stops the child in order
        )
        if stderr is not subprocess.DEVNULL:
            stderr.close()
        self._port = self._read_port()
        return self

    def _read_port(self) -> int:
        assert self._process is not None
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], _START_TIMEOUT_SECONDS)
        line = self._process.stdout.readline() if ready else b""
        if not line.startswith(b"PORT "):
            self.stop()
            raise LocalAwsError("moto server did not start (see its log)")
        return int(line.split()[1])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._port is None:
            raise LocalAwsError("the local AWS is not running")
        return f"http://{LOOPBACK}:{self._port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 in any process at the local AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for the local AWS, whatever this process's own AWS environment says."""
        import boto3

        return boto3.session.Session().client(
            service,
            endpoint_url=kwargs.pop("endpoint_url", self.endpoint_url),
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - a dummy: moto accepts any credentials
            **kwargs,
        )

    # ----------------------------------------------------------------------------------------- deploy
    def deploy(
        self,
        cfn_template: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        *,
        stack_name: str = STACK_NAME,
    ) -> StackResources:
        """Create the template's tables, queues and topics through moto's CloudFormation; return their ids.

        `cfn_template` is plain CloudFormation (see `translate_template`). References from a created
        resource to one that is not created (a queue policy naming a function) become local stand-ins.
        """
        values = parameter_values(cfn_template, parameters)
        local_template = _local_template(cfn_template, StackResources(cfn_template, values, {}))
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(local_template),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()],
        )
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise LocalAwsError(f"local stack is {stack['StackStatus']}: {stack.get('StackStatusReason', '')}")
        created = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        physical = {
            item["LogicalResourceId"]: self._describe(item["ResourceType"], item["PhysicalResourceId"])
            for item in created
        }
        resources = StackResources(
            cfn_template, values, physical, region=self.region, account_id=ACCOUNT_ID, stack_name=stack_name
        )
        self._enable_time_to_live(resources)
        return resources

    def _describe(self, resource_type: str, physical_id: str) -> PhysicalResource:
        if resource_type == "AWS::DynamoDB::Table":
            table = self.client("dynamodb").describe_table(TableName=physical_id)["Table"]
            attributes = {"Arn": table["TableArn"]}
            if "LatestStreamArn" in table:
                attributes["StreamArn"] = table["LatestStreamArn"]
            return PhysicalResource(physical_id, attributes)
        if resource_type == "AWS::SQS::Queue":
            sqs = self.client("sqs")
            name = physical_id.rstrip("/").rsplit("/", 1)[-1]
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return PhysicalResource(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
        if resource_type == "AWS::SNS::Topic":
            return PhysicalResource(physical_id, {"TopicArn": physical_id, "TopicName": physical_id.rsplit(":", 1)[-1]})
        return PhysicalResource(physical_id)

    def _enable_time_to_live(self, resources: StackResources) -> None:
        # moto's CloudFormation ignores TimeToLiveSpecification; apply it the way the console would.
        dynamodb = self.client("dynamodb")
        for name, resource in resources.resources.items():
            if resource.get("Type") != "AWS::DynamoDB::Table" or name not in resources.physical:
                continue
            spec = resources.resolve((resource.get("Properties") or {}).get("TimeToLiveSpecification"))
            if spec and str(spec.get("Enabled")).lower() == "true":
                dynamodb.update_time_to_live(
                    TableName=resources.ref(name),
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["AttributeName"]},
                )


def _local_template(cfn_template: Mapping[str, Any], stand_ins: StackResources) -> dict[str, Any]:
    """The part of `cfn_template` moto creates: LOCAL_RESOURCE_TYPES, with references to the rest replaced."""
    resources = cfn_template.get("Resources") or {}
    kept = {name for name, resource in resources.items() if resource.get("Type") in LOCAL_RESOURCE_TYPES}
    dropped = set(resources) - kept

    def scrub(node: Any) -> Any:
        if isinstance(node, list):
            return [scrub(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref" and argument in dropped:
                return stand_ins.ref(argument)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                if name in dropped:
                    return stand_ins.get_att(name, attribute)
            if function == "Fn::Sub":
                text, variables = (argument, None) if isinstance(argument, str) else argument
                text = re.sub(
                    r"\$\{([^}!.]+)(?:\.([^}]+))?\}",
                    lambda m: (
                        (stand_ins.get_att(m.group(1), m.group(2)) if m.group(2) else stand_ins.ref(m.group(1)))
                        if m.group(1) in dropped
                        else m.group(0)
                    ),
                    text,
                )
                return {"Fn::Sub": text if variables is None else [text, scrub(variables)]}
        return {key: scrub(value) for key, value in node.items()}

    local_resources = {}
    for name in sorted(kept):
        resource = scrub(copy.deepcopy(resources[name]))
        depends_on = resource.get("DependsOn")
        if depends_on is not None:
            depends = [depends_on] if isinstance(depends_on, str) else depends_on
            resource["DependsOn"] = [item for item in depends if item in kept]
        local_resources[name] = resource
    local = {
        key: copy.deepcopy(cfn_template[key])
        for key in ("AWSTemplateFormatVersion", "Parameters", "Mappings", "Conditions")
        if key in cfn_template
    }
    local["Resources"] = local_resources
    return local


# --------------------------------------------------------------------------------------------- child
def serialize_moto_requests() -> None:
    """Make moto answer one request at a time.

    AWS applies each request atomically (an UpdateItem's ADD, a conditional write, a transaction); moto does
    not lock its backends, so parallel workers would lose counter updates. One lock around each request gives
    the local AWS the atomicity the real one has. Requests are short, so the cost is small.
    """
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    for cls in (DomainDispatcherApplication, BotocoreStubber):
        original = cls.__call__
        if getattr(original, "_serialized", False):
            continue

        def serialized(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            environ = args[0] if args and isinstance(args[0], dict) else None
            if environ is not None and environ.get("PATH_INFO") == REQUEST_COUNTS_PATH:
                return _answer_request_counts(environ, args[1])
            with _MOTO_LOCK:
                started = time.thread_time()
                try:
                    return _original(self, *args, **kwargs)
                finally:
                    if environ is not None:
                        action = environ.get("HTTP_X_AMZ_TARGET") or _query_action(environ)
                        _REQUESTS[action] += 1
                        _REQUEST_CPU[action] += time.thread_time() - started

        serialized._serialized = True  # type: ignore[attr-defined]
        cls.__call__ = serialized  # type: ignore[method-assign]


_MOTO_LOCK = threading.RLock()
# Requests moto answered, by action ("DynamoDB_20120810.BatchWriteItem", "AmazonSQS.ReceiveMessage"), and the
# CPU seconds it spent on them: GET answers them (and DELETE clears them) at this path, for `make bench`.
REQUEST_COUNTS_PATH = "/_local/requests"
_REQUESTS: Counter[str] = Counter()
_REQUEST_CPU: Counter[str] = Counter()


def _query_action(environ: dict[str, Any]) -> str:
    for part in str(environ.get("QUERY_STRING", "")).split("&"):
        if part.startswith("Action="):
            return part.removeprefix("Action=")
    return "other"


def _answer_request_counts(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    with _MOTO_LOCK:
        body = json.dumps(
            {action: {"count": n, "cpu_s": round(_REQUEST_CPU[action], 3)} for action, n in _REQUESTS.items()}
        ).encode()
        if environ.get("REQUEST_METHOD") == "DELETE":
            _REQUESTS.clear()
            _REQUEST_CPU.clear()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def snapshot_moto_transactions() -> None:
    """Make moto's TransactWriteItems back up only the items it touches.

    moto deep-copies every table a transaction touches before applying it (for rollback), which costs time in
    proportion to the table: with ten thousand employees each transaction took about half a second. This
    keeps moto's own logic and its rollback, but the backup is the touched items, restored on failure.
    """
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_snapshotted", False):
        return

    class _KeepTables:
        """moto's `copy` for this module, except that a Table is not copied (we back up items instead)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    dynamodb_models.copy = _KeepTables()  # type: ignore[assignment]
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backup: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table_name = op.get("TableName")
            if not table_name or table_name not in self.tables:
                continue
            table = self.tables[table_name]
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = self.get_item(table_name, key)
            backup.append((table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(backup):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    transact_write_items._snapshotted = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def lazy_moto_queue_attributes() -> None:
    """Make moto's Queue.attributes compute each attribute when asked for it.

    moto's send_message reads one attribute (ContentBasedDeduplication) through `Queue.attributes`, which
    computes all of them, the approximate message counts included, by walking every message on the queue: a
    cost per message sent that grows with the queue (about 5 ms a message at a few hundred waiting). The
    values and their formatting are moto's own; only the moment they are computed changes.
    """
    from collections.abc import Iterator, Mapping

    from moto.sqs.models import Queue, camelcase_to_underscores

    if getattr(Queue, "_lazy_attributes", False):
        return

    class _Attributes(Mapping[str, Any]):
        def __init__(self, queue: Any, names: list[str], fixed: dict[str, Any]) -> None:
            self._queue, self._names, self._fixed = queue, names, fixed

        def __getitem__(self, key: str) -> Any:
            if key in self._fixed:
                return self._fixed[key]
            if key not in self._names:
                raise KeyError(key)
            value = getattr(self._queue, camelcase_to_underscores(key))
            return str(value).lower() if isinstance(value, bool) else value

        def __iter__(self) -> Iterator[str]:
            return iter([*self._names, *self._fixed])

        def __len__(self) -> int:
            return len(self._names) + len(self._fixed)

    def attributes(self: Any) -> Mapping[str, Any]:
        names = list(self.BASE_ATTRIBUTES)
        if self.fifo_queue:
            names += self.FIFO_ATTRIBUTES
        if self.kms_master_key_id:
            names += self.KMS_ATTRIBUTES
        fixed: dict[str, Any] = {}
        if self.policy:
            fixed["Policy"] = self.policy
        if self.redrive_policy:
            fixed["RedrivePolicy"] = json.dumps(self.redrive_policy)
        return _Attributes(self, names, fixed)

    Queue.attributes = property(attributes)  # type: ignore[assignment, method-assign]
    Queue._lazy_attributes = True  # type: ignore[attr-defined]


def cache_moto_conditions() -> None:
    """Parse each DynamoDB condition expression once, not on every item it is checked against.

    moto parses a ConditionExpression from its text for every item a request touches, three times for a
    transaction's update; the parse was most of the cost of a transaction of many conditional writes
    (profiled: about 2 ms an item). The parsed condition depends only on the expression, its names and its
    values, so it is kept by those (bounded, least recently used first out).
    """
    import moto.dynamodb.comparisons as comparisons
    import moto.dynamodb.models as dynamodb_models
    import moto.dynamodb.models.table as dynamodb_table

    original = comparisons.get_filter_expression
    if getattr(original, "_cached", False):
        return
    get_filter_expression = _kept_by_expression(original)
    for module in (comparisons, dynamodb_models, dynamodb_table):
        module.get_filter_expression = get_filter_expression  # type: ignore[attr-defined]


# DynamoDB answers that are items and counts, already in DynamoDB JSON: sent as they are.
_PLAIN_DYNAMODB_ANSWERS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
)


def plain_moto_dynamodb_answers() -> None:
    """Send moto's DynamoDB item answers as JSON directly, without its model-driven serializer.

    moto builds every answer by walking the botocore output shape member by member; for a BatchGetItem of 50
    employees that took about 60 ms (profiled), far more than finding the items. An item answer is already
    DynamoDB JSON, which is what the shape walk produces, so for the operations above it is dumped as is.
    Errors and every other operation keep moto's serializer.
    """
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result
    if getattr(original, "_plain", False):
        return

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if context.operation_model.name in _PLAIN_DYNAMODB_ANSWERS and isinstance(result, dict):
            body = json.dumps(result, default=str)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    execute_result._plain = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def shallow_moto_query_results() -> None:
    """Let moto's Query hand back its matching items without deep-copying every one of them first.

    moto's Table.query deep-copies every item of the partition that matches the key condition before it
    pages, on every page: reading 10,000 employee states (seven pages) took about 70,000 deep copies
    (profiled: most of a no-change run's time). The copies guard the stored items against later changes to
    the results; nothing changes them here (projections build new items, and item answers are dumped as
    JSON, see plain_moto_dynamodb_answers), so a list of items is copied shallowly. Every other deep copy in
    that module (single items, tables, backups) stays deep.
    """
    import copy as copy_module

    import moto.dynamodb.models.table as dynamodb_table
    from moto.dynamodb.models.dynamo_type import Item

    if getattr(dynamodb_table.copy, "_shallow_lists", False):
        return

    class _Copy:
        _shallow_lists = True

        def __getattr__(self, name: str) -> Any:
            return getattr(copy_module, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, list) and all(isinstance(item, Item) for item in value):
                return list(value)
            return copy_module.deepcopy(value, memo)

    dynamodb_table.copy = _Copy()  # type: ignore[assignment]


def plain_moto_key_values() -> None:
    """Give moto's DynamoDB values a short way for plain strings, numbers and booleans, and sort a table's
    items by their key values rather than by value objects.

    A Query sorted every item of the table on every page (`Table.all_items`), comparing value objects whose
    every comparison rebuilt the value through `cast_value`'s chain of type checks; and building an item
    re-summed the sizes of all its attributes as each one was added. Reading 10,000 employee states took
    about 3 s of the local AWS's time, most of a no-change run (profiled: 4 million `cast_value` calls). The
    answers are the same: a string's cast value is the string, a key's order is its cast value's order, and an
    item over the size limit is refused as before.
    """
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict, bytesize
    from moto.dynamodb.models.table import Table

    if getattr(DynamoType, "_plain_values", False):
        return
    cast_value_of = DynamoType.cast_value.fget
    size_of = DynamoType.size

    def cast_value(self: Any) -> Any:
        if self.type in ("S", "B", "BOOL"):
            return self.value
        return cast_value_of(self)

    def size(self: Any) -> int:
        kind = self.type
        if kind == "S":
            return bytesize(self.value)
        if kind == "N":
            return len(str(self.value))
        if kind == "BOOL":
            return 1
        return int(size_of(self))

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > 405000:  # moto's limit
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict(converted)

    def key_order(item: Any) -> tuple[Any, ...]:
        return (item.hash_key.cast_value, item.range_key.cast_value) if item.range_key else (item.hash_key.cast_value,)

    def all_items(self: Any) -> list[Any]:
        items: list[Any] = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)
        return sorted(items, key=key_order)

    DynamoType.cast_value = property(cast_value)  # type: ignore[method-assign, assignment]
    DynamoType.size = size  # type: ignore[method-assign]
    Item.__init__ = item_init  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    DynamoType._plain_values = True  # type: ignore[attr-defined]


class _ParsedCondition:
    """A condition expression moto has already parsed once: what its request handlers read of a parser."""

    def __init__(self, op: Any, names: list[str], values: list[str]) -> None:
        self._op, self._names, self._values = op, names, values

    def parse(self) -> Any:
        return self._op

    @property
    def expr_attr_names_found(self) -> list[str]:
        return list(self._names)  # a copy: handlers extend the list they are given

    @property
    def expr_attr_values_found(self) -> list[str]:
        return list(self._values)


def cache_moto_condition_parses() -> None:
    """Let moto's request handlers parse each condition expression once, as cache_moto_conditions does for
    its backend: a transaction's validation parsed every action's condition again (profiled: an eighth of a
    transaction of 50 conditional writes). An expression that fails to parse is parsed, and fails, each time."""
    import moto.dynamodb.responses as dynamodb_responses

    original = dynamodb_responses.create_condition_expression_parser
    if getattr(original, "_cached", False):
        return

    def parse(expr: str | None, names: Any, values: Any) -> _ParsedCondition:
        parser = original(expr, names, values)
        op = parser.parse()
        return _ParsedCondition(op, list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))

    dynamodb_responses.create_condition_expression_parser = _kept_by_expression(parse)  # type: ignore[assignment]


def _kept_by_expression[T](build: Callable[[str | None, Any, Any], T]) -> Callable[[str | None, Any, Any], T]:
    """`build(expression, names, values)`, kept by its arguments (at most 4,096, least recently used first
    out); what `build` raises is raised each time. The wrapper is marked `_cached`."""
    kept: OrderedDict[str, T] = OrderedDict()

    def cached(expr: str | None, names: Any, values: Any) -> T:
        key = json.dumps([expr, names, values], sort_keys=True, default=str)
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        kept[key] = built = build(expr, names, values)
        if len(kept) > 4096:
            kept.popitem(last=False)
        return built

    cached._cached = True  # type: ignore[attr-defined]
    return cached


def unsupported_moto_move_tasks() -> None:
    """Answer SQS StartMessageMoveTask with UnsupportedOperation, as SQS-compatible services without it do.

    moto lacks the operation: in-process it raises NotImplementedError, and its server turns that into an
    HTML 500, which a client cannot tell from a broken server. The DLQ redrive then falls back to moving
    messages itself, as it does against moto in-process.
    """
    from moto.sqs.exceptions import SQSException
    from moto.sqs.responses import SQSResponse

    def start_message_move_task(self: Any) -> str:
        raise SQSException("UnsupportedOperation", "StartMessageMoveTask is not supported by the local AWS")

    SQSResponse.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]


def tune_moto() -> None:
    """Everything the local AWS changes in moto: atomic requests, cheap transactions, conditions, values and
    answers, queue sends, and an honest answer for the SQS operation it lacks."""
    serialize_moto_requests()
    snapshot_moto_transactions()
    cache_moto_conditions()
    cache_moto_condition_parses()
    plain_moto_key_values()
    plain_moto_dynamodb_answers()
    shallow_moto_query_results()
    lazy_moto_queue_attributes()
    unsupported_moto_move_tasks()


def _serve_moto() -> None:
    """Child process: serve moto on a free loopback port, print `PORT <n>`, exit when stdin closes."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    tune_moto()

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    sys.stdin.buffer.read()  # returns at EOF: the parent stopped us or died
    server.stop()


if __name__ == "__main__":
    _serve_moto()
