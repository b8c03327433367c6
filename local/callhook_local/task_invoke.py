"""The state machine's Lambda Task invocations, made in this process as Step Functions makes them on AWS: straight to
the Lambda service, not through an HTTP request to our own server.

moto's engine invokes a Task's function with a boto3 client pointed at the moto server in this very process
(`lambda_eval_utils._invoke_lambda_function`): each of a webhook's five Task invokes cost a botocore request, a TCP
connection, a werkzeug thread and request parse, moto's dispatch and a response parse, all under this process's
interpreter lock (the engine's invokes were ~15 % of the stack's CPU on the workflow bench, and werkzeug's request
handling a share of the 55 % it took). The webhook front (api.py) already calls Lambda directly, as API Gateway does.

`invoke` here is what the HTTP round trip did, step by step, with the same results:
1. the IAM check of the state machine's role (iam.py signs the engine's invokes with it, `acting_as`): the same
   `iam.check` the WSGI step in front of moto makes on the request, refused with the same ClientError
   (AccessDeniedException, HTTP 403, AWS's message; an unmappable operation is UnmappedOperation, HTTP 500);
2. the Lambda backend's `invoke` (moto's, with our sandbox and asynchronous patches: invoker.py), with the headers
   the SDK would send (invocation type, log type, client context) and the identity set as the caller being served;
3. what moto's `LambdaResponse.invoke` adds (the 6 MB response limit, the log result only with `LogType=Tail`, the
   status code) and what botocore's parser makes of it (`StatusCode`, `FunctionError`, `LogResult`, `Payload`); a
   refusal of the service (throttled, unknown function) is the ClientError botocore raises for moto's error answer.
tests/integration/test_task_invoke.py holds each outcome to the one moto's own HTTP path gives.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError

from callhook_local import iam

log = logging.getLogger("callhook.local.task_invoke")

_MAX_RESPONSE_BYTES = 6000000  # moto's LambdaResponse.invoke: sys.getsizeof(payload) over this is refused
_TOO_LARGE = (b'{"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).", '
              b'"errorType": "Function.ResponseSizeTooLarge"}')
_lock = threading.Lock()
_installed = False


def client_error(code: str, message: str, status: int) -> ClientError:
    """The ClientError botocore raises for a Lambda error answer with this code, message and status."""
    request_id = str(uuid.uuid4())
    response: Any = {"Error": {"Code": code, "Message": message},
                     "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": {},
                                          "RetryAttempts": 0}}
    return ClientError(response, "Invoke")


def invoke(parameters: dict[str, Any], region: str, state_credentials: Any = None) -> dict[str, Any]:
    """`lambda_eval_utils._invoke_lambda_function`'s contract: the Invoke response as botocore returns it, with its
    `Payload` read and parsed as JSON (or left a string when it is not JSON); raises ClientError."""
    function_name = str(parameters["FunctionName"])
    identity = iam.current_identity()
    if identity is not None:
        try:
            message = iam.check(identity, "lambda", "Invoke", {"FunctionName": function_name})
        except iam.UnmappedOperation as exc:
            log.error("%s", exc)
            raise client_error("UnmappedOperation", f"callhook local IAM: {exc}", 500) from None
        if message is not None:
            log.info("AccessDenied: %s", message)
            raise client_error("AccessDeniedException", message, 403)
    kind = str(parameters.get("InvocationType") or "RequestResponse")
    headers = {"x-amz-invocation-type": kind}
    if parameters.get("LogType"):
        headers["x-amz-log-type"] = str(parameters["LogType"])
    if parameters.get("ClientContext"):
        headers["x-amz-client-context"] = str(parameters["ClientContext"])
    body = parameters.get("Payload") or b""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    response_headers: dict[str, Any] = {}
    try:
        with iam.serving(identity):
            payload = lambda_backends[iam.ACCOUNT][region].invoke(
                function_name, parameters.get("Qualifier"), body, headers, response_headers)
    except JsonRESTError as exc:
        raise client_error(exc.error_type, exc.message, exc.code) from None
    if payload is None:  # moto's LambdaResponse answers 404 with "{}"
        raise client_error("404", "Not Found", 404)
    if kind != "Event" and sys.getsizeof(payload) > _MAX_RESPONSE_BYTES:
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = _TOO_LARGE
    status = {"Event": 202, "DryRun": 204}.get(kind, 200)
    response: dict[str, Any] = {"StatusCode": status}
    if response_headers.get("x-amz-function-error"):
        response["FunctionError"] = response_headers["x-amz-function-error"]
    if kind not in ("Event", "DryRun") and headers.get("x-amz-log-type") == "Tail" and (
            "x-amz-log-result" in response_headers):
        response["LogResult"] = response_headers["x-amz-log-result"]
    if "x-amz-executed-version" in response_headers:
        response["ExecutedVersion"] = response_headers["x-amz-executed-version"]
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    response["Payload"] = _from_payload(io.BytesIO(raw))
    return response


def _from_payload(body: io.BytesIO) -> Any:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    return lambda_eval_utils._from_payload(body)


def install() -> None:
    """Idempotent: the engine's Lambda Task invokes go through `invoke`. moto's own function stays reachable as
    `_invoke_lambda_function.__wrapped__` (the tests compare the two)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        over_http: Callable[..., Any] = lambda_eval_utils._invoke_lambda_function

        def _invoke_lambda_function(parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
            return invoke(parameters, region, state_credentials)

        _invoke_lambda_function.__wrapped__ = over_http  # type: ignore[attr-defined]
        lambda_eval_utils._invoke_lambda_function = _invoke_lambda_function
        _installed = True
