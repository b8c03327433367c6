"""The single Logger, Tracer and Metrics of every function (named by POWERTOOLS_* in template Globals).

Importable in any order (STYLE §13): Powertools' metrics provider reads its namespace and service from the
environment once, when it is built; ours reads them when metrics are flushed, if nobody set them. So a module that
imports this one may be imported before the environment is set (the local stack's demo seed, a test's imports), and
every function still publishes under `POWERTOOLS_METRICS_NAMESPACE`.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.shared import constants


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


logger = Logger()
tracer = Tracer()
metrics = Metrics(provider=EnvironmentMetricsProvider(
    metric_set=Metrics._metrics, dimension_set=Metrics._dimensions, metadata_set=Metrics._metadata,
    default_dimensions=Metrics._default_dimensions))
