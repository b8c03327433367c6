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
import heapq
import io
import itertools
import json
import logging
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from callhook_local import iam
from callhook_local.sandbox import Outcome, Sandboxes, Spec, Throttled, lambda_environment

REGION = "us-east-1"
log = logging.getLogger("callhook.local.invoker")


@dataclass(frozen=True)
class FunctionCode:
    module: str  # e.g. functions.ingest.app
    attribute: str  # e.g. handler
    timeout_s: int
    memory_mb: int
    identity: iam.Identity | None = None  # its role's session: the sandbox gets its temporary credentials
    task_root: str | None = None  # a user function's unpacked zip
    module_label: str = ""  # the module as Lambda names it (app), for Runtime.ImportModuleError
    snapstart: bool = False  # SnapStart: {ApplyOn: PublishedVersions} (applies to its published versions only)


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
    version = str(getattr(fn, "version", "$LATEST") or "$LATEST")
    snapstart = code.snapstart and version != "$LATEST"
    env = lambda_environment(
        function_name=fn.function_name, function_arn=fn.function_arn, handler=str(fn.handler),
        runtime=str(fn.run_time or "python3.13"), memory_mb=int(fn.memory_size or code.memory_mb), region=REGION,
        endpoint=REGISTRY.endpoint, variables=dict(fn.environment_vars or {}),
        access_key=identity.access_key if identity else "local",
        secret_key=identity.secret_key if identity else "local", token=identity.token if identity else "",
        task_root=code.task_root or str(Path.cwd()), version=version, snapstart=snapstart)
    return Spec(function_name=fn.function_name, module=code.module, attribute=code.attribute,
                module_label=code.module_label or code.module.rsplit(".", 1)[-1], env=tuple(sorted(env.items())),
                timeout_s=float(fn.timeout or code.timeout_s), memory_mb=int(fn.memory_size or code.memory_mb),
                task_root=code.task_root, access_key=identity.access_key if identity else "", snapstart=snapstart)


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


def _invoke_asynchronously_or_in_sandbox(self: LambdaFunction, body: str, request_headers: Any,
                                         response_headers: Any) -> str | bytes:
    """Lambda's Invoke, after the caller's IAM check (iam.py's step in front of moto): `InvocationType=Event`
    answers 202 with an empty payload at once and queues the event (`AsyncInvokes`); `DryRun` answers 204 without
    running; `RequestResponse` runs the function now. A payload that is not JSON is refused at once, as Lambda
    refuses it (InvalidRequestContentException)."""
    kind = str((request_headers or {}).get("x-amz-invocation-type", "RequestResponse")).lower()
    if request_headers and kind in ("event", "dryrun"):
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        try:
            event = json.loads(text) if text else {}
        except ValueError as exc:
            raise _invalid_content(exc) from exc
        if kind == "dryrun":
            return ""
        if ASYNC is None:
            raise RuntimeError("the local stack's asynchronous invokes are not started")
        ASYNC.submit(self, text or "{}", event)
        return ""
    try:
        return _MOTO_INVOKE(self, body, request_headers, response_headers)
    except json.JSONDecodeError as exc:  # moto's parse of the payload (the only JSON it reads before the sandbox)
        raise _invalid_content(exc) from exc
    except JsonRESTError as exc:
        if request_headers or exc.error_type != "TooManyRequestsException":
            raise
        # moto's own call (a stream's records, delivered inside a table write): the batch fails, the write stands
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error_payload("TooManyRequestsException", "Rate Exceeded.")


def _invalid_content(exc: Exception) -> JsonRESTError:
    error = JsonRESTError("InvalidRequestContentException", f"Could not parse request body into json: {exc}")
    error.code = 400
    return error


@dataclass
class AsyncEvent:
    """One asynchronous invocation request, as Lambda's internal queue holds it."""

    fn: LambdaFunction
    payload: str  # the request body, as the dead-letter message and a destination record carry it
    event: Any
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: float = field(default_factory=time.time)
    attempts: int = 0  # invocations that ran (throttled ones are not attempts)


@dataclass(frozen=True)
class EventInvokeConfig:
    """What `put-function-event-invoke-config` (or the template's `EventInvokeConfig`) says; Lambda's defaults."""

    maximum_retry_attempts: int = 2
    maximum_event_age_s: float = 21600.0
    on_failure: str | None = None  # a destination ARN
    on_success: str | None = None

    @classmethod
    def of(cls, fn: LambdaFunction) -> EventInvokeConfig:
        configs = getattr(fn, "event_invoke_config", None) or []
        if not configs:
            return cls()
        config = configs[-1].config  # moto appends on every put; the last one is in force
        destinations = config.get("DestinationConfig") or {}
        return cls(maximum_retry_attempts=int(config.get("MaximumRetryAttempts", 2)),
                   maximum_event_age_s=float(config.get("MaximumEventAgeInSeconds", 21600)),
                   on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
                   on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None)


