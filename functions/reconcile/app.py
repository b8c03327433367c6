"""Scheduled: the reconciler. Starts the workflow of stored dialogs whose execution never began, asks again for
lost recording copies, and turns kept requests into dialogs: spooled ones (the dialog store failed) and held ones
whose channel item is valid again (the channels table's stream does that at once; this is the safety net).
See services/reconcile.py and services/kept.py.

The composition root: adapters built once per sandbox (per settings), handed to the services."""

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.ingest_wiring import ingest_ports
from callhook.observability import logger, metrics, tracer
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoChannels
from callhook.repositories.events import EventRepository
from callhook.repositories.executions import StepFunctionsExecutions
from callhook.repositories.recording_requests import LambdaRecordingRequests
from callhook.services.ingest import KeptRequestsIngest
from callhook.services.kept import KeptPorts, drain_spool, release_all_held
from callhook.services.reconcile import reconcile_pending, reconcile_recordings
from callhook.settings import IngestSettings, ReconcileSettings, RecordingRequestSettings, load_settings


@dataclass(frozen=True)
class Adapters:
    dialogs: DialogRepository
    executions: StepFunctionsExecutions
    recordings: LambdaRecordingRequests
    kept: KeptPorts


@functools.cache
def adapters(settings: ReconcileSettings, ingest: IngestSettings, requests: RecordingRequestSettings) -> Adapters:
    kept = ingest_ports(ingest, fresh=True)  # a kept request's channel is read uncached
    return Adapters(
        dialogs=DialogRepository(settings.dialogs_table),
        executions=StepFunctionsExecutions(settings.state_machine_arn),
        recordings=LambdaRecordingRequests(requests.dialogs_table, requests.keep_recording_function),
        kept=KeptPorts(events=EventRepository(ingest.events_table), spool=kept.spool,
                       channels=DynamoChannels(ingest.channels_table), ingest=KeptRequestsIngest(kept, ingest)))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(ReconcileSettings)
    io = adapters(settings, load_settings(IngestSettings), load_settings(RecordingRequestSettings))
    # Kept requests first: a spooled call becomes a dialog now, and its workflow starts in the same pass.
    spool = drain_spool(io.kept)
    held = release_all_held(io.kept)
    # A scheduled event carries no options; tests and ops may pass shorter grace periods.
    older_than = float(event.get("older_than_s", settings.reconcile_after_seconds))
    recordings_older_than = float(event.get("recordings_older_than_s", settings.recording_after_seconds))
    report = reconcile_pending(io.dialogs, io.executions, older_than_s=older_than)
    report.recordings_requested = reconcile_recordings(io.dialogs, io.recordings, older_than_s=recordings_older_than)
    metrics.add_metric(name="ReconcileStarted", unit=MetricUnit.Count, value=len(report.started))
    metrics.add_metric(name="ReconcileRecordingsRequested", unit=MetricUnit.Count,
                       value=len(report.recordings_requested))
    metrics.add_metric(name="SpooledProcessed", unit=MetricUnit.Count, value=len(spool.spool_processed))
    metrics.add_metric(name="SpoolWaiting", unit=MetricUnit.Count, value=spool.spool_waiting)
    metrics.add_metric(name="HeldReleased", unit=MetricUnit.Count, value=len(held.released))
    return {**report.model_dump(mode="json"), "spool": spool.model_dump(mode="json"),
            "held": held.model_dump(mode="json")}
