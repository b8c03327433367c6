"""The admin CLI's composition root (docs/design.md): the adapters each command hands to the admin services,
built once per command from the target stack's settings. The one command-side module besides `target.py` that
imports repositories (tests/unit/test_cli_boundaries.py); every decision is in `callhook_admin.services`.
"""

from __future__ import annotations

from callhook.ingest_wiring import ingest_ports
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoActions, DynamoChannels, DynamoOperators, DynamoTopics
from callhook.repositories.events import EventRepository
from callhook.repositories.payloads import BucketPayloads
from callhook.repositories.spool import SpoolStore
from callhook.services.actions import run_action
from callhook.settings import CommonSettings, IngestSettings
from callhook_admin.repositories.erasure import AwsErasureObjects, DynamoErasureRecords
from callhook_admin.repositories.executions import StepFunctionsDialogExecutions
from callhook_admin.repositories.queues import QueueRepository
from callhook_admin.repositories.queues import invoke_async as invoke_async
from callhook_admin.repositories.streams import DynamoStreamBatches, invoke_sync
from callhook_admin.services.action_test import ActionTestPorts
from callhook_admin.services.deadletters import StreamRedrive
from callhook_admin.services.diagnosis import ExplainPorts
from callhook_admin.services.erasure import ErasurePorts
from callhook_admin.services.replay import DialogReplayPorts, EventReplayPorts


def dialogs(settings: CommonSettings) -> DialogRepository:
    return DialogRepository(settings.dialogs_table)


def events(settings: CommonSettings) -> EventRepository:
    return EventRepository(settings.events_table)


def payloads(settings: CommonSettings) -> BucketPayloads:
    return BucketPayloads(settings.recordings_bucket)


def spool(settings: CommonSettings) -> SpoolStore:
    return SpoolStore(settings.recordings_bucket)


def explain_ports(settings: CommonSettings) -> ExplainPorts:
    """`dialog explain`: the dialog and the configuration it used, read fresh (no channel cache)."""
    return ExplainPorts(dialogs=dialogs(settings), channels=DynamoChannels(settings.channels_table),
                        actions=DynamoActions(settings.actions_table),
                        operators=DynamoOperators(settings.operators_table), topics=DynamoTopics(settings.topics_table),
                        payloads=payloads(settings))


def erasure_ports(settings: CommonSettings, erasures_table: str) -> ErasurePorts:
    return ErasurePorts(dialogs=dialogs(settings), events=events(settings),
                        objects=AwsErasureObjects(settings.recordings_bucket),
                        records=DynamoErasureRecords(erasures_table))


def executions(state_machine_arn: str) -> StepFunctionsDialogExecutions:
    return StepFunctionsDialogExecutions(state_machine_arn)


def dialog_replay_ports(settings: IngestSettings) -> DialogReplayPorts:
    return DialogReplayPorts(dialogs=dialogs(settings), executions=executions(settings.state_machine_arn))


def event_replay_ports(settings: IngestSettings) -> EventReplayPorts:
    """`events replay`: the raw event, and the webhook path's own adapters with channels read fresh (the admin has
    just fixed one)."""
    return EventReplayPorts(events=events(settings), ingest=ingest_ports(settings, fresh=True))


def dead_letters(url: str) -> QueueRepository:
    return QueueRepository(url)


def stream_redrive() -> StreamRedrive:
    """A stream queue's redrive: the stream read again, and the synchronous invoke its mapping makes."""
    return StreamRedrive(batches=DynamoStreamBatches(), invoke=invoke_sync)


def action_test_ports(settings: CommonSettings) -> ActionTestPorts:
    """`action test`: the Enrich step's runner over the stored action, and the directory it would assign from."""
    return ActionTestPorts(actions=DynamoActions(settings.actions_table),
                           channels=DynamoChannels(settings.channels_table), run_action=run_action,
                           operators=DynamoOperators(settings.operators_table),
                           topics=DynamoTopics(settings.topics_table))
