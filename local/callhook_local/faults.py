"""Test-only fault switch of the local stack (never in the deployed template): make chosen AWS calls fail.

Each fault patches one method of moto's in-process backends for a bounded number of calls, so a test can show
what the provider gets (5xx where it must retry) and that retries then lose and duplicate nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from callhook_local import invoker


class _Counter:
    def __init__(self, times: int) -> None:
        self.left, self.hits, self._lock = times, 0, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            self.hits += 1
            return True


@contextlib.contextmanager
def start_execution_fails(times: int, code: str = "ThrottlingException") -> Iterator[_Counter]:
    """StartExecution answers `code` for the next `times` calls."""
    counter = _Counter(times)
    original = StepFunctionsParserBackend.start_execution

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        if counter.take():
            raise JsonRESTError(code, "Rate exceeded (callhook fault switch)")
        return original(self, *args, **kwargs)

    StepFunctionsParserBackend.start_execution = failing  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        StepFunctionsParserBackend.start_execution = original  # type: ignore[method-assign]


@contextlib.contextmanager
def lambda_fails(function_name: str, times: int, error: type[Exception] | None = None,
                 message: str = "fault switch") -> Iterator[_Counter]:
    """The function raises `error` (default: a ServiceException-named error) for its next `times` invocations."""
    counter = _Counter(times)
    exc_type = error or type("ServiceException", (Exception,), {})

    def fault(_event: Any) -> None:
        if counter.take():
            raise exc_type(message)

    invoker.REGISTRY.faults[function_name] = fault
    try:
        yield counter
    finally:
        invoker.REGISTRY.faults.pop(function_name, None)


@contextlib.contextmanager
def dynamodb_put_fails(table_name: str, times: int) -> Iterator[_Counter]:
    """PutItem on `table_name` is throttled (ProvisionedThroughputExceededException) for the next `times` calls."""
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    counter = _Counter(times)
    original = DynamoDBBackend.put_item

    def failing(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == table_name and counter.take():
            raise DynamodbException("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                                    "Throughput exceeds the current capacity (callhook fault switch)")
        return original(self, name, *args, **kwargs)

    DynamoDBBackend.put_item = failing  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        DynamoDBBackend.put_item = original  # type: ignore[method-assign]


@contextlib.contextmanager
def lambda_service_fails(function_name: str, times: int) -> Iterator[_Counter]:
    """The Lambda *service* answers ServiceException (HTTP 500) to the next `times` invocations of the function:
    the state machine sees `Lambda.ServiceException`, which its Retry covers, as on AWS."""
    from moto.awslambda.models import LambdaBackend

    counter = _Counter(times)
    original = LambdaBackend.invoke

    def failing(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name.rsplit(":", 1)[-1] == function_name and counter.take():
            error = JsonRESTError("ServiceException", "Lambda was unable to run the function (callhook fault switch)")
            error.code = 500
            raise error
        return original(self, name, *args, **kwargs)

    LambdaBackend.invoke = failing  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        LambdaBackend.invoke = original  # type: ignore[method-assign]
