"""Test-only fault switch of the local stack (never in the deployed template): make chosen AWS calls fail.

Each fault patches one method of moto's in-process backends for a bounded number of calls, so a test can show
what the provider gets (5xx where it must retry) and that retries then lose and duplicate nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaBackend
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import DynamodbException, ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend
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
def _backend_fails(backend: type, method: str, times: int, applies: Callable[[Any], bool],
                   error: Callable[[], Exception]) -> Iterator[_Counter]:
    """`backend.method` raises `error()` for the next `times` calls whose first argument `applies`."""
    counter = _Counter(times)
    original = getattr(backend, method)

    def failing(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
        if applies(first) and counter.take():
            raise error()
        return original(self, first, *args, **kwargs)

    with mock.patch.object(backend, method, failing):
        yield counter


def start_execution_fails(times: int, code: str = "ThrottlingException") -> contextlib.AbstractContextManager[_Counter]:
    """StartExecution answers `code` for the next `times` calls."""
    return _backend_fails(StepFunctionsParserBackend, "start_execution", times, lambda _arn: True,
                          lambda: JsonRESTError(code, "Rate exceeded (callhook fault switch)"))


@contextlib.contextmanager
def lambda_fails(function_name: str, times: int, error: type[Exception] | None = None,
                 message: str = "fault switch", when: Callable[[Any], bool] | None = None) -> Iterator[_Counter]:
    """The function raises `error` (default: a ServiceException-named error) for its next `times` invocations
    (only those whose event `when(event)` accepts, if given)."""
    counter = _Counter(times)
    exc_type = error or type("ServiceException", (Exception,), {})

    def fault(event: Any) -> None:
        if (when is None or when(event)) and counter.take():
            raise exc_type(message)

    invoker.REGISTRY.faults[function_name] = fault
    try:
        yield counter
    finally:
        invoker.REGISTRY.faults.pop(function_name, None)


def dynamodb_put_fails(table_name: str, times: int) -> contextlib.AbstractContextManager[_Counter]:
    """PutItem on `table_name` is throttled (ProvisionedThroughputExceededException) for the next `times` calls."""
    return _backend_fails(
        DynamoDBBackend, "put_item", times, lambda name: name == table_name,
        lambda: DynamodbException("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                                  "Throughput exceeds the current capacity (callhook fault switch)"))


@contextlib.contextmanager
def dynamodb_put_refused(table_name: str, marker: str) -> Iterator[_Counter]:
    """PutItem on `table_name` of an item whose values contain `marker` is refused as DynamoDB refuses an item over
    400 KB (ValidationException, moto's own), for as long as the switch is on: the store works, the item does not."""
    counter = _Counter(10**9)
    original = DynamoDBBackend.put_item

    def refusing(self: Any, table: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if table == table_name and marker in repr(item_attrs) and counter.take():
            raise ItemSizeTooLarge()
        return original(self, table, item_attrs, *args, **kwargs)

    with mock.patch.object(DynamoDBBackend, "put_item", refusing):
        yield counter


def lambda_service_fails(function_name: str, times: int) -> contextlib.AbstractContextManager[_Counter]:
    """The Lambda *service* answers ServiceException (HTTP 500) to the next `times` invocations of the function:
    the state machine sees `Lambda.ServiceException`, which its Retry covers, as on AWS."""

    def service_exception() -> Exception:
        error = JsonRESTError("ServiceException", "Lambda was unable to run the function (callhook fault switch)")
        error.code = 500
        return error

    return _backend_fails(LambdaBackend, "invoke", times, lambda name: name.rsplit(":", 1)[-1] == function_name,
                          service_exception)


def s3_put_fails(bucket_name: str, times: int) -> contextlib.AbstractContextManager[_Counter]:
    """PutObject into `bucket_name` answers SlowDown (S3 throttling) for the next `times` calls."""
    return _backend_fails(S3Backend, "put_object", times, lambda name: name == bucket_name,
                          lambda: S3ClientError("SlowDown", "Please reduce your request rate (callhook fault switch)"))
