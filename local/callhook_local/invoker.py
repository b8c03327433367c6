"""The one point where the local stack patches moto: a Lambda invocation runs the function in its sandbox.

moto runs functions in Docker (absent here). Both a direct `lambda.invoke` and a Step Functions Task end in
`LambdaFunction._invoke_lambda(event) -> (payload_json, errored, logs)`; replacing that method runs the function's
`Handler` (from its `CodeUri`, or a user function's zip) in a worker process of that function (sandbox.py), with its
own environment and its role's credentials. A raised exception becomes the AWS Python runtime's error payload, so
the engine reports `errorType` = the exception class name and `ErrorEquals` matches exactly as on AWS.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import threading
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from callhook_local import iam
from callhook_local.sandbox import Outcome, Sandboxes, Spec, Throttled, lambda_environment

REGION = "us-east-1"


@dataclass(frozen=True)
class FunctionCode:
    module: str  # e.g. functions.ingest.app
    attribute: str  # e.g. handler
    timeout_s: int
    memory_mb: int
    identity: iam.Identity | None = None  # its role's session: the sandbox gets its temporary credentials
    task_root: str | None = None  # a user function's unpacked zip
    module_label: str = ""  # the module as Lambda names it (app), for Runtime.ImportModuleError


@dataclass
class Registry:
    """Function name -> where its code is. Filled by the local stack from template.yaml."""

    functions: dict[str, FunctionCode] = field(default_factory=dict)
    # Test-only fault switch: function name -> callable(event) that may raise before the function is invoked
    # (checked here, in the stack's process, before dispatching to a sandbox).
    faults: dict[str, Callable[[Any], None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Function name -> its DeadLetterQueue's URL (template.yaml): where a failed asynchronous invoke is kept.
    dead_letters: dict[str, str] = field(default_factory=dict)
    # The local stack's sandboxes and the endpoint the functions reach AWS at (set by LocalStack.start).
    sandboxes: Sandboxes | None = None
    endpoint: str = ""


REGISTRY = Registry()


def code_location(code_uri: str, handler: str) -> tuple[str, str]:
    """`functions/ingest/` + `app.handler` -> (`functions.ingest.app`, `handler`)."""
    package = code_uri.strip("/").replace("/", ".")
    module, _, attribute = handler.rpartition(".")
    return f"{package}.{module}", attribute


def _user_function(fn: LambdaFunction) -> FunctionCode | None:
    """A function created through the Lambda API (`aws lambda create-function` with a Python zip): its zip is
    unpacked once per code hash and its `Handler` (`module.function`) imported from there, in its own sandbox
    with its role's credentials (the role's policies as they stand in moto's IAM now)."""
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
    return FunctionCode(module=module_file.replace("/", "."), attribute=attribute, timeout_s=int(fn.timeout or 3),
                        memory_mb=int(fn.memory_size or 128), task_root=str(directory), module_label=module_file,
                        identity=iam.function_role_session(fn.function_name, fn.role))


def spec_of(fn: LambdaFunction, code: FunctionCode) -> Spec:
    """What the function's sandbox starts with: its configuration as Lambda (moto) holds it now."""
    identity = code.identity
    env = lambda_environment(
        function_name=fn.function_name, function_arn=fn.function_arn, handler=str(fn.handler),
        runtime=str(fn.run_time or "python3.11"), memory_mb=int(fn.memory_size or code.memory_mb), region=REGION,
        endpoint=REGISTRY.endpoint, variables=dict(fn.environment_vars or {}),
        access_key=identity.access_key if identity else "local",
        secret_key=identity.secret_key if identity else "local", token=identity.token if identity else "",
        task_root=code.task_root or str(Path.cwd()))
    return Spec(function_name=fn.function_name, module=code.module, attribute=code.attribute,
                module_label=code.module_label or code.module.rsplit(".", 1)[-1], env=tuple(sorted(env.items())),
                timeout_s=float(fn.timeout or code.timeout_s), memory_mb=int(fn.memory_size or code.memory_mb),
                task_root=code.task_root, access_key=identity.access_key if identity else "")


def _error_payload(error_type: str, message: str, request_id: str = "",
                   exc: BaseException | None = None) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id,
                       "stackTrace": traceback.format_tb(exc.__traceback__) if exc else []})


def invoke_function(fn: LambdaFunction, event: Any) -> Outcome:
    """Run one invocation of `fn` in a sandbox of it (the fault switch first). Raises Throttled."""
    if event == "{}":  # moto's invoke hands an empty payload on as the string "{}"
        event = {}
    code = REGISTRY.functions.get(fn.function_name)
    if code is None:
        try:
            code = _user_function(fn)
        except Exception as exc:
            return Outcome(_error_payload("Runtime.ImportModuleError",
                                          f"Unable to import module {fn.handler!r}: {exc}"), True, "")
    if code is None:
        return Outcome(_error_payload("ResourceNotFoundException", f"function {fn.function_name} is neither part of "
                                      "template.yaml nor a Python function created with a zip"), True, "")
    if (fault := REGISTRY.faults.get(fn.function_name)) is not None:
        try:
            fault(event)
        except Exception as exc:
            return Outcome(_error_payload(type(exc).__name__, str(exc), str(uuid.uuid4()), exc), True, "")
    if REGISTRY.sandboxes is None:
        raise RuntimeError("the local stack's sandboxes are not started")
    spec = spec_of(fn, code)
    caller = iam.current_caller()
    nested = caller is not None and bool(spec.access_key) and caller.access_key == spec.access_key
    return REGISTRY.sandboxes.invoke(spec, fn.function_arn, event, nested=nested)


def _too_many_requests() -> JsonRESTError:
    error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    return error


def _invoke_in_sandbox(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    try:
        outcome = invoke_function(self, event)
    except Throttled as exc:
        raise _too_many_requests() from exc
    return outcome.payload, outcome.errored, outcome.logs


_MOTO_INVOKE = LambdaFunction.invoke


def _invoke_keeping_dead_letters(self: LambdaFunction, body: str, request_headers: Any,
                                 response_headers: Any) -> str | bytes:
    """An asynchronous invoke (InvocationType=Event) that fails goes to the function's dead-letter queue, in the
    message Lambda sends there: the event as the body, RequestID/ErrorCode/ErrorMessage as attributes.

    Lambda first retries it twice over about three minutes; the local stack does not retry (one attempt).
    """
    try:
        result = _MOTO_INVOKE(self, body, request_headers, response_headers)
    except JsonRESTError as exc:
        if request_headers or exc.error_type != "TooManyRequestsException":
            raise
        # moto's own call (a stream's records, delivered inside a table write): the batch fails, the write stands
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error_payload("TooManyRequestsException", "Rate Exceeded.")
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
    """Idempotent: patch moto's Docker invocation with the sandboxes, and its invoke for dead letters."""
    LambdaFunction._invoke_lambda = _invoke_in_sandbox  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke_keeping_dead_letters  # type: ignore[method-assign]
