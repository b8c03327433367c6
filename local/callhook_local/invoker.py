"""The one point where the local stack patches moto: Lambda invocations run our handlers in-process.

moto runs functions in Docker (absent here). Both a direct `lambda.invoke` and a Step Functions Task end in
`LambdaFunction._invoke_lambda(event) -> (payload_json, errored, logs)`; replacing that method runs the function's
`Handler` from its `CodeUri` in this process. A raised exception becomes the AWS Python runtime's error payload, so
the engine reports `errorType` = the exception class name and `ErrorEquals` matches exactly as on AWS.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import io
import json
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction

from callhook_local import iam


@dataclass(frozen=True)
class FunctionCode:
    module: str  # e.g. functions.ingest.app
    attribute: str  # e.g. handler
    timeout_s: int
    memory_mb: int
    identity: iam.Identity | None = None  # its role's session: the function's AWS calls are signed with it


@dataclass
class Registry:
    """Function name -> where its code is. Filled by the local stack from template.yaml."""

    functions: dict[str, FunctionCode] = field(default_factory=dict)
    # Test-only fault switch: function name -> callable(event) that may raise before the handler runs.
    faults: dict[str, Callable[[Any], None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Function name -> its DeadLetterQueue's URL (template.yaml): where a failed asynchronous invoke is kept.
    dead_letters: dict[str, str] = field(default_factory=dict)


REGISTRY = Registry()


def code_location(code_uri: str, handler: str) -> tuple[str, str]:
    """`functions/ingest/` + `app.handler` -> (`functions.ingest.app`, `handler`)."""
    package = code_uri.strip("/").replace("/", ".")
    module, _, attribute = handler.rpartition(".")
    return f"{package}.{module}", attribute


class LocalContext:
    """What Powertools reads from a Lambda context object."""

    def __init__(self, fn: LambdaFunction, code: FunctionCode) -> None:
        self.function_name = fn.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = code.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + code.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _user_function(fn: LambdaFunction) -> FunctionCode | None:
    """A function created through the Lambda API (`aws lambda create-function` with a Python zip): its zip is
    unpacked once per code hash and its `Handler` (`module.function`) imported from there. It runs in-process,
    its calls signed with its role's session and checked against that role's policies in moto's IAM."""
    zipped = getattr(fn, "code_bytes", b"") or b""
    if not zipped or not fn.handler or not str(fn.run_time or "").startswith("python"):
        return None
    digest = hashlib.sha256(zipped).hexdigest()[:16]
    directory = Path(tempfile.gettempdir()) / "callhook-user-functions" / digest
    if not directory.exists():
        staging = directory.with_name(f"{digest}.{uuid.uuid4().hex}")
        with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
            archive.extractall(staging)
        with contextlib.suppress(OSError):  # another invocation unpacked it first
            staging.rename(directory)
    module_file, _, attribute = fn.handler.rpartition(".")
    module_name = f"callhook_user_{digest}_{module_file.replace('/', '_').replace('.', '_')}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, directory / f"{module_file.replace('.', '/')}.py")
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return FunctionCode(module=module_name, attribute=attribute, timeout_s=int(fn.timeout or 3),
                        memory_mb=int(fn.memory_size or 128), identity=iam.function_role_session(fn.function_name,
                                                                                                 fn.role))


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    code = REGISTRY.functions.get(self.function_name)
    if code is None:
        try:
            code = _user_function(self)
        except Exception as exc:
            payload = {"errorMessage": f"Unable to import module {self.handler!r}: {exc}",
                       "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
            return json.dumps(payload), True, ""
    if code is None:
        payload = {"errorMessage": f"function {self.function_name} is neither part of template.yaml nor a Python "
                                   "function created with a zip", "errorType": "ResourceNotFoundException",
                   "requestId": "", "stackTrace": []}
        return json.dumps(payload), True, ""
    context = LocalContext(self, code)
    try:
        if (fault := REGISTRY.faults.get(self.function_name)) is not None:
            fault(event)
        handler = getattr(importlib.import_module(code.module), code.attribute)
        with iam.acting_as(code.identity):
            result = handler(event if event is not None else {}, context)
        return json.dumps(result), False, ""
    except Exception as exc:
        payload = {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": context.aws_request_id,
                   "stackTrace": traceback.format_tb(exc.__traceback__)}
        return json.dumps(payload), True, ""


_MOTO_INVOKE = LambdaFunction.invoke


def _invoke_keeping_dead_letters(self: LambdaFunction, body: str, request_headers: Any,
                                 response_headers: Any) -> str | bytes:
    """An asynchronous invoke (InvocationType=Event) that fails goes to the function's dead-letter queue, in the
    message Lambda sends there: the event as the body, RequestID/ErrorCode/ErrorMessage as attributes.

    Lambda first retries it twice over about three minutes; the local stack does not retry (one attempt).
    """
    result = _MOTO_INVOKE(self, body, request_headers, response_headers)
    queue = REGISTRY.dead_letters.get(self.function_name)
    if (queue and str(request_headers.get("x-amz-invocation-type", "")).lower() == "event"
            and response_headers.get("x-amz-function-error")):
        error = json.loads(result)
        event = body.decode() if isinstance(body, bytes) else str(body or "{}")
        boto3.client("sqs", endpoint_url=queue.rsplit("/", 2)[0]).send_message(  # URL: endpoint/account/name
            QueueUrl=queue, MessageBody=event, MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": error.get("requestId") or str(uuid.uuid4())},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},  # the invoke itself succeeded
                "ErrorMessage": {"DataType": "String",
                                 "StringValue": f"{error.get('errorType')}: {error.get('errorMessage')}"[:1024]}})
    return result


def install() -> None:
    """Idempotent: patch moto's Docker invocation with the in-process one, and its invoke for dead letters."""
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke_keeping_dead_letters  # type: ignore[method-assign]
