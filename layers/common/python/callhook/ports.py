"""What the workflow's decisions need from the world, and nothing more (docs/design.md).

Services take these `typing.Protocol`s; the adapters in `callhook.repositories` implement them over DynamoDB
(boto3 lives there only), each function's `app.py` builds the adapters once per sandbox, and unit tests pass the
in-memory fakes of `tests/support/fakes.py`. Protocols are structural: an adapter does not inherit from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:  # annotations only: a function imports the models its own path uses (ingest's cold import)
    from callhook.models.action import Action, ActionRun
    from callhook.models.api import WebhookAnswer, WebhookRequest
    from callhook.models.channel import Channel
    from callhook.models.dialog import Dialog, FeedEntry, Recording, Transcription, Workflow
    from callhook.models.directory import Operator, OperatorLookup
    from callhook.models.event import RawEvent, RawEventKind, SpooledRequest
    from callhook.models.transcription import Fetched, JobStart, TranscribeJob
    from callhook.models.workflow import WorkflowState


class Dialogs(Protocol):
    """The dialogs table as a workflow step sees it: read one, overwrite whole sections, post to the feed once."""

    def get(self, dialog_id: str) -> Dialog | None: ...

    def set_sections(self, dialog_id: str, sections: dict[str, Any], *, remove: tuple[str, ...] = ()) -> None: ...

    def add_feed_entry(self, dialog_id: str, entry: FeedEntry) -> bool: ...

    def fill_telephony(self, dialog_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Fill telephony fields that are still empty, never blanking one."""
        ...


class Operators(Protocol):
    """The operator directory. A lookup returns valid operators and, apart, the matching items that are invalid."""

    def by_email(self, email: str) -> OperatorLookup:
        """Operators whose email equals `email` with case and surrounding spaces ignored."""
        ...

    def by_ext(self, ext: str) -> OperatorLookup:
        """Operators whose extension equals `ext` (`101` and `"101"` alike)."""
        ...

    def get(self, user_id: int) -> Operator | None:
        """The valid operator by key; None for no item or an invalid one."""
        ...


class Topics(Protocol):
    def exists(self, alias: str) -> bool:
        """Whether a topic has exactly this alias (its key)."""
        ...

    def aliases(self) -> list[str]:
        """Every alias (a small table; read only on the unhappy path, to suggest the nearest)."""
        ...


class InstanceSettings(Protocol):
    """The settings table (named apart from `callhook.settings`, the functions' environment)."""

    def default_operator_id(self) -> tuple[int, str | None]:
        """The operator `assign_admin` assigns, and why the stored value was not used (None when it was)."""
        ...


class Actions(Protocol):
    """Action Jail."""

    def get(self, action_id: str) -> Action:
        """Raises ActionNotFoundError: no such action, or an item that fails validation (every problem named)."""
        ...


class Channels(Protocol):
    def get(self, channel_id: str) -> Channel | None:
        """Raises ChannelConfigError: the stored item fails validation."""
        ...


class ActionRunner(Protocol):
    """Runs an action for one call (HTTP or Lambda); raises the ActionError leaves or DependencyUnavailableError."""

    def __call__(self, action: Action, state: Mapping[str, Any]) -> ActionRun: ...


class RecordingRequests(Protocol):
    def request(self, dialog_id: str, *, marked: bool = False) -> None:
        """Ask for the dialog's recording to be copied, apart from the caller's work; never raises. The dialog is
        first put in the recording-reconciliation index, unless `marked` (the caller's own write did it)."""
        ...


# ------------------------------------------------------------------------------------------- the transcription side


class TranscriptionStore(Protocol):
    """The dialog's recording and transcription sections, written with conditions (three actors race on them: the
    Transcribe step, KeepRecording, the completion). `repositories/transcriptions.py` says why each condition."""

    def set_recording(self, dialog_id: str, recording: Recording) -> bool:
        """A failure never overwrites a kept recording."""
        ...

    def record_decision(self, dialog_id: str, transcription: Transcription, *,
                        workflow: Workflow | None = None) -> bool:
        """`not_requested`/`skipped`, unless a job was claimed meanwhile; with `workflow`, that section in the same
        write (a decision that answers the waiting step ends the workflow)."""
        ...

    def park(self, dialog_id: str, waiting: Transcription, task_token: str) -> bool:
        """Keep the token while the recording is being copied; False if a job is claimed."""
        ...

    def claim(self, dialog_id: str, started: Transcription, *, task_token: str | None = None,
              only_after: tuple[str, ...] = ()) -> tuple[bool, str | None]:
        """True for exactly one claimer; returns the task token held after the claim."""
        ...

    def attach_token(self, dialog_id: str, task_token: str) -> bool:
        """Hand a newer token to a started job; False when it is not started (it ended)."""
        ...

    def finish(self, dialog_id: str, final: Transcription, *, over_timeout: bool = False,
               ) -> tuple[bool, str | None, dict[str, Any] | None]:
        """End a started transcription: (applied, the token to answer, the item before)."""
        ...

    def resolve_waiting(self, dialog_id: str, final: Transcription, waiting_code: str) -> tuple[bool, str | None]:
        """End a transcription that waited for its recording without a job: (applied, the token to answer)."""
        ...


