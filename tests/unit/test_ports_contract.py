"""The fakes keep the adapters' promises: the same cases on `tests/support/fakes.py` and on the DynamoDB adapters
(moto in-process), from items written as the console writes them (raw put_item, no derived index keys yet).

If a fake drifts from its adapter, the decisions' unit tests would prove rules on a world that does not exist;
this file is what stops that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from callhook.aws import from_item, to_item
from callhook.ports import InstanceSettings, Operators, Topics
from callhook.repositories.directory import DynamoInstanceSettings, DynamoOperators, DynamoTopics
from tests.support.fakes import FakeInstanceSettings, FakeOperators, FakeTopics

CONSOLE_OPERATORS: list[dict[str, Any]] = [
    {"user_id": 17, "email": "  Ann@Example.com ", "active": True, "ext": 101},
    {"user_id": 18, "email": "bob@example.com", "active": False, "ext": "102"},
    {"user_id": 5, "email": "ann@example.com", "active": "yes please"},  # a console typo
]


@pytest.fixture(params=["fake", "dynamo"])
def world(request: pytest.FixtureRequest) -> Callable[..., tuple[Operators, Topics, InstanceSettings]]:
    def build(operators: list[dict[str, Any]], aliases: list[str],
              default_setting: Any = None) -> tuple[Operators, Topics, InstanceSettings]:
        if request.param == "fake":
            from callhook.models.directory import parse_operator_id
            value = parse_operator_id(default_setting) if default_setting is not None else 1
            problem = None if value is not None else "unreadable"
            return FakeOperators(*operators), FakeTopics(*aliases), FakeInstanceSettings(value or 1, problem)
        env = request.getfixturevalue("aws")
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for item in operators:
            ddb.put_item(TableName=env["OPERATORS_TABLE"], Item=to_item(item))
        for alias in aliases:
            ddb.put_item(TableName=env["TOPICS_TABLE"], Item=to_item({"alias": alias, "name": alias.title()}))
        if default_setting is not None:
            ddb.put_item(TableName=env["SETTINGS_TABLE"], Item=to_item({
                "key": "telephony_autotranscribe_default_operator_id", "value": default_setting}))
        return (DynamoOperators(env["OPERATORS_TABLE"]), DynamoTopics(env["TOPICS_TABLE"]),
                DynamoInstanceSettings(env["SETTINGS_TABLE"]))
    return build


def test_by_email_ignores_case_and_spaces_and_sets_invalid_items_apart(world: Callable[..., Any]) -> None:
    operators, _, _ = world(CONSOLE_OPERATORS, [])
    found = operators.by_email("ann@EXAMPLE.com")
    assert [o.user_id for o in found.operators] == [17]
    assert [i.item_id for i in found.invalid] == ["5"]
    assert operators.by_email("nobody@example.com").operators == []


def test_by_ext_matches_numbers_and_strings_alike_and_keeps_inactive(world: Callable[..., Any]) -> None:
    operators, _, _ = world(CONSOLE_OPERATORS, [])
    assert [o.user_id for o in operators.by_ext("101").operators] == [17]
    found = operators.by_ext("102").operators
    assert [(o.user_id, o.active) for o in found] == [(18, False)]
    assert operators.by_ext("999").operators == []


def test_get_returns_valid_operators_only(world: Callable[..., Any]) -> None:
    operators, _, _ = world(CONSOLE_OPERATORS, [])
    found = operators.get(17)
    assert found is not None and found.email == "Ann@Example.com"
    assert operators.get(5) is None and operators.get(99) is None


def test_topics_exist_by_exact_alias_and_list_every_alias(world: Callable[..., Any]) -> None:
    _, topics, _ = world([], ["sales", "support"])
    assert topics.exists("sales") and not topics.exists("Sales") and not topics.exists("sales ")
    assert sorted(topics.aliases()) == ["sales", "support"]


@pytest.mark.parametrize(("stored", "expected"), [(None, 1), (7, 7), ("7", 7), ("seven", 1)],
                         ids=["unset", "number", "numeric-string", "unreadable"])
def test_the_default_operator_setting(world: Callable[..., Any], stored: Any, expected: int) -> None:
    _, _, instance = world([], [], stored)
    operator_id, problem = instance.default_operator_id()
    assert operator_id == expected
    assert (problem is not None) == (stored == "seven")


# ------------------------------------------------------------------------------------------- the transcription side

def _transcription_world(kind: str, request: pytest.FixtureRequest) -> tuple[Any, Any, Any, Any]:
    """(store, dialogs, Transcribe, transcripts) over stored dialogs d-1..d-5: fakes, or the adapters on moto."""
    from callhook.models.call import Telephony
    from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus
    from tests.support.fakes import FakeDialogs, FakeTranscribe, FakeTranscriptionStore, FakeTranscripts

    stored = [Dialog(dialog_id=f"d-{n}", channel_id="ch", call_id=f"c{n}", created_at="2026-12-01T00:00:00Z",
                     telephony=Telephony(call_id=f"c{n}"), enrichment=Enrichment(status=EnrichmentStatus.DISABLED))
              for n in (1, 2, 3, 4, 5)]
    if kind == "fake":
        dialogs = FakeDialogs(*stored)
        return FakeTranscriptionStore(dialogs), dialogs, FakeTranscribe(), FakeTranscripts()
    from callhook.repositories.dialogs import DialogRepository
    from callhook.repositories.transcribe import AmazonTranscribe, S3Transcripts
    from callhook.repositories.transcriptions import TranscriptionRepository
    env = request.getfixturevalue("aws")
    for dialog in stored:
        DialogRepository(env["DIALOGS_TABLE"]).put_new(dialog)
    return (TranscriptionRepository(env["DIALOGS_TABLE"]), DialogRepository(env["DIALOGS_TABLE"]), AmazonTranscribe(),
            S3Transcripts(env["RECORDINGS_BUCKET"]))


@pytest.fixture(params=["fake", "adapter"])
def transcription_world(request: pytest.FixtureRequest) -> tuple[Any, Any, Any, Any]:
    return _transcription_world(request.param, request)


def _one_actor_claims_and_one_answers(transcription_world: Any, dialog_id: str) -> None:
    from callhook.models.dialog import Reason, Transcription, TranscriptionStatus

    store, dialogs, _, _ = transcription_world
    waiting = Transcription(status=TranscriptionStatus.STARTED,
                            reason=Reason(code="waiting_for_recording", message="copying"))
    started = Transcription(status=TranscriptionStatus.STARTED, job_name="stack-d-1")
    done = Transcription(status=TranscriptionStatus.COMPLETED, job_name="stack-d-1", text="hi")
    # A parked token, then a claim only after the wait: the claim holds the parked token
    assert store.park(dialog_id, waiting, "tok-1") is True
    assert store.claim(dialog_id, started, only_after=("no_recording",)) == (False, None)
    assert store.claim(dialog_id, started, only_after=("waiting_for_recording",)) == (True, "tok-1")
    # Nobody claims twice, a decision no longer lands, a newer token replaces the parked one
    assert store.claim(dialog_id, started, task_token="tok-2")[0] is False
    assert store.record_decision(dialog_id, Transcription(status=TranscriptionStatus.SKIPPED)) is False
    assert store.attach_token(dialog_id, "tok-2") is True
    # Exactly one finish answers, with the token and the item before
    applied, token, before = store.finish(dialog_id, done)
    assert (applied, token) == (True, "tok-2") and before is not None and before["dialog_id"] == dialog_id
    assert store.finish(dialog_id, done)[:2] == (False, None)
    assert store.attach_token(dialog_id, "tok-3") is False
    assert dialogs.get(dialog_id).transcription.text == "hi"


def _a_transcript_after_a_timeout_lands_only_when_told(transcription_world: Any, dialog_id: str) -> None:
    from callhook.models.dialog import Reason, Transcription, TranscriptionStatus

    store, dialogs, _, _ = transcription_world
    store.claim(dialog_id, Transcription(status=TranscriptionStatus.STARTED, job_name="stack-d-1"), task_token="tok-1")
    timeout = Transcription(status=TranscriptionStatus.FAILED, job_name="stack-d-1",
                            reason=Reason(code="timeout", message="stopped waiting"))
    done = Transcription(status=TranscriptionStatus.COMPLETED, job_name="stack-d-1", text="late")
    assert store.finish(dialog_id, timeout)[:2] == (True, "tok-1")
    assert store.finish(dialog_id, done)[0] is False
    assert store.finish(dialog_id, done, over_timeout=True)[:2] == (True, None)
    assert dialogs.get(dialog_id).transcription.text == "late"


def _a_wait_without_a_job_resolves_once(transcription_world: Any, dialog_id: str) -> None:
    from callhook.models.dialog import Reason, Transcription, TranscriptionStatus

    store, dialogs, _, _ = transcription_world
    waiting = Transcription(status=TranscriptionStatus.STARTED,
                            reason=Reason(code="waiting_for_recording", message="copying"))
    skipped = Transcription(status=TranscriptionStatus.SKIPPED,
                            reason=Reason(code="recording_not_kept", message="expired"))
    assert store.record_decision(dialog_id, Transcription(status=TranscriptionStatus.SKIPPED)) is True
    assert store.resolve_waiting(dialog_id, skipped, "waiting_for_recording") == (False, None)
    store.park(dialog_id, waiting, "tok-1")
    assert store.resolve_waiting(dialog_id, skipped, "waiting_for_recording") == (True, "tok-1")
    assert store.resolve_waiting(dialog_id, skipped, "waiting_for_recording") == (False, None)
    assert dialogs.get(dialog_id).transcription.status == TranscriptionStatus.SKIPPED


def _a_decision_that_ends_the_workflow_is_one_write_or_none(transcription_world: Any, dialog_id: str) -> None:
    from callhook.models.dialog import Transcription, TranscriptionStatus, Workflow, WorkflowStatus

    store, dialogs, _, _ = transcription_world
    ended = Workflow(status=WorkflowStatus.COMPLETED, finished_at="2026-12-01T20:00:00Z")
    assert store.record_decision(dialog_id, Transcription(status=TranscriptionStatus.NOT_REQUESTED),
                                 workflow=ended) is True
    stored = dialogs.get(dialog_id)
    assert stored.transcription.status == TranscriptionStatus.NOT_REQUESTED
    assert stored.workflow.status == WorkflowStatus.COMPLETED
    # once a job is claimed, a decision lands nowhere: neither the transcription nor the workflow's end
    store.claim(dialog_id, Transcription(status=TranscriptionStatus.STARTED, job_name="stack-x"))
    assert store.record_decision(dialog_id, Transcription(status=TranscriptionStatus.SKIPPED),
                                 workflow=Workflow(status=WorkflowStatus.FAILED)) is False
    after = dialogs.get(dialog_id)
    assert after.transcription.status == TranscriptionStatus.STARTED
    assert after.workflow.status == WorkflowStatus.COMPLETED


def _a_failed_copy_never_overwrites_a_kept_recording(transcription_world: Any, dialog_id: str) -> None:
    from callhook.models.dialog import Reason, Recording, RecordingStatus

    store, dialogs, _, _ = transcription_world
    kept = Recording(status=RecordingStatus.KEPT, s3_key="recordings/ch/d-1.wav")
    assert store.set_recording(dialog_id, kept) is True
    assert store.set_recording(dialog_id, Recording(status=RecordingStatus.FAILED,
                                                reason=Reason(code="recording_expired", message="404"))) is False
    assert dialogs.get(dialog_id).recording.status == RecordingStatus.KEPT
    assert store.set_recording("missing", kept) is False


def _transcribe_starts_a_name_once_and_knows_no_unknown_job(transcription_world: Any, dialog_id: str) -> None:
    _, _, jobs, _ = transcription_world
    request = {"TranscriptionJobName": "stack-d-1", "Media": {"MediaFileUri": "s3://unit-recordings/r.wav"},
               "OutputBucketName": "unit-recordings", "OutputKey": "transcripts/ch/d-1.json",
               "LanguageCode": "en-US"}
    assert jobs.start(request).outcome == "started"
    assert jobs.start(request).outcome == "exists"
    assert jobs.get("stack-d-1").status in ("QUEUED", "IN_PROGRESS")
    unknown = jobs.get("stack-nobody")
    assert unknown.status == "FAILED" and unknown.failure_reason == "the job stack-nobody is unknown to Transcribe"


def _a_missing_transcript_is_transcript_missing(transcription_world: Any, dialog_id: str) -> None:
    from callhook.errors import TranscriptMissingError

    _, _, _, transcripts = transcription_world
    with pytest.raises(TranscriptMissingError, match="S3 answered NoSuchKey"):
        transcripts.read("transcripts/ch/none.json")


def test_the_transcription_store_keeps_its_conditions(transcription_world: Any) -> None:
    # One claimer, one answer; a transcript after a timeout only when told; a wait without a job ends once; a
    # failed copy never overwrites a kept recording; a decision and the workflow's end are one write (one stored
    # dialog each, on one world: moto is set up once)
    _one_actor_claims_and_one_answers(transcription_world, "d-1")
    _a_transcript_after_a_timeout_lands_only_when_told(transcription_world, "d-2")
    _a_wait_without_a_job_resolves_once(transcription_world, "d-3")
    _a_failed_copy_never_overwrites_a_kept_recording(transcription_world, "d-4")
    _a_decision_that_ends_the_workflow_is_one_write_or_none(transcription_world, "d-5")


def test_transcribe_and_the_transcripts_bucket(transcription_world: Any) -> None:
    _transcribe_starts_a_name_once_and_knows_no_unknown_job(transcription_world, "d-1")
    _a_missing_transcript_is_transcript_missing(transcription_world, "d-1")


@pytest.mark.parametrize(("code", "expected"), [("TaskTimedOut", False), ("InvalidToken", False),
                                                ("TaskDoesNotExist", False), (None, True)])
def test_a_dead_task_token_is_false_on_the_fake_and_the_adapter(code: str | None, expected: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # moto answers any token: the adapter's reading of Step Functions' codes is checked on a stubbed client
    from botocore.stub import Stubber

    from callhook.repositories import transcribe as adapter_module
    from tests.support.fakes import FakeTaskTokens

    sfn = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sfn) as stub:
        if code is None:
            stub.add_response("send_task_success", {}, {"taskToken": "tok", "output": "{}"})
        else:
            stub.add_client_error("send_task_success", service_error_code=code)
        monkeypatch.setattr(adapter_module, "client", lambda service: sfn)
        assert adapter_module.StepFunctionsTaskTokens().succeed("tok", "{}") is expected
    fake = FakeTaskTokens(*([] if code else ["tok"]))
    assert fake.succeed("tok", "{}") is expected


def test_throttled_step_functions_is_a_retryable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    from callhook.errors import DependencyUnavailableError
    from callhook.repositories import transcribe as adapter_module

    sfn = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_success", service_error_code="ThrottlingException")
        monkeypatch.setattr(adapter_module, "client", lambda service: sfn)
        with pytest.raises(DependencyUnavailableError, match="SendTaskSuccess: ThrottlingException"):
            adapter_module.StepFunctionsTaskTokens().succeed("tok", "{}")


# ------------------------------------------------------------------------------- workflow edges, kept requests

CONSOLE_CHANNELS: list[dict[str, Any]] = [
    {"channel_id": "main", "webhook_token": "main-channel-token-0001", "active": True},
    {"channel_id": "broken", "webhook_token": "broken-channel-token-01", "advanced_config": {"field_mapping": "x"}},
]


def _kept_world(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ports of the reconciler and of kept requests, as fakes or as the adapters on moto, with two console
    channel items (one invalid) and four dialogs stored long ago, d-1 and d-3 still workflow-pending."""
    from callhook.models.call import Telephony
    from callhook.models.channel import Channel
    from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus
    from tests.support.fakes import (
        FakeChannelIds,
        FakeDialogs,
        FakeExecutions,
        FakeIngest,
        FakePendingDialogs,
        FakeRawEvents,
        FakeSpool,
    )

    stored = [Dialog(dialog_id=f"d-{n}", channel_id="main", call_id=f"c{n}", created_at=f"2026-01-0{n}T00:00:00Z",
                     telephony=Telephony(call_id=f"c{n}"), enrichment=Enrichment(status=EnrichmentStatus.DISABLED))
              for n in (3, 1, 2)]
    if kind == "fake":
        dialogs = FakeDialogs(*stored)
        for item in dialogs.items.values():
            item["workflow_pending"] = "pending-0"
        dialogs.items["d-2"].pop("workflow_pending")
        return {"events": FakeRawEvents(), "spool": FakeSpool(), "channels": FakeChannelIds("main", "broken"),
                "ingest": FakeIngest(Channel.model_validate(CONSOLE_CHANNELS[0]), ("broken", "field_mapping")),
                "executions": FakeExecutions(), "pending": FakePendingDialogs(dialogs)}
    from callhook.ingest_wiring import ingest_ports
    from callhook.repositories.dialogs import DialogRepository
    from callhook.repositories.directory import DynamoChannels
    from callhook.repositories.events import EventRepository
    from callhook.repositories.executions import StepFunctionsExecutions
    from callhook.repositories.spool import SpoolStore
    from callhook.services.ingest import KeptRequestsIngest
    from callhook.settings import IngestSettings, load_settings
    env = request.getfixturevalue("aws")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    for item in CONSOLE_CHANNELS:
        ddb.put_item(TableName=env["CHANNELS_TABLE"], Item=to_item(item))
    repository = DialogRepository(env["DIALOGS_TABLE"])
    for dialog in stored:
        repository.put_new(dialog)
    repository.clear_workflow_pending("d-2")
    settings = load_settings(IngestSettings)
    return {"events": EventRepository(env["EVENTS_TABLE"]), "spool": SpoolStore(env["RECORDINGS_BUCKET"]),
            "channels": DynamoChannels(env["CHANNELS_TABLE"]), "ingest": KeptRequestsIngest(
                ingest_ports(settings, fresh=True), settings),
            "executions": StepFunctionsExecutions(env["STATE_MACHINE_ARN"]), "pending": repository}


