"""What the admin services need from the world, beyond `callhook.ports` (docs/design.md).

The admin services (`callhook_admin.services`) take these `typing.Protocol`s and those of `callhook.ports`; the CLI's
composition root (`callhook_cli/wiring.py`) builds the adapters (`callhook.repositories`, `callhook_admin.repositories`)
once per command, and unit tests pass the in-memory fakes of `tests/support/fakes.py`, held to the adapters by
`tests/unit/test_ports_contract.py`. Protocols are structural: an adapter does not inherit from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from callhook.models.dialog import Dialog
    from callhook.models.erasure import ErasureRecord
    from callhook.models.event import RawEvent, RawEventKind
    from callhook.models.workflow import WorkflowState
    from callhook_admin.models.deadletter import StreamBatch

Page = dict[str, Any] | None  # where the next page starts (DynamoDB's LastEvaluatedKey); None: no more


class DialogLookup(Protocol):
    def get(self, dialog_id: str) -> Dialog | None: ...


class DialogPages(Protocol):
    """The dialogs table as the admin reads it: one dialog, a channel's dialogs page by page."""

    def get(self, dialog_id: str) -> Dialog | None: ...

    def list_by_channel(self, channel_id: str, *, since: str | None = None, until: str | None = None,
                        limit: int = 50, start_key: Page = None) -> tuple[list[Dialog], Page]:
        """Newest first (created_at), `since`/`until` inclusive; the page after `start_key`, and where the next
        one starts (None: no more)."""
        ...


class EventPages(Protocol):
    def list_by_channel(self, channel_id: str, *, limit: int = 50, start_key: Page = None,
                        kind: RawEventKind | None = None) -> tuple[list[RawEvent], Page]:
        """The channel's raw events, newest first (received_at), page by page as `DialogPages.list_by_channel`;
        `kind`: only those of that kind (a page may then hold fewer than `limit`)."""
        ...


class ErasableDialogs(Protocol):
    """The dialogs table as an erasure reads and deletes it."""

    def get_raw(self, dialog_id: str) -> dict[str, Any] | None:
        """The item as stored (an erasure needs its S3 keys and job name, whatever the model makes of them)."""
        ...

    def numbers_of_channel(self, channel_id: str) -> Iterable[tuple[str, str | None, str | None]]:
        """(dialog_id, caller, callee) of every dialog of the channel."""
        ...

    def delete(self, dialog_id: str) -> bool:
        """False when there was no such item."""
        ...


class ErasableEvents(Protocol):
    """The raw events table as an erasure reads and deletes it."""

    def linked_to(self, dialog_id: str) -> list[str]:
        """Ids of every raw event linked to the dialog, whatever their kind."""
        ...

    def of_channel(self, channel_id: str) -> Iterable[RawEvent]:
        """Every raw event of the channel."""
        ...

    def delete(self, event_id: str) -> None:
        """A missing event is no error."""
        ...


class ErasureObjects(Protocol):
    """What of a dialog lives outside the tables (the `callhook.ports.Leftovers` of Expire), and where it is."""

    def keys_under(self, prefix: str) -> list[str]:
        """Every key of the recordings bucket under `prefix`."""
        ...

    def read(self, key: str) -> bytes | None:
        """An object's bytes (a spooled request); None when it is gone."""
        ...

    def delete_objects(self, keys: list[str]) -> list[str]:
        """Delete the keys (a missing one is no error); the keys S3 could not delete, with the error code."""
        ...

    def delete_transcription_job(self, name: str) -> bool:
        """False when the job is gone already. Raises LeftoverNotDeletedError (callhook_admin.errors) with
        Transcribe's error code for any other refusal."""
        ...


class ErasureRecords(Protocol):
    def caller(self) -> str:
        """Who runs the erasure (the ARN of the IAM identity)."""
        ...

    def put(self, record: ErasureRecord) -> None: ...


class ReplayEvents(Protocol):
    """The raw events table as `callhook events replay` reads and marks it."""

    def get(self, event_id: str) -> RawEvent | None: ...

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None: ...

    def list_by_channel(self, channel_id: str, *, limit: int = 50, start_key: Page = None,
                        kind: RawEventKind | None = None) -> tuple[list[RawEvent], Page]: ...


class DialogSections(Protocol):
    """The dialogs table as `callhook dialog replay` reads and resets it."""

    def get(self, dialog_id: str) -> Dialog | None: ...

    def set_sections(self, dialog_id: str, sections: dict[str, Any], *, remove: tuple[str, ...] = ()) -> None: ...


class DialogExecutions(Protocol):
    """The dialog workflow's executions (Step Functions), named after their dialog (models/execution.py)."""

    def start(self, name: str, state: WorkflowState) -> str:
        """StartExecution, idempotent (an existing execution of that name is it); its ARN.
        Raises DependencyUnavailableError."""
        ...

    def of_dialog(self, dialog_id: str) -> list[dict[str, Any]]:
        """The dialog's executions in order (first run, replay 1, ...): each as DescribeExecution answers it, at
        least its `name`, `status`, `executionArn` and `startDate`."""
        ...

    def status_of(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        ...

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's history events as GetExecutionHistory answers them, oldest first."""
        ...


class DeadLetters(Protocol):
    """One dead-letter queue (SQS). Messages are as ReceiveMessage answers them, with every attribute."""

    def counts(self) -> tuple[int, int]:
        """(visible, in flight): SQS's approximate counts."""
        ...

    def receive(self, *, max_messages: int = 10, visibility_s: int = 0) -> list[dict[str, Any]]:
        """Up to 10 messages. `visibility_s=0` only looks (they stay visible)."""
        ...

    def release(self, receipt_handle: str) -> None:
        """Make a received message visible again at once."""
        ...

    def delete(self, receipt_handle: str) -> None: ...


class AsyncInvoker(Protocol):
    def __call__(self, function: str, payload: bytes) -> None:
        """Invoke `function` with InvocationType=Event. Raises InvokeFailedError (callhook_admin.errors)."""
        ...


class StreamBatches(Protocol):
    """A DynamoDB stream read again by sequence numbers, and the filters of the mapping that delivered it."""

    def records(self, batch: StreamBatch) -> list[dict[str, Any]]:
        """Every record of the batch's shard from its first to its last sequence number, as Lambda hands them to the
        function (`eventSourceARN` set, `ApproximateCreationDateTime` in epoch seconds). Raises
        StreamRecordsGoneError when the stream no longer holds the first one."""
        ...

    def filter_patterns(self, function: str, stream_arn: str) -> list[dict[str, Any]]:
        """The FilterCriteria patterns (parsed) of `function`'s event source mapping on the stream; [] for none."""
        ...


class SyncInvoker(Protocol):
    def __call__(self, function: str, payload: bytes) -> None:
        """Invoke `function` with InvocationType=RequestResponse. Raises InvokeFailedError when Lambda refuses the
        invoke or the function fails on it."""
        ...