class TranscribeJobs(Protocol):
    """Amazon Transcribe. Raises DependencyUnavailableError for throttling and transport faults only."""

    def start(self, request: dict[str, Any]) -> JobStart: ...

    def get(self, job_name: str) -> TranscribeJob:
        """Transcribe's record of the job; an unknown job is FAILED with a reason."""
        ...


class Transcripts(Protocol):
    def read(self, key: str) -> bytes:
        """Raises TranscriptMissingError (no such object, not ours) or DependencyUnavailableError."""
        ...


class TaskTokens(Protocol):
    """Answers to the waiting Transcribe state."""

    def succeed(self, token: str, output: str) -> bool:
        """SendTaskSuccess; False when the wait already ended. Raises DependencyUnavailableError."""
        ...

    def heartbeat(self, token: str) -> None:
        """Best effort: never raises."""
        ...


# ------------------------------------------------------------------------------------------- the workflow's edges


class Executions(Protocol):
    """The dialog workflow's executions (Step Functions), one per dialog, named after it."""

    def start(self, name: str, state: WorkflowState) -> str:
        """StartExecution, idempotent (an existing execution of that name is it); its ARN.
        Raises DependencyUnavailableError."""
        ...

    def status(self, name: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; None when there is no such execution."""
        ...


class PendingUpdates(Protocol):
    """The raw events table as BeginWorkflow sees it: update events that arrived before their call."""

    def pending_updates(self, dialog_id: str) -> list[RawEvent]:
        """Oldest first."""
        ...

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None: ...


class PendingDialogs(Protocol):
    """The reconciliation indexes of the dialogs table."""

    def list_workflow_pending(self, *, older_than: str, limit: int = 100) -> list[Dialog]:
        """Dialogs stored before `older_than` whose workflow never began, oldest first."""
        ...

    def clear_workflow_pending(self, dialog_id: str) -> None: ...

    def list_recording_pending(self, *, requested_before: str, limit: int = 100) -> list[str]:
        """Ids of dialogs whose recording was asked for before `requested_before` and has no outcome yet."""
        ...


# ------------------------------------------------------------------------------------------- kept requests


class RawEvents(Protocol):
    """The raw events table as the release of held requests sees it."""

    def held(self, channel_id: str, *, limit: int = 100) -> list[RawEvent]:
        """The channel's held events, oldest first (an eventually consistent index: may list one just released)."""
        ...

    def put(self, event: RawEvent) -> None: ...

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None: ...


class Spool(Protocol):
    """Requests kept in S3 when the tables failed; keys sort by arrival."""

    def put(self, record: SpooledRequest) -> str:
        """Its key. Raises DependencyUnavailableError (any failure: nothing was kept)."""
        ...

    def keys(self, *, limit: int = 100) -> list[str]:
        """The oldest first. Raises DependencyUnavailableError."""
        ...

    def get(self, key: str) -> SpooledRequest | None:
        """None: another pass took it first."""
        ...

    def delete(self, key: str) -> None: ...

    def set_aside(self, key: str, reason: str) -> str:
        """Move a spooled object that cannot be processed out of the spool, as it is, with the reason; its new
        key. Raises: DependencyUnavailableError: S3 failed (it stays spooled)."""
        ...


class ChannelIds(Protocol):
    def ids(self) -> list[str]:
        """Every channel's id (a small table; the reconciler's safety net reads it)."""
        ...


class Ingest(Protocol):
    """Ingest's processing of an authenticated request (services/ingest.py), which kept requests go through again."""

    def channel(self, channel_id: str) -> Channel:
        """The channel as ingest uses it, read fresh. Raises ChannelMisconfiguredError, ChannelNotFoundError."""
        ...

    def accept(self, channel: Channel, request: WebhookRequest, received_at: str) -> WebhookAnswer:
        """The dialog it would have been then (same id). Raises WebhookRejectedError, DependencyUnavailableError,
        DialogStoreUnavailableError."""
        ...

    def expiry(self, channel: Channel | None, received_at: str) -> int | None:
        """When a raw event received then expires: the channel's retention, else (None) the stack's."""
        ...


# ------------------------------------------------------------------------------------------- the webhook path


class IngestChannels(Protocol):
    """The channels table as ingest reads it on every webhook."""

    def get(self, channel_id: str, *, fresh: bool = False) -> Channel | None:
        """The channel, cached briefly per sandbox (the adapter's `cache_seconds`; 0 reads fresh). None: no item.
        `fresh`: read the item now (strongly consistent) and keep it for the next requests: what ingest does before
        it refuses a request, since the cached copy may predate the admin's change.
        Raises ChannelConfigError (the item fails validation), DependencyUnavailableError."""
        ...

    def item(self, channel_id: str) -> dict[str, Any] | None:
        """The stored item as the console wrote it, read uncached (a cached one may be stale). None: no item.
        Raises DependencyUnavailableError."""
        ...


class NewDialogs(Protocol):
    """The dialogs table as ingest writes it. Every AWS failure is DependencyUnavailableError (the caller spools)."""

    def put_new(self, dialog: Dialog) -> None:
        """Create the dialog unless it exists (and put it in the reconciliation indexes).
        Raises DialogExistsError with the stored one (a re-delivery), DependencyUnavailableError."""
        ...

    def fill_telephony(self, dialog_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Fill telephony fields that are still empty, never blanking one; None when no such dialog."""
        ...


class EventLog(Protocol):
    """The raw events table as ingest writes it. Every AWS failure is DependencyUnavailableError (the caller
    spools)."""

    def put(self, event: RawEvent) -> None: ...

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None: ...


# ------------------------------------------------------------------------------------------- keeping recordings


class RecordingDownloads(Protocol):
    """The outbound GET of a recording URL (callhook.outbound's rules: no private address unless allowed, size and
    time capped, secret headers never follow a redirect to another origin)."""

    def fetch(self, url: str, sink: BinaryIO, *, allow_private_network: bool, timeout_s: float, max_bytes: int,
              headers: dict[str, str], auth: tuple[str, str] | None) -> Fetched:
        """Raises BlockedDestinationError, ActionResponseTooLargeError, ActionTooManyRedirectsError,
        ActionTimeoutError, ActionConnectionError."""
        ...


class RecordingObjects(Protocol):
    """The recordings bucket."""

    def store(self, body: IO[bytes], key: str, content_type: str) -> None:
        """Raises DependencyUnavailableError."""
        ...


class PayloadReader(Protocol):
    """Objects of the recordings bucket that hold what did not fit an item (services/payloads.py)."""

    def read(self, key: str) -> bytes:
        """Raises: DependencyUnavailableError: S3 throttled or unreachable."""
        ...


class Payloads(PayloadReader, Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Raises: DependencyUnavailableError: the object was not stored (ingest keeps the request elsewhere)."""
        ...

    def delete(self, key: str) -> None:
        """A missing key is no error."""
        ...


class Secrets(Protocol):
    def read(self, reference: str, *, fresh: bool = False) -> str:
        """An `ssm:` / `secretsmanager:` reference's value, cached by the adapter; `fresh` reads it now (and caches
        that). Raises SecretUnreadableError."""
        ...


class Leftovers(Protocol):
    """What of a removed dialog lives outside the table (Expire deletes it)."""

    def delete_objects(self, keys: list[str]) -> list[str]:
        """Delete the keys (a missing one is no error); the keys S3 could not delete, with the error code."""
        ...

    def delete_transcription_job(self, name: str) -> bool:
        """False when the job is gone already."""
        ...


# ------------------------------------------------------------------------------------------- configuration items


@dataclass(frozen=True)
class WrittenItem:
    """An item a table's stream delivered as written (INSERT, MODIFY), decoded at the boundary: the names of its
    key and the item as a GetItem reads it (repositories/streams.py)."""

    keys: frozenset[str]
    item: dict[str, Any]


class ConfigItems(Protocol):
    """A configuration table's items as the console wrote them (channels, actions)."""

    def get(self, key: Any) -> dict[str, Any] | None: ...

    def scan_all(self) -> list[dict[str, Any]]:
        """Every item (a small table; admin time only)."""
        ...


class OperatorIndexKeys(Protocol):
    """The operators table's derived index keys (`email_key`, `ext_key`)."""

    def write_derived(self, item: dict[str, Any], wanted: dict[str, str | None]) -> bool:
        """Bring the stored operator's derived attributes to `wanted` (None: remove), only where they differ and
        only while it still holds the `email` and `ext` of `item` (a newer write is normalised by its own record).
        Whether it wrote: a write that would change nothing is none (the stream's loop guard)."""
        ...
