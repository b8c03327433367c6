"""The single Logger, Tracer and Metrics of every function (named by POWERTOOLS_* in template Globals)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