@pytest.fixture(params=["fake", "adapter"])
def kept_world(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _kept_world(request.param, request)


def _stored(body: bytes) -> Any:
    import base64

    from callhook.models.event import StoredRequest
    return StoredRequest(method="POST", url="https://hooks.example/webhooks/main",
                         headers={"content-type": "application/json"}, body_b64=base64.b64encode(body).decode())


def _raw_events_list_held_and_early_updates_oldest_first(kept_world: dict[str, Any]) -> None:
    from callhook.models.event import RawEvent, RawEventKind

    events = kept_world["events"]
    for n in (3, 1, 2):
        events.put(RawEvent(event_id=f"e-{n}", channel_id="main", received_at=f"2026-12-01T10:00:0{n}Z",
                            kind=RawEventKind.HELD, held_channel="main", request=_stored(b"{}")))
    for n in (5, 4):
        events.put(RawEvent(event_id=f"e-{n}", channel_id="main", received_at=f"2026-12-01T10:00:0{n}Z",
                            kind=RawEventKind.PENDING_UPDATE, dialog_id="d-9", update_fields={"duration": n},
                            request=_stored(b"{}")))
    assert [e.event_id for e in events.held("main")] == ["e-1", "e-2", "e-3"]
    assert [e.event_id for e in events.held("main", limit=1)] == ["e-1"]
    events.mark("e-1", RawEventKind.RELEASED, remove=("held_channel",), dialog_id="d-1")
    assert [e.event_id for e in events.held("main")] == ["e-2", "e-3"]
    assert [e.event_id for e in events.pending_updates("d-9")] == ["e-4", "e-5"]
    events.mark("e-4", RawEventKind.APPLIED_UPDATE)
    assert [e.event_id for e in events.pending_updates("d-9")] == ["e-5"]


def _the_spool_lists_oldest_first_and_forgets_what_was_deleted(kept_world: dict[str, Any]) -> None:
    from callhook.models.event import SpooledRequest
    from callhook.repositories.spool import SpoolStore

    spool = kept_world["spool"]
    records = [SpooledRequest(event_id=f"s-{n}", channel_id="main", received_at=f"2026-12-01T10:00:0{n}Z",
                              reason="dialog_store_unavailable", request=_stored(b"{}")) for n in (2, 1)]
    assert [spool.put(record) for record in records] == [SpoolStore.key_for(record) for record in records]
    keys = spool.keys()
    assert keys == [SpoolStore.key_for(records[1]), SpoolStore.key_for(records[0])]
    found = spool.get(keys[0])
    assert found is not None and found.event_id == "s-1"
    spool.delete(keys[0])
    assert spool.get(keys[0]) is None and spool.keys() == keys[1:]


def _executions_start_once_per_name(kept_world: dict[str, Any]) -> None:
    from callhook.models.workflow import WorkflowState

    executions = kept_world["executions"]
    state = WorkflowState(dialog_id="d-1", channel_id="main", call_id="c1")
    assert executions.status("d-1") is None
    arn = executions.start("d-1", state)
    assert arn.endswith(":d-1") and executions.start("d-1", state) == arn
    assert executions.status("d-1") in ("RUNNING", "SUCCEEDED")


def _pending_dialogs_are_listed_oldest_first_until_cleared(kept_world: dict[str, Any]) -> None:
    pending = kept_world["pending"]
    assert [d.dialog_id for d in pending.list_workflow_pending(older_than="2026-06-01T00:00:00Z")] == ["d-1", "d-3"]
    assert pending.list_workflow_pending(older_than="2026-01-02T00:00:00Z")[0].dialog_id == "d-1"
    pending.clear_workflow_pending("d-1")
    assert [d.dialog_id for d in pending.list_workflow_pending(older_than="2026-06-01T00:00:00Z")] == ["d-3"]


def _ingest_gives_kept_requests_their_dialog_ids_once(kept_world: dict[str, Any]) -> None:
    from callhook.errors import ChannelMisconfiguredError, ChannelNotFoundError, MissingCallIdError
    from callhook.models.dialog import make_dialog_id
    from callhook.services.raw_events import webhook_request_from

    ingest = kept_world["ingest"]
    assert sorted(kept_world["channels"].ids()) == ["broken", "main"]
    with pytest.raises(ChannelMisconfiguredError):
        ingest.channel("broken")
    with pytest.raises(ChannelNotFoundError):
        ingest.channel("gone")
    channel = ingest.channel("main")
    call = webhook_request_from("main", _stored(b'{"call_id": "c-77"}'))
    first = ingest.accept(channel, call, "2026-12-01T10:00:00.000000Z")
    again = ingest.accept(channel, call, "2026-12-01T10:00:05.000000Z")
    assert (first.status, first.dialog_id) == ("accepted", make_dialog_id("main", "c-77"))
    assert (again.status, again.dialog_id) == ("duplicate", first.dialog_id)
    with pytest.raises(MissingCallIdError):
        ingest.accept(channel, webhook_request_from("main", _stored(b'{"other": 1}')), "2026-12-01T10:00:09Z")
    assert ingest.expiry(channel, "2026-12-01T10:00:00Z") is None  # retention 0: kept forever, on both


def test_the_reconciler_and_kept_request_ports(kept_world: dict[str, Any]) -> None:
    # One world each (moto is set up once): the raw events' indexes, the spool, the executions, the pending
    # dialogs and ingest as kept requests meet it
    _raw_events_list_held_and_early_updates_oldest_first(kept_world)
    _the_spool_lists_oldest_first_and_forgets_what_was_deleted(kept_world)
    _executions_start_once_per_name(kept_world)
    _pending_dialogs_are_listed_oldest_first_until_cleared(kept_world)
    _ingest_gives_kept_requests_their_dialog_ids_once(kept_world)


# ------------------------------------------------------------------------------------------- keeping recordings


@pytest.fixture
def fresh_parameter_providers() -> Iterator[None]:
    """Powertools keeps one SSM provider per process, its boto3 client bound to the endpoint of its first use: one
    made inside moto's mock would serve the local stack's functions later in the same run. Made and dropped here."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    saved = dict(DEFAULT_PROVIDERS)
    DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()
    yield
    DEFAULT_PROVIDERS.clear()
    DEFAULT_PROVIDERS.update(saved)
    parameters.clear_caches()


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_the_recordings_bucket_and_the_secrets(kind: str, request: pytest.FixtureRequest) -> None:
    import io

    from callhook.errors import SecretUnreadableError
    from tests.support.fakes import FakeRecordingObjects, FakeSecrets

    if kind == "fake":
        objects: Any = FakeRecordingObjects()
        secrets: Any = FakeSecrets(**{"ssm:/callhook/pbx/token": "pbx-secret"})

        def stored(key: str) -> tuple[bytes, str]:
            return objects.objects[key]
    else:
        from callhook.repositories.recordings import S3RecordingObjects
        from callhook.secrets_resolver import ResolvedSecrets
        env = request.getfixturevalue("aws")
        request.getfixturevalue("fresh_parameter_providers")
        boto3.client("ssm", region_name="us-east-1").put_parameter(Name="/callhook/pbx/token", Value="pbx-secret",
                                                                   Type="SecureString")
        objects, secrets = S3RecordingObjects(env["RECORDINGS_BUCKET"]), ResolvedSecrets()

        def stored(key: str) -> tuple[bytes, str]:
            found = boto3.client("s3", region_name="us-east-1").get_object(Bucket=env["RECORDINGS_BUCKET"], Key=key)
            return found["Body"].read(), found["ContentType"]
    objects.store(io.BytesIO(b"RIFF...."), "recordings/ch/d-1.wav", "audio/wav")
    assert stored("recordings/ch/d-1.wav") == (b"RIFF....", "audio/wav")
    assert secrets.read("ssm:/callhook/pbx/token") == "pbx-secret"
    with pytest.raises(SecretUnreadableError, match=r"ssm:/callhook/none could not be read \(ParameterNotFound\)"):
        secrets.read("ssm:/callhook/none")


WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_a_recording_download_keeps_the_outbound_rules(kind: str) -> None:
    # The adapter is callhook.outbound's GET through real `requests`, against a local HTTP server (the fake PBX on
    # 127.0.0.1: a private address, so allowed explicitly, as a channel's allow_private_network does)
    import io

    from callhook.errors import ActionResponseTooLargeError, BlockedDestinationError
    from callhook_local.fake_pbx import start_fake_pbx
    from tests.support.fakes import FakeDownloads

    with start_fake_pbx(api_key=None) as pbx:
        pbx.add_recording("r.wav", WAV, "Audio/WAV; rate=8000")
        kept, missing = f"{pbx.url}/recordings/r.wav", f"{pbx.url}/recordings/none.wav"
        if kind == "fake":
            downloads: Any = FakeDownloads(**{kept: (200, "Audio/WAV; rate=8000", WAV),
                                              missing: (404, "application/json", b'{"error": "recording not found"}')})
        else:
            from callhook.repositories.recordings import OutboundDownloads
            downloads = OutboundDownloads()

        def fetch(url: str, *, allow: bool = True, max_bytes: int = 1 << 20) -> tuple[Any, bytes]:
            sink = io.BytesIO()
            found = downloads.fetch(url, sink, allow_private_network=allow, timeout_s=5, max_bytes=max_bytes,
                                    headers={"X-Api-Key": "pbx-secret"}, auth=("user", "pass"))
            return found, sink.getvalue()

        found, body = fetch(kept)
        assert (found.status, found.content_type, body) == (200, "audio/wav", WAV)
        assert fetch(missing)[0].status == 404  # any status is returned; the service decides what it means
        with pytest.raises(ActionResponseTooLargeError):
            fetch(kept, max_bytes=len(WAV) - 1)
        with pytest.raises(BlockedDestinationError, match=r"loopback address 127\.0\.0\.1 refused"):
            fetch(kept, allow=False)
        if kind == "adapter":  # what the server received: the credentials, and nothing for the refused fetch
            assert [(r.headers.get("X-Api-Key"), r.headers.get("Authorization", "")[:6]) for r in pbx.requests] == [
                ("pbx-secret", "Basic ")] * 3


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_leftovers_of_a_removed_dialog_go_once(kind: str, request: pytest.FixtureRequest) -> None:
    from tests.support.fakes import FakeLeftovers

    keys = ["recordings/ch/d-1.wav", "transcripts/ch/d-1.json"]
    if kind == "fake":
        leftovers: Any = FakeLeftovers(set(keys), {"stack-d-1"})
    else:
        from callhook.repositories.erasure import AwsLeftovers
        env = request.getfixturevalue("aws")
        s3 = boto3.client("s3", region_name="us-east-1")
        for key in keys:
            s3.put_object(Bucket=env["RECORDINGS_BUCKET"], Key=key, Body=b"x")
        boto3.client("transcribe", region_name="us-east-1").start_transcription_job(
            TranscriptionJobName="stack-d-1", Media={"MediaFileUri": f"s3://{env['RECORDINGS_BUCKET']}/{keys[0]}"},
            OutputBucketName=env["RECORDINGS_BUCKET"], LanguageCode="en-US")
        leftovers = AwsLeftovers(env["RECORDINGS_BUCKET"])
    assert leftovers.delete_objects([*keys, "recordings/ch/never.wav"]) == []
    assert leftovers.delete_objects(keys) == []
    assert leftovers.delete_transcription_job("stack-d-1") is True
    assert leftovers.delete_transcription_job("stack-d-1") is False


# ------------------------------------------------------------------------------------------- the webhook path


def _ingest_world(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Ingest's own ports (channels, new dialogs, the raw event log, the spool) as fakes or as the adapters on moto,
    with the console's channel items; `event` reads a raw event back (EventLog itself has no read)."""
    if kind == "fake":
        from tests.support.fakes import FakeChannels, FakeDialogs, FakePayloads, FakeRawEvents, FakeSpool

        events = FakeRawEvents()
        return {"channels": FakeChannels(*CONSOLE_CHANNELS), "dialogs": FakeDialogs(), "events": events,
                "event": events.get, "spool": FakeSpool(), "payloads": FakePayloads()}
    from callhook.repositories.events import EventRepository
    from callhook.repositories.ingest import CachedChannels, IngestDialogs, IngestEvents
    from callhook.repositories.payloads import BucketPayloads
    from callhook.repositories.spool import SpoolStore
    env = request.getfixturevalue("aws")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    for item in CONSOLE_CHANNELS:
        ddb.put_item(TableName=env["CHANNELS_TABLE"], Item=to_item(item))
    return {"channels": CachedChannels(env["CHANNELS_TABLE"], 30), "dialogs": IngestDialogs(env["DIALOGS_TABLE"]),
            "events": IngestEvents(env["EVENTS_TABLE"]), "event": EventRepository(env["EVENTS_TABLE"]).get,
            "spool": SpoolStore(env["RECORDINGS_BUCKET"]), "payloads": BucketPayloads(env["RECORDINGS_BUCKET"])}


@pytest.fixture(params=["fake", "adapter"])
def ingest_world(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _ingest_world(request.param, request)


def test_ingest_reads_a_channel_parsed_or_its_item_as_written(ingest_world: dict[str, Any]) -> None:
    from callhook.errors import ChannelConfigError

    channels = ingest_world["channels"]
    found = channels.get("main")
    assert found is not None and found.channel_id == "main" and found.webhook_token == "main-channel-token-0001"
    with pytest.raises(ChannelConfigError, match=r"channel 'broken' is invalid: .*field_mapping"):
        channels.get("broken")
    assert channels.get("gone") is None
    assert channels.item("broken") == CONSOLE_CHANNELS[1]
    assert channels.item("gone") is None


def test_a_new_dialog_is_stored_once_and_its_empty_fields_filled_never_overwritten(
        ingest_world: dict[str, Any]) -> None:
    from callhook.errors import DialogExistsError
    from callhook.models.call import Telephony
    from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus

    dialogs = ingest_world["dialogs"]
    first = Dialog(dialog_id="d-1", channel_id="main", call_id="c1", created_at="2026-12-01T10:00:00Z",
                   telephony=Telephony(call_id="c1", caller="+14155550100"),
                   enrichment=Enrichment(status=EnrichmentStatus.DISABLED))
    dialogs.put_new(first)
    # The same call again: refused, with the dialog as stored first (a re-delivery costs no extra read)
    again = first.model_copy(update={"created_at": "2026-12-01T10:00:09Z"})
    with pytest.raises(DialogExistsError) as refused:
        dialogs.put_new(again)
    assert refused.value.existing.created_at == "2026-12-01T10:00:00Z"
    # Empty fields are filled, a set one is kept; an unknown dialog is None
    filled = dialogs.fill_telephony("d-1", {"caller": "+14155550199", "callee": "+14155550111", "duration": 7})
    assert filled is not None
    assert (filled["caller"], filled["callee"], filled["duration"]) == ("+14155550100", "+14155550111", 7)
    assert dialogs.fill_telephony("d-9", {"caller": "+14155550199"}) is None


def test_the_event_log_stores_and_marks_raw_events(ingest_world: dict[str, Any]) -> None:
    from callhook.models.event import RawEvent, RawEventKind

    events = ingest_world["events"]
    events.put(RawEvent(event_id="e-1", channel_id="main", received_at="2026-12-01T10:00:00Z",
                        kind=RawEventKind.PENDING_UPDATE, dialog_id="d-1", update_fields={"duration": 3},
                        request=_stored(b"{}")))
    events.mark("e-1", RawEventKind.APPLIED_UPDATE, applied_at="2026-12-01T10:00:01Z")
    stored = ingest_world["event"]("e-1")
    assert stored.kind == RawEventKind.APPLIED_UPDATE and stored.update_fields == {"duration": 3}


def test_the_spool_takes_a_request_under_its_arrival_key(ingest_world: dict[str, Any]) -> None:
    from callhook.models.event import SpooledRequest
    from callhook.repositories.spool import SpoolStore

    record = SpooledRequest(event_id="s-1", channel_id="main", received_at="2026-12-01T10:00:00Z",
                            reason="dialog_store_unavailable", request=_stored(b'{"call_id": "c1"}'))
    key = ingest_world["spool"].put(record)
    assert key == SpoolStore.key_for(record)
    found = ingest_world["spool"].get(key)
    assert found is not None and found.request.body == b'{"call_id": "c1"}'


def test_a_large_payload_is_stored_read_back_byte_for_byte_and_deleted(ingest_world: dict[str, Any]) -> None:
    payloads = ingest_world["payloads"]
    data = ("€" * 1000).encode()
    payloads.put("payloads/main/d-1.raw-abc.json", data)
    assert payloads.read("payloads/main/d-1.raw-abc.json") == data
    payloads.delete("payloads/main/d-1.raw-abc.json")
    payloads.delete("payloads/main/d-1.raw-abc.json")  # a missing key is no error


def test_a_spooled_request_set_aside_leaves_the_spool(ingest_world: dict[str, Any]) -> None:
    from callhook.models.event import SpooledRequest
    from callhook.repositories.spool import SpoolStore

    spool = ingest_world["spool"]
    record = SpooledRequest(event_id="s-1", channel_id="main", received_at="2026-12-01T10:00:00Z",
                            reason="dialog_store_unavailable", request=_stored(b'{"call_id": "c1"}'))
    key = spool.put(record)
    aside = spool.set_aside(key, "processing_failed: ValidationError: 1 validation error\n  Invalid JSON …")
    assert aside == "set-aside/" + key.removeprefix("spool/") and spool.keys() == []
    if isinstance(spool, SpoolStore):  # the object reads back, its reason a header S3 can send
        head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=spool.bucket, Key=aside)
        assert head["Metadata"]["reason"] == "processing_failed: ValidationError: 1 validation error Invalid JSON ?"


@pytest.mark.parametrize("failure", ["ValidationException", "ResourceNotFoundException", "ThrottlingException",
                                     "unreachable"])
def test_any_aws_failure_of_ingest_s_writes_is_dependency_unavailable(failure: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Ingest keeps the request in the next store whatever went wrong, so its adapters say "unavailable" for every
    # AWS failure (not only throttling, as the workflow's adapters do), or "refused" when the store refused the item
    # itself (a drain of kept requests sets such a request aside); the fakes' `down` says the same
    from botocore.exceptions import EndpointConnectionError
    from botocore.stub import Stubber

    from callhook.errors import DependencyUnavailableError, ItemRefusedError
    from callhook.models.call import Telephony
    from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus
    from callhook.models.event import RawEvent, RawEventKind
    from callhook.repositories import dialogs as dialogs_module
    from callhook.repositories import events as events_module
    from callhook.repositories.ingest import IngestDialogs, IngestEvents
    from tests.support.fakes import FakeDialogs, FakeRawEvents

    dialog = Dialog(dialog_id="d-1", channel_id="main", call_id="c1", created_at="2026-12-01T10:00:00Z",
                    telephony=Telephony(call_id="c1"), enrichment=Enrichment(status=EnrichmentStatus.DISABLED))
    event = RawEvent(event_id="e-1", channel_id="main", received_at="2026-12-01T10:00:00Z",
                     kind=RawEventKind.REJECTED, request=_stored(b"{}"))

    expected: type[Exception] = ItemRefusedError if failure == "ValidationException" else DependencyUnavailableError

    class Unreachable:
        def put_item(self, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ddb) as stub:
        for _ in range(2):
            stub.add_client_error("put_item", service_error_code=failure)
        dynamodb = Unreachable() if failure == "unreachable" else ddb
        monkeypatch.setattr(dialogs_module, "client", lambda service: dynamodb)
        monkeypatch.setattr(events_module, "client", lambda service: dynamodb)
        with pytest.raises(expected, match="store dialog"):
            IngestDialogs("dialogs").put_new(dialog)
        with pytest.raises(expected, match="store raw event"):
            IngestEvents("events").put(event)
    fakes = FakeDialogs(), FakeRawEvents()
    fakes[0].down = fakes[1].down = failure
    with pytest.raises(expected, match="store dialog"):
        fakes[0].put_new(dialog)
    with pytest.raises(expected, match="store raw event"):
        fakes[1].put(event)


def test_a_recording_request_never_raises_and_marks_the_dialog_unless_marked(aws: dict[str, str]) -> None:
    # KEEP_RECORDING_FUNCTION unset (or its invoke failing) is logged, never raised: the call is kept either way;
    # the reconciler asks again for what the index holds
    from callhook.models.call import Telephony
    from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus
    from callhook.repositories.dialogs import DialogRepository
    from callhook.repositories.recording_requests import KeepRecordingRequests
    from tests.support.fakes import FakeRecordingRequests

    repository = DialogRepository(aws["DIALOGS_TABLE"])
    for n in (1, 2):
        repository.put_new(Dialog(dialog_id=f"d-{n}", channel_id="main", call_id=f"c{n}",
                                  created_at="2026-12-01T10:00:00Z", telephony=Telephony(call_id=f"c{n}"),
                                  enrichment=Enrichment(status=EnrichmentStatus.DISABLED)))
    assert repository.list_recording_pending(requested_before="9999") == []
    for requests in (KeepRecordingRequests(), FakeRecordingRequests()):
        requests.request("d-1")
        requests.request("d-2", marked=True)
    assert repository.list_recording_pending(requested_before="9999") == ["d-1"]


# ------------------------------------------------------------------------------------------- configuration items


@pytest.fixture(params=["fake", "dynamo"])
def operators_index(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """An OperatorIndexKeys over the given console items, and a reader of one stored item."""
    def build(*items: dict[str, Any]) -> tuple[Any, Callable[[int], dict[str, Any]]]:
        if request.param == "fake":
            fake = FakeOperators(*[dict(i) for i in items])
            return fake, lambda user_id: next(i for i in fake.items if i["user_id"] == user_id)
        env = request.getfixturevalue("aws")
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for item in items:
            ddb.put_item(TableName=env["OPERATORS_TABLE"], Item=to_item(item))

        def read(user_id: int) -> dict[str, Any]:
            from callhook.aws import from_item
            return from_item(ddb.get_item(TableName=env["OPERATORS_TABLE"],
                                          Key={"user_id": {"N": str(user_id)}})["Item"])
        return DynamoOperators(env["OPERATORS_TABLE"]), read
    return build


def test_derived_keys_are_written_once_and_only_from_the_current_source(operators_index: Callable[..., Any]) -> None:
    ann = {"user_id": 17, "email": "  Ann@Example.com ", "ext": 101}
    operators, read = operators_index(ann, {"user_id": 18, "email": "new@example.com"})
    wanted = {"email_key": "ann@example.com", "ext_key": "101"}
    # Written once: the same write again changes nothing, so it is none (the stream's loop guard)
    assert operators.write_derived(ann, wanted) is True
    assert operators.write_derived(ann, wanted) is False
    assert {k: read(17).get(k) for k in wanted} == wanted
    # A record older than the stored item (its email changed since) writes nothing; None removes a key
    assert operators.write_derived({"user_id": 18, "email": "old@example.com"},
                                   {"email_key": "old@example.com", "ext_key": None}) is False
    assert "email_key" not in read(18)
    assert operators.write_derived(ann | {"ext": 101}, {"email_key": "ann@example.com", "ext_key": None}) is True
    assert "ext_key" not in read(17)
    # An operator that is gone is not written back
    assert operators.write_derived({"user_id": 99, "email": "x@example.com"},
                                   {"email_key": "x@example.com", "ext_key": None}) is False


@pytest.mark.parametrize("kind", ["fake", "dynamo"])
def test_config_items_read_one_or_all_as_written(kind: str, request: pytest.FixtureRequest) -> None:
    from callhook.repositories.config import ConfigTable
    from tests.support.fakes import FakeConfigItems

    if kind == "fake":
        items: Any = FakeConfigItems("channel_id", *CONSOLE_CHANNELS)
    else:
        env = request.getfixturevalue("aws")
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for item in CONSOLE_CHANNELS:
            ddb.put_item(TableName=env["CHANNELS_TABLE"], Item=to_item(item))
        items = ConfigTable(env["CHANNELS_TABLE"], "channel_id")
    assert items.get("broken") == CONSOLE_CHANNELS[1] and items.get("gone") is None
    assert sorted(items.scan_all(), key=lambda i: i["channel_id"]) == sorted(CONSOLE_CHANNELS,
                                                                            key=lambda i: i["channel_id"])


def test_a_stream_image_decodes_as_a_get_item_reads_the_item(aws: dict[str, str]) -> None:
    # The boundary of the config-stream services: what they decide on is what the table holds
    from callhook.aws import from_item
    from callhook.models.stream import StreamEvent
    from callhook.repositories.streams import written_items

    item = {"channel_id": "main", "webhook_token": "main-channel-token-0001", "retention_days": 7,
            "advanced_config": {"field_mapping": {"caller": "from"}, "tags": ["a", 1]}}
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.put_item(TableName=aws["CHANNELS_TABLE"], Item=to_item(item))
    stored = ddb.get_item(TableName=aws["CHANNELS_TABLE"], Key={"channel_id": {"S": "main"}})["Item"]
    event = StreamEvent.model_validate({"Records": [
        {"eventName": "MODIFY", "dynamodb": {"Keys": {"channel_id": {"S": "main"}}, "NewImage": stored}},
        {"eventName": "REMOVE", "dynamodb": {"Keys": {"channel_id": {"S": "old"}}}}]})
    [written] = written_items(event.records)
    assert written.keys == frozenset({"channel_id"}) and written.item == from_item(stored) == item


# ------------------------------------------------------------------------------------------- the admin's ports


def _admin_dialogs(kind: str, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """callhook_admin.ports' dialogs and raw events tables: three dialogs and three raw events on `main` (stored
    on the 1st, 2nd, 3rd), one of each on `other`; e-1 and e-2 belong to d-1."""
    import base64

    from callhook.models.call import Telephony
    from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus
    from callhook.models.event import RawEvent, RawEventKind, StoredRequest
    from tests.support.fakes import FakeDialogs, FakeRawEvents

    dialogs = [Dialog(dialog_id=f"d-{n}", channel_id=channel, call_id=f"c{n}", created_at=f"2026-01-0{n}T00:00:00Z",
                      telephony=Telephony(call_id=f"c{n}", caller=f"+1202555010{n}", callee="+12025550100"),
                      enrichment=Enrichment(status=EnrichmentStatus.DISABLED))
               for n, channel in ((2, "main"), (1, "main"), (3, "main"), (4, "other"))]
    events = [RawEvent(event_id=f"e-{n}", channel_id=channel, received_at=f"2026-01-0{n}T00:00:00Z",
                       kind=RawEventKind.APPLIED_UPDATE if n < 3 else RawEventKind.REJECTED,
                       dialog_id="d-1" if n < 3 else None, request=StoredRequest(
                           method="POST", url="/webhooks/main", headers={}, body_b64=base64.b64encode(b"{}").decode()))
              for n, channel in ((3, "main"), (1, "main"), (2, "main"), (4, "other"))]
    if kind == "fake":
        table, log = FakeDialogs(*dialogs), FakeRawEvents()
    else:
        from callhook.repositories.dialogs import DialogRepository
        from callhook.repositories.events import EventRepository
        env = request.getfixturevalue("aws")
        table, log = DialogRepository(env["DIALOGS_TABLE"]), EventRepository(env["EVENTS_TABLE"])
        for dialog in dialogs:
            table.put_new(dialog)
    for event in events:
        log.put(event)
    return table, log


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_the_admin_reads_a_channels_dialogs_and_raw_events_newest_first_page_by_page(
        kind: str, request: pytest.FixtureRequest) -> None:
    dialogs, events = _admin_dialogs(kind, request)
    first, token = dialogs.list_by_channel("main", limit=2)
    assert [d.dialog_id for d in first] == ["d-3", "d-2"] and token
    rest, end = dialogs.list_by_channel("main", limit=2, start_key=token)
    assert [d.dialog_id for d in rest] == ["d-1"] and end is None
    between, _ = dialogs.list_by_channel("main", since="2026-01-02T00:00:00Z", until="2026-01-02T00:00:00Z")
    assert [d.dialog_id for d in between] == ["d-2"]
    newest, token = events.list_by_channel("main", limit=2)
    assert [e.event_id for e in newest] == ["e-3", "e-2"] and token
    oldest, end = events.list_by_channel("main", limit=2, start_key=token)
    assert [e.event_id for e in oldest] == ["e-1"] and end is None


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_an_erasure_finds_a_channels_numbers_and_a_dialogs_events_and_deletes_them(
        kind: str, request: pytest.FixtureRequest) -> None:
    dialogs, events = _admin_dialogs(kind, request)
    assert sorted(dialogs.numbers_of_channel("main")) == [
        (f"d-{n}", f"+1202555010{n}", "+12025550100") for n in (1, 2, 3)]
    stored = dialogs.get_raw("d-1")
    assert (stored["channel_id"], stored["telephony"]["caller"]) == ("main", "+12025550101")
    assert dialogs.get_raw("d-9") is None
    assert sorted(events.linked_to("d-1")) == ["e-1", "e-2"]
    assert sorted(e.event_id for e in events.of_channel("main")) == ["e-1", "e-2", "e-3"]
    assert dialogs.delete("d-1") is True and dialogs.delete("d-1") is False and dialogs.get_raw("d-1") is None
    assert events.get("e-1").dialog_id == "d-1" and events.get("e-9") is None
    events.delete("e-1")
    events.delete("e-1")  # gone already: no error
    assert events.linked_to("d-1") == ["e-2"] and events.get("e-1") is None


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_an_erasure_finds_a_dialogs_objects_by_prefix_and_names_a_refused_job(
        kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    from callhook_admin.errors import LeftoverNotDeletedError
    from tests.support.fakes import FakeErasureObjects

    keys = ["recordings/ch/d-1.wav", "recordings/ch/d-1.mp3", "recordings/ch/d-10.wav"]
    if kind == "fake":
        objects: Any = FakeErasureObjects(set(keys), set(), refused={"stack-d-1"})
    else:
        from callhook.repositories import erasure as aws_calls
        from callhook_admin.repositories.erasure import AwsErasureObjects
        env = request.getfixturevalue("aws")
        s3 = boto3.client("s3", region_name="us-east-1")
        for key in keys:
            s3.put_object(Bucket=env["RECORDINGS_BUCKET"], Key=key, Body=b"x")
        objects = AwsErasureObjects(env["RECORDINGS_BUCKET"])
        # moto deletes any job: the refusal is Transcribe's answer on a stubbed client
        transcribe = boto3.client("transcribe", region_name="us-east-1")
        stub = Stubber(transcribe)
        stub.add_client_error("delete_transcription_job", service_error_code="AccessDeniedException")
        stub.activate()
        real = aws_calls.client
        monkeypatch.setattr(aws_calls, "client", lambda service: transcribe if service == "transcribe" else
                            real(service))
    assert sorted(objects.keys_under("recordings/ch/d-1.")) == ["recordings/ch/d-1.mp3", "recordings/ch/d-1.wav"]
    assert objects.keys_under("transcripts/ch/d-1.") == []
    with pytest.raises(LeftoverNotDeletedError) as refused:
        objects.delete_transcription_job("stack-d-1")
    assert refused.value.code == "AccessDeniedException"


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_an_erasure_record_is_kept_with_who_asked(kind: str, request: pytest.FixtureRequest) -> None:
    from callhook.models.erasure import ErasureRecord
    from tests.support.fakes import FakeErasureRecords

    record = ErasureRecord(erasure_id="er-1", erased_at="2026-12-01T00:00:00Z", erased_by="x", scope="dialog",
                           dialog_ids=["d-1"])
    if kind == "fake":
        records: Any = FakeErasureRecords()
        kept = lambda: records.records  # noqa: E731
    else:
        from callhook_admin.repositories.erasure import DynamoErasureRecords
        env = request.getfixturevalue("aws")
        records = DynamoErasureRecords(env["ERASURES_TABLE"])
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        kept = lambda: [ErasureRecord.model_validate(from_item(i))  # noqa: E731
                        for i in ddb.scan(TableName=env["ERASURES_TABLE"])["Items"]]
    assert records.caller().startswith("arn:aws:")
    records.put(record)
    assert kept() == [record]


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_a_dialogs_executions_are_found_by_their_names_in_order(kind: str, request: pytest.FixtureRequest) -> None:
    from callhook.models.workflow import WorkflowState
    from tests.support.fakes import FakeExecutions

    if kind == "fake":
        executions: Any = FakeExecutions()
    else:
        from callhook_admin.repositories.executions import StepFunctionsDialogExecutions
        executions = StepFunctionsDialogExecutions(request.getfixturevalue("aws")["STATE_MACHINE_ARN"])
    state = WorkflowState(dialog_id="d-1", channel_id="main", call_id="c1")
    arns = [executions.start(name, state) for name in ("d-1", "d-1-r1", "d-2")]
    found = executions.of_dialog("d-1")
    assert [(e["name"], e["executionArn"]) for e in found] == [("d-1", arns[0]), ("d-1-r1", arns[1])]
    assert [executions.status_of(arn) for arn in arns[:2]] == [e["status"] for e in found]
    assert {e["status"] for e in found} <= {"RUNNING", "SUCCEEDED"}
    assert executions.of_dialog("d-9") == []
    assert all(isinstance(e["startDate"], datetime) for e in found)
    assert all({"id", "type", "timestamp"} <= set(event) for event in executions.history(arns[0]))


@pytest.mark.parametrize("kind", ["fake", "adapter"])
def test_a_dead_letter_queue_is_looked_at_taken_released_and_deleted(kind: str,
                                                                       request: pytest.FixtureRequest) -> None:
    from callhook_admin.errors import InvokeFailedError
    from tests.support.fakes import FakeDeadLetters, FakeInvoker

    if kind == "fake":
        queue: Any = FakeDeadLetters()
        invoke: Any = FakeInvoker()
        send = queue.send
    else:
        from callhook_admin.repositories.queues import QueueRepository, invoke_async
        request.getfixturevalue("aws")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="unit-dlq")["QueueUrl"]
        queue, invoke = QueueRepository(url), invoke_async
        send = lambda body: sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]  # noqa: E731
    sent = [send(json.dumps({"dialog_id": f"d-{n}"})) for n in range(3)]
    looked = queue.receive()
    assert sorted(m["MessageId"] for m in looked) == sorted(sent) and queue.counts() == (3, 0)
    assert all(int(m["Attributes"]["SentTimestamp"]) > 0 for m in looked)
    taken = queue.receive(visibility_s=60)
    assert len(taken) == 3 and queue.counts() == (0, 3) and queue.receive() == []
    queue.release(taken[0]["ReceiptHandle"])
    queue.delete(taken[1]["ReceiptHandle"])
    assert queue.counts() == (1, 1)
    assert [m["MessageId"] for m in queue.receive()] == [taken[0]["MessageId"]]
    with pytest.raises(InvokeFailedError, match="ResourceNotFoundException"):
        invoke("no-such-function", b"{}")


def test_the_cached_channel_is_read_again_when_asked_fresh_and_kept(aws: dict[str, str]) -> None:
    # Given the adapter of the webhook path, its item cached
    from callhook.repositories.ingest import CachedChannels

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    item = {"channel_id": "rot", "webhook_token": "old-token-0123456789"}
    ddb.put_item(TableName=aws["CHANNELS_TABLE"], Item=to_item(item))
    channels = CachedChannels(aws["CHANNELS_TABLE"], 30)
    assert channels.get("rot").webhook_token == "old-token-0123456789"  # type: ignore[union-attr]
    # When the console replaces the token
    ddb.put_item(TableName=aws["CHANNELS_TABLE"], Item=to_item({**item, "webhook_token": "new-token-0123456789"}))
    # Then the cached copy is still served, a fresh read sees the new one, and later requests get it too
    assert channels.get("rot").webhook_token == "old-token-0123456789"  # type: ignore[union-attr]
    assert channels.get("rot", fresh=True).webhook_token == "new-token-0123456789"  # type: ignore[union-attr]
    assert channels.get("rot").webhook_token == "new-token-0123456789"  # type: ignore[union-attr]