class AsyncInvokes:
    """Lambda's asynchronous invocation, on the local stack.

    An `InvocationType=Event` invoke (after the caller's IAM check) puts the event in this queue and answers 202.
    Each event runs when due, in a thread of its own, in a sandbox of its function (`run`, normally
    `invoke_function`). A function error
    or timeout is retried `MaximumRetryAttempts` times (Lambda's default 2) after `retry_delays_s` — on Lambda about
    one then two minutes; locally short (0.5 s, 1 s: `LocalStack.async_retry_delays_s`) so that a failure reaches its
    dead-letter queue within seconds. A throttled event waits `throttle_delay_s` and is tried again, not counted as
    an attempt. An event older than `MaximumEventAgeInSeconds` is not run again. A failed event then goes to the
    function's `DeadLetterQueue` (template.yaml) and its on-failure destination (`put-function-event-invoke-config`),
    sent with the function's role as Lambda sends them; a success goes to the on-success destination.
    """

    def __init__(self, run: Callable[[LambdaFunction, Any], Outcome], *,
                 retry_delays_s: tuple[float, ...] = (0.5, 1.0), throttle_delay_s: float = 0.5) -> None:
        self._run = run
        self.retry_delays_s = retry_delays_s or (0.0,)
        self.throttle_delay_s = throttle_delay_s
        self._due: list[tuple[float, int, AsyncEvent]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._running = 0
        self._accepting = True
        self._stopping = False
        self._name = f"callhook-async-{id(self):x}"
        self._active: set[threading.Thread] = set()  # one thread per event running (Lambda runs them side by side)
        self._scheduler = threading.Thread(target=self._schedule, name=f"{self._name}-scheduler", daemon=True)
        self._scheduler.start()

    @property
    def threads(self) -> list[threading.Thread]:
        with self._cond:
            return [self._scheduler, *self._active]

    def submit(self, fn: LambdaFunction, payload: str, event: Any) -> AsyncEvent:
        queued = AsyncEvent(fn=fn, payload=payload, event=event)
        with self._cond:
            if not self._accepting:
                error = JsonRESTError("ServiceException", "The local stack is stopping")
                error.code = 500
                raise error
            self._later(queued, 0.0)
        return queued

    def _later(self, queued: AsyncEvent, delay_s: float) -> None:
        with self._cond:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), queued))
            self._cond.notify()

    def wait_idle(self, timeout: float = 30) -> bool:
        """True once nothing is queued or running (tests; the stack's stop)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, drain_s: float = 5.0) -> None:
        """Take no new event, drop the queued ones (logged), let the running ones finish for up to `drain_s`, then
        end the scheduler (the stack then stops the sandboxes, which cuts an invocation still running short)."""
        with self._cond:
            self._accepting = False
            dropped, self._due = self._due, []
            self._cond.notify_all()
        if dropped:
            log.warning("%d queued asynchronous invocations dropped as the local stack stops: %s", len(dropped),
                        ", ".join(sorted({q.fn.function_name for _, _, q in dropped})))
        self.wait_idle(drain_s)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _schedule(self) -> None:
        """Start each event when it is due, in a thread of its own: a slow function (a recording copy waiting for
        its host) never holds up another one's events, as on Lambda; the sandbox cap throttles instead."""
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if self._due and self._due[0][0] <= now:
                        _, _, queued = heapq.heappop(self._due)
                        self._running += 1
                        break
                    self._cond.wait(self._due[0][0] - now if self._due else None)
                thread = threading.Thread(target=self._run_one, args=(queued,), daemon=True,
                                          name=f"{self._name}-{queued.fn.function_name}")
                self._active.add(thread)
            thread.start()

    def _run_one(self, queued: AsyncEvent) -> None:
        try:
            self._attempt(queued)
        except Exception as exc:
            if self._accepting:
                log.exception("asynchronous invocation of %s failed in the local stack", queued.fn.function_name)
            else:  # the stack is stopping under it (its endpoint gone): no traceback
                log.warning("asynchronous invocation of %s cut short as the local stack stops: %s",
                            queued.fn.function_name, exc)
        finally:
            with self._cond:
                self._running -= 1
                self._active.discard(threading.current_thread())
                self._cond.notify_all()

    def _attempt(self, queued: AsyncEvent) -> None:
        config = EventInvokeConfig.of(queued.fn)
        name = queued.fn.function_name
        if time.time() - queued.received > config.maximum_event_age_s:
            log.warning("asynchronous event %s of %s dropped: older than MaximumEventAgeInSeconds (%ss)",
                        queued.request_id, name, config.maximum_event_age_s)
            self._failed(queued, config, "EventAgeExceeded", None)
            return
        try:
            outcome = self._run(queued.fn, queued.event)
        except Throttled:
            if self._accepting:
                self._later(queued, self.throttle_delay_s)
            return
        queued.attempts += 1
        if not outcome.errored:
            if config.on_success:
                self._deliver(queued, config.on_success, "Success", outcome)
            return
        if not self._accepting:
            log.warning("asynchronous event %s of %s failed as the local stack stops: not retried",
                        queued.request_id, name)
            return
        if queued.attempts <= config.maximum_retry_attempts:
            delay = self.retry_delays_s[min(queued.attempts - 1, len(self.retry_delays_s) - 1)]
            log.warning("asynchronous event %s of %s failed (attempt %d): retried in %.1fs", queued.request_id,
                        name, queued.attempts, delay)
            self._later(queued, delay)
            return
        self._failed(queued, config, "RetriesExhausted", outcome)

    def _failed(self, queued: AsyncEvent, config: EventInvokeConfig, condition: str, outcome: Outcome | None) -> None:
        error = json.loads(outcome.payload) if outcome is not None else {
            "errorType": condition, "errorMessage": "the event was older than MaximumEventAgeInSeconds"}
        log.error("asynchronous event %s of %s failed after %d attempts (%s): %s: %s", queued.request_id,
                  queued.fn.function_name, queued.attempts, condition, error.get("errorType"),
                  error.get("errorMessage"))
        queue = REGISTRY.dead_letters.get(queued.fn.function_name)
        if queue:
            # Lambda sends with the function's role: not checked locally (see _deliver)
            boto3.client("sqs", endpoint_url=queue.rsplit("/", 2)[0]).send_message(  # URL: endpoint/acct/name
                QueueUrl=queue, MessageBody=queued.payload, MessageAttributes={
                    "RequestID": {"DataType": "String", "StringValue": queued.request_id},
                    "ErrorCode": {"DataType": "Number", "StringValue": "200"},  # the invoke itself succeeded
                    "ErrorMessage": {"DataType": "String", "StringValue": f"{error.get('errorType')}: "
                                                                          f"{error.get('errorMessage')}"[:1024]}})
        if config.on_failure:
            self._deliver(queued, config.on_failure, condition, outcome)

    def _deliver(self, queued: AsyncEvent, destination: str, condition: str, outcome: Outcome | None) -> None:
        """Lambda's invocation record to an SQS queue, SNS topic, function or event bus.

        Lambda sends it with the function's execution role; locally it is sent as the service (unchecked): the
        local IAM step (iam.py) maps no SQS queue ARN from a QueueUrl, so checking the role would refuse it."""
        record: dict[str, Any] = {
            "version": "1.0", "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {"requestId": queued.request_id, "functionArn": f"{queued.fn.function_arn}:$LATEST",
                               "condition": condition, "approximateInvokeCount": queued.attempts},
            "requestPayload": queued.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"}}
        if outcome is not None:
            if outcome.errored:
                record["responseContext"]["functionError"] = "Unhandled"
            with contextlib.suppress(ValueError):
                record["responsePayload"] = json.loads(outcome.payload)
        body = json.dumps(record)
        service, resource = destination.split(":")[2], destination.split(":")[-1]
        endpoint = REGISTRY.endpoint or None
        try:
            if service == "sqs":  # the queue's URL, as Lambda builds it from the ARN
                account = destination.split(":")[4]
                boto3.client("sqs", endpoint_url=endpoint, region_name=REGION).send_message(
                    QueueUrl=f"{REGISTRY.endpoint}/{account}/{resource}", MessageBody=body)
            elif service == "sns":
                boto3.client("sns", endpoint_url=endpoint, region_name=REGION).publish(
                    TopicArn=destination, Message=body)
            elif service == "lambda":
                boto3.client("lambda", endpoint_url=endpoint, region_name=REGION).invoke(
                    FunctionName=destination, InvocationType="Event", Payload=body.encode())
            elif service == "events":
                kind = "Success" if condition == "Success" else "Failure"
                boto3.client("events", endpoint_url=endpoint, region_name=REGION).put_events(Entries=[{
                    "Source": "lambda", "DetailType": f"Lambda Function Invocation Result - {kind}",
                    "Detail": body, "EventBusName": destination, "Resources": [queued.fn.function_arn]}])
            else:
                log.error("destination %s of %s is not one Lambda supports", destination,
                          queued.fn.function_name)
        except Exception:
            log.exception("the %s record of %s could not be sent to %s", condition, queued.fn.function_name,
                          destination)


ASYNC: AsyncInvokes | None = None  # the local stack's queue (LocalStack.start)


def install() -> None:
    """Idempotent: patch moto's Docker invocation with the sandboxes, and its invoke for the asynchronous kind."""
    LambdaFunction._invoke_lambda = _invoke_in_sandbox  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke_asynchronously_or_in_sandbox  # type: ignore[method-assign]
