"""The single Logger, Tracer and Metrics of every function (named by POWERTOOLS_* in template Globals).

Importable in any order (docs/design.md): Powertools' metrics provider reads its namespace and service from the
environment once, when it is built; ours reads them when metrics are flushed, if nobody set them. So a module that
imports this one may be imported before the environment is set (the local stack's demo seed, a test's imports), and
every function still publishes under `POWERTOOLS_METRICS_NAMESPACE`.

The Tracer's X-Ray SDK loads on first use (`XRayOnFirstUse`): Powertools' default provider imports
`aws_xray_sdk.core` (its recorder, patchers and sampling client: the largest part of a cold start) when the Tracer
is built, even where tracing is off. Where it is on (on Lambda with `Tracing: Active`), the Tracer patches the
libraries when it is built, as Powertools does, so the SDK loads then; where it is off (POWERTOOLS_TRACE_DISABLED,
outside Lambda, `sam local`), it never loads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment


class EnvironmentMetricsProvider(AmazonCloudWatchEMFProvider):
    """CloudWatch EMF whose namespace and service, unless set explicitly, are the environment's at flush time."""

    _namespace: str | None = None
    _service: str | None = None

    @property  # type: ignore[override]
    def namespace(self) -> str | None:
        return self._namespace or os.getenv(constants.METRICS_NAMESPACE_ENV)

    @namespace.setter
    def namespace(self, value: str | None) -> None:
        self._namespace = value

    @property  # type: ignore[override]
    def service(self) -> str | None:
        return self._service or os.getenv(constants.SERVICE_NAME_ENV)

    @service.setter
    def service(self, value: str | None) -> None:
        self._service = value

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        """Powertools' flush, without its UserWarning for an invocation that counted nothing: most steps emit a
        metric only for some outcomes, so an empty set is normal and a warning about it is noise on every call."""
        if not self.metric_set and not raise_on_empty_metrics:
            return
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


class _NoSegment(BaseSegment):
    """What a traced function gets while tracing is off (the X-Ray SDK's own DummySubsegment, without the SDK)."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class XRayOnFirstUse(BaseProvider):
    """The X-Ray SDK's recorder (Powertools' default provider), imported the first time tracing needs it.

    `tracing` is the Tracer's decision (set right after it is built): while it is False, the subsegments that
    Powertools still opens around a traced handler are no-ops and the SDK is never imported.
    """

    tracing = False

    def __init__(self) -> None:
        self._recorder: Any = None

    def recorder(self) -> Any:
        if self._recorder is None:
            from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

            # What Powertools does for its X-Ray provider: send each subsegment as it closes (its issue #283).
            xray_recorder.configure(streaming_threshold=0)
            self._recorder = xray_recorder
        return self._recorder

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        if not self.tracing:
            yield _NoSegment()
            return
        with self.recorder().in_subsegment(name=name, **kwargs) as subsegment:
            yield subsegment

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        if not self.tracing:
            yield _NoSegment()
            return
        async with self.recorder().in_subsegment_async(name=name, **kwargs) as subsegment:
            yield subsegment

    def put_annotation(self, key: str, value: Any) -> None:
        self.recorder().put_annotation(key=key, value=value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.recorder().put_metadata(key=key, value=value, namespace=namespace)

    def patch(self, modules: Sequence[str]) -> None:
        from aws_xray_sdk.core import patch

        self.recorder()
        patch(modules)

    def patch_all(self) -> None:
        from aws_xray_sdk.core import patch_all

        self.recorder()
        patch_all()


logger = Logger()
xray = XRayOnFirstUse()
# What the Tracer patches when it is built: the AWS SDK, which every function calls. X-Ray's patch_all would also
# import every other library it knows how to trace (requests alone is ~8% of ingest's traced cold import, and ingest
# never uses it); callhook.outbound, the one module that calls out with requests, patches it as it loads.
PATCHED_AT_INIT = ("botocore",)
tracer = Tracer(provider=xray, patch_modules=PATCHED_AT_INIT)
xray.tracing = not tracer.disabled


def trace_calls_of(module: str) -> None:
    """Trace the calls a library makes (an X-Ray patch), where tracing is on: for a module that imports it."""
    if xray.tracing:
        xray.patch([module])
metrics = Metrics(provider=EnvironmentMetricsProvider(
    metric_set=Metrics._metrics, dimension_set=Metrics._dimensions, metadata_set=Metrics._metadata,
    default_dimensions=Metrics._default_dimensions))
