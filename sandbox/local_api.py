"""API Gateway's part, played locally: HTTP requests become REST API proxy events for the template's functions.

    api = LocalApi(api_routes(sam_template), emulator.invoke, api_key="...").start()
    httpx.get(f"{api.url}/connections/x", headers={"x-api-key": api.api_key})

The deployed API authorises callers with IAM (SigV4); locally a random API key in `x-api-key` stands in for
that, checked before any function runs. Routes come from the SAM template's `Api` events (path templates
with `{param}` and `{proxy+}`, method or ANY); the stage name from the RestApi's StageName.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from sandbox.function_host import Invocation
    from sandbox.localaws import StackResources

LOOPBACK = "127.0.0.1"
API_KEY_HEADER = "x-api-key"
# The API documentation, readable in a browser without the key (a browser cannot send the header).
PUBLIC_PATHS = frozenset({"/docs", "/openapi.json"})
DEFAULT_STAGE = "v1"

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- routes
@dataclass(frozen=True)
class ApiRoute:
    """One `Api` event: requests matching `resource` (a path template) and `method` go to `function`."""

    function: str
    resource: str
    method: str = "ANY"

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.resource):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{part[1:-1]}>[^/]+)"
            else:
                regex += re.escape(part)
        return re.compile(f"^{regex}$")

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Sort key: literal paths before `{param}` before `{proxy+}`, and a named method before ANY."""
        greedy = "+}" in self.resource
        literal = len(re.sub(r"\{[^}]+\}", "", self.resource))
        return (int(greedy), -literal, int(self.method == "ANY"))


def api_routes(sam_template: Mapping[str, Any]) -> list[ApiRoute]:
    """Every `Api` event of every AWS::Serverless::Function, most specific first."""
    routes = []
    for logical_id, resource in (sam_template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                properties = event.get("Properties") or {}
                method = str(properties.get("Method", "ANY")).upper()
                routes.append(ApiRoute(logical_id, str(properties["Path"]), "ANY" if method == "ANY" else method))
    return sorted(routes, key=lambda route: route.specificity)


def api_stage(sam_template: Mapping[str, Any], resources: StackResources | None = None) -> str:
    """The StageName of the template's (first) AWS::Serverless::Api, else v1."""
    for resource in (sam_template.get("Resources") or {}).values():
        if resource.get("Type") == "AWS::Serverless::Api":
            stage = (resource.get("Properties") or {}).get("StageName", DEFAULT_STAGE)
            return str(resources.resolve(stage) if resources is not None else stage)
    return DEFAULT_STAGE


# --------------------------------------------------------------------------------------------- server
Invoke = Callable[[str, bytes], "Invocation"]


class LocalApi:
    """A loopback HTTP server that answers like API Gateway's REST API with Lambda proxy integrations."""

    def __init__(
        self,
        routes: list[ApiRoute],
        invoke: Invoke,
        *,
        api_key: str | None = None,
        stage: str = DEFAULT_STAGE,
        port: int = 0,
    ) -> None:
        self.routes = sorted(routes, key=lambda route: route.specificity)
        self.invoke = invoke
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.stage = stage
        self._port = port
        self._server: _ApiServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalApi:
        self._server = _ApiServer((LOOPBACK, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local API is not running")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            found = route.pattern.match(path)
            if found:
                return route, {name: unquote(value) for name, value in found.groupdict().items()}
        return None

    def proxy_event(
        self,
        route: ApiRoute,
        path_parameters: dict[str, str],
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> dict[str, Any]:
        """The REST API proxy event API Gateway would send for this request."""
        single_headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            single_headers[name] = value  # API Gateway keeps the last value of a repeated header
            multi_headers.setdefault(name, []).append(value)
        single_query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            single_query[name] = value
            multi_query.setdefault(name, []).append(value)
        try:
            text: str | None = body.decode() if body else None
            encoded = False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        lowered = {name.lower(): value for name, value in single_headers.items()}
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": single_headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": single_query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(time.time() * 1000),
                "path": f"/{self.stage}{path}",
                "accountId": "123456789012",
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": "local",
                "domainName": lowered.get("host", LOOPBACK),
                "apiId": "local",
                "requestId": request_id,
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lowered.get("user-agent"),
                    "apiKey": lowered.get(API_KEY_HEADER),
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "accessKey": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                },
            },
            "body": text,
            "isBase64Encoded": encoded,
        }


@dataclass
class _ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(status: int, message: str) -> _ProxyResponse:
    return _ProxyResponse(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


def proxy_response(result: Invocation) -> _ProxyResponse:
    """The HTTP response API Gateway makes of a proxy integration's result (502 when it is malformed)."""
    if result.error:
        log.warning("API function error: %s", result.payload[:500])
        return _json_response(502, "Internal server error")
    try:
        response = result.json()
        status = int(response["statusCode"])
        headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (response.get("headers") or {}).items()]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers += [(str(name), str(value)) for value in values]
        body = response.get("body") or ""
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("malformed proxy response from the API function: %s", result.payload[:500])
        return _json_response(502, "Internal server error")
    return _ProxyResponse(status, headers, raw)


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: LocalApi) -> None:
        self.api = api
        super().__init__(address, _ApiRequestHandler)


class _ApiRequestHandler(BaseHTTPRequestHandler):
    server: _ApiServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        api = self.server.api
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        method = self.command.upper()
        public = method == "GET" and target.path in PUBLIC_PATHS
        if not public and not secrets.compare_digest(self.headers.get(API_KEY_HEADER, ""), api.api_key):
            self._write(_json_response(403, "Forbidden"))
            return
        matched = api.match(method, target.path)
        if matched is None:
            self._write(_json_response(403, "Missing Authentication Token"))  # API Gateway's answer
            return
        route, path_parameters = matched
        event = api.proxy_event(
            route,
            path_parameters,
            method,
            target.path,
            target.query,
            list(self.headers.items()),
            body,
            self.client_address[0],
        )
        self._write(proxy_response(api.invoke(route.function, json.dumps(event).encode())))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def _unrouted(self) -> None:
        """A method API Gateway's REST APIs have no route for (TRACE, QUERY, ...): refused, never a 5xx."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._write(_json_response(403, "Missing Authentication Token"))

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler answers 501 for a method it has no do_<METHOD> for; API Gateway answers 403.
        if name.startswith("do_"):
            return self._unrouted
        raise AttributeError(name)

    def _write(self, response: _ProxyResponse) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("local api: " + format, *args)
