"""The local webhook API: what API Gateway's HTTP API does for the deployed stack.

moto's API Gateway cannot invoke Lambda in server mode, so this small WSGI server turns each request into the
same HTTP API payload-2.0 event the deployed ingest function receives and invokes the function as API Gateway does:
directly, as apigateway.amazonaws.com for the route (the function's resource policy must allow it, iam.py), through
the Lambda service in this process (moto's invoke, hence the function's sandbox; no second HTTP hop into moto),
answering with its statusCode, headers and body. Routes come from the functions' `HttpApi` events in template.yaml.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from callhook_local import iam

log = logging.getLogger("callhook.local.api")

API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP APIs refuse larger requests before any integration runs
TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/", "application/xml", "+json")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # /webhooks/{channel_id}
    function_name: str
    invoker: Any = None  # iam.Identity of apigateway.amazonaws.com for this route (its SourceArn), or None
    qualifier: str = "$LATEST"  # the function's AutoPublishAlias, which SAM's integration invokes

    @property
    def pattern(self) -> re.Pattern[str]:
        escaped = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))  # {proxy+}: greedy
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", escaped) + "$")


def http_api_event(request: Request, route: Route, path_params: dict[str, str]) -> dict[str, Any]:
    """API Gateway HTTP API payload format 2.0 for one request."""
    body = request.get_data()
    content_type = request.headers.get("content-type", "")
    is_text = not body or any(t in content_type for t in TEXT_TYPES)
    try:
        text = body.decode("utf-8") if is_text else None
    except UnicodeDecodeError:
        text = None
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        k = key.lower()
        headers[k] = f"{headers[k]},{value}" if k in headers else value
    # API Gateway tells the integration the scheme and port the client used (signatures are computed over them),
    # overwriting whatever the client sent in these headers.
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-port"] = str(request.environ.get("SERVER_PORT", ""))
    query: dict[str, str] = {}
    for key, value in request.args.items(multi=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "pathParameters": path_params,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": request.host, "domainPrefix": "local",
            "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.remote_addr or "127.0.0.1", "userAgent": headers.get("user-agent", "")},
            "requestId": uuid.uuid4().hex, "routeKey": f"{route.method} {route.path}", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": text is None,
        "body": text if text is not None else base64.b64encode(body).decode(),
    }
    if query:
        event["queryStringParameters"] = query
    return event


class WebhookApi:
    def __init__(self, routes: list[Route], host: str, port: int) -> None:
        self.routes = routes
        self.server: BaseWSGIServer = make_server(host, port, self, threaded=True)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, name="callhook-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = API_GATEWAY_MAX_PAYLOAD_BYTES  # never read more than API Gateway would take
        try:
            response = self.dispatch(request)
        except RequestEntityTooLarge:
            response = Response(json.dumps({"message": "Request Entity Too Large"}), status=413,
                                content_type="application/json")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        for route in self.routes:
            match = route.pattern.match(request.path)
            if match and route.method == request.method:
                return self.invoke(route, http_api_event(request, route, match.groupdict()))
        return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")

    def invoke(self, route: Route, event: dict[str, Any]) -> Response:
        qualified = route.function_name if route.qualifier == "$LATEST" else f"{route.function_name}:{route.qualifier}"
        denied = iam.check(route.invoker, "lambda", "Invoke", {"FunctionName": qualified}) if (
            route.invoker is not None) else None
        if denied is not None:  # API Gateway answers 500 when its invoke is refused
            log.error("%s: %s", route.function_name, denied)
            return Response(json.dumps({"message": "Internal Server Error"}), status=500,
                            content_type="application/json")
        response_headers: dict[str, str] = {}
        try:
            raw = lambda_backends[iam.ACCOUNT][iam.REGION].invoke(
                route.function_name, route.qualifier, json.dumps(event), {"x-amz-invocation-type": "RequestResponse"},
                response_headers)
        except JsonRESTError as exc:  # the Lambda service refused (throttled, a service error)
            log.error("%s: %s %s", route.function_name, exc.error_type, exc.message)
            status = 429 if exc.error_type == "TooManyRequestsException" else 500
            return Response(json.dumps({"message": "Too Many Requests" if status == 429 else "Internal Server Error"}),
                            status=status, content_type="application/json")
        payload = json.loads(raw or b"null")
        if response_headers.get("x-amz-function-error") or not isinstance(payload, dict) or (
                "statusCode" not in payload):
            # What API Gateway answers when the integration fails; the local console also says why.
            log.error("%s failed: %s", route.function_name, payload)
            return Response(json.dumps({"message": "Internal Server Error"}), status=500,
                            content_type="application/json")
        body = payload.get("body") or ""
        data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
        response = Response(data, status=int(payload["statusCode"]))
        for key, value in (payload.get("headers") or {}).items():
            response.headers[key] = value
        for key, values in (payload.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(key, value)
        for cookie in payload.get("cookies") or []:
            response.headers.add("Set-Cookie", cookie)
        return response
