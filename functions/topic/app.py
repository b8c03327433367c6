"""SetTopic task: the topic alias returned by the action, set only when it exists exactly.

The composition root of the topic decision: adapters built once per sandbox (per settings), handed to the service.
"""

import functools
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoTopics
from callhook.services.topics import set_topic
from callhook.settings import CommonSettings, load_settings


@functools.cache
def adapters(settings: CommonSettings) -> tuple[DialogRepository, DynamoTopics]:
    return DialogRepository(settings.dialogs_table), DynamoTopics(settings.topics_table)


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    dialogs, topics = adapters(load_settings(CommonSettings))
    return set_topic(state, dialogs, topics).output()
