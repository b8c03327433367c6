"""Channels table stream: when a channel item is written, its held webhooks become dialogs if it is valid now
(services/kept.py). A still-invalid item leaves them held; the reconciler retries on its schedule.

The composition root: adapters built once per sandbox (per settings), handed to the service."""

import functools
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.aws import from_item
from callhook.ingest_wiring import ingest_ports
from callhook.models.stream import StreamEvent
from callhook.observability import logger, metrics, tracer
from callhook.repositories.directory import DynamoChannels
from callhook.repositories.events import EventRepository
from callhook.services.ingest import KeptRequestsIngest
from callhook.services.kept import KeptPorts, release_held
from callhook.settings import IngestSettings, load_settings


@functools.cache
def adapters(settings: IngestSettings) -> KeptPorts:
    ingest = ingest_ports(settings, fresh=True)  # its item was just fixed: read it uncached
    return KeptPorts(events=EventRepository(settings.events_table), spool=ingest.spool,
                     channels=DynamoChannels(settings.channels_table), ingest=KeptRequestsIngest(ingest, settings))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=StreamEvent)
def handler(event: StreamEvent, context: LambdaContext) -> dict[str, Any]:
    io = adapters(load_settings(IngestSettings))
    channel_ids = sorted({str(from_item(record.dynamodb.keys)["channel_id"]) for record in event.records
                          if record.event_name in ("INSERT", "MODIFY")})  # FilterCriteria on AWS; moto ignores it
    released = {channel_id: release_held(channel_id, io).released for channel_id in channel_ids}
    metrics.add_metric(name="HeldReleased", unit=MetricUnit.Count, value=sum(map(len, released.values())))
    return {"released": released}
