"""Dead-letter queues: what asynchronous invocations gave up on (`dlq list`), and sending it again (`dlq redrive`).

Each queue of template.yaml redrives to one function: `recordings` (KeepRecording's failed copies) and
`transcriptions` (Transcribe job-state events not delivered to, or not stored by, the completion function), whose
messages are the events; and one per stream event source (`expire`, `release-held`, `normalize-operator`,
`check-config`), whose messages name a failed batch that the redrive reads from the stream again.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Literal

import typer

from callhook_admin.models.deadletter import DeadLetterQueue, QueueListing, RedriveReport
from callhook_admin.services.deadletters import list_dead_letters, redrive
from callhook_cli import wiring
from callhook_cli.context import State, state
from callhook_cli.errors import CliError

dlq_app = typer.Typer(help="Dead-letter queues: failed asynchronous invocations, listed and redriven.",
                      no_args_is_help=True)


class QueueName(StrEnum):
    RECORDINGS = "recordings"
    TRANSCRIPTIONS = "transcriptions"
    EXPIRE = "expire"
    RELEASE_HELD = "release-held"
    NORMALIZE_OPERATOR = "normalize-operator"
    CHECK_CONFIG = "check-config"


# short name -> (queue Output, function Output, what a message is, kind)
QUEUES: dict[QueueName, tuple[str, str, str, Literal["async", "stream"]]] = {
    QueueName.RECORDINGS: ("RecordingCopyDeadLetterQueue", "KeepRecordingFunction",
                           "a recording copy that failed after Lambda's retries", "async"),
    QueueName.TRANSCRIPTIONS: ("TranscriptionEventsDeadLetterQueue", "TranscribeCallbackFunction",
                               "a Transcribe job-state event not delivered, or not stored after Lambda's retries",
                               "async"),
    QueueName.EXPIRE: ("ExpiredDialogsFailuresQueue", "ExpireFunction",
                       "expired dialogs whose recording, transcript or job were not deleted (a stream batch)",
                       "stream"),
    QueueName.RELEASE_HELD: ("HeldReleaseFailuresQueue", "ReleaseHeldFunction",
                             "channel saves whose held webhooks were not released (a stream batch)", "stream"),
    QueueName.NORMALIZE_OPERATOR: ("OperatorNormalizeFailuresQueue", "NormalizeOperatorFunction",
                                   "operator writes whose email_key / ext_key were not derived (a stream batch)",
                                   "stream"),
    QueueName.CHECK_CONFIG: ("ConfigCheckFailuresQueue", "CheckConfigFunction",
                             "channel or action saves that were not checked (a stream batch)", "stream"),
}
Queue = Annotated[QueueName | None, typer.Option("--queue", help="One queue (default: every queue).")]


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")


def queues(st: State, only: QueueName | None) -> list[DeadLetterQueue]:
    outputs = st.target().outputs
    chosen = [only] if only else list(QueueName)
    missing = sorted({o for q in chosen for o in QUEUES[q][:2] if o not in outputs})
    if missing:
        raise CliError(f"stack {st.target().stack_name!r} has no output(s) {', '.join(missing)}: deploy this "
                       "version of callhook (its template declares the dead-letter queues)")
    return [DeadLetterQueue(name=q.value, url=outputs[QUEUES[q][0]], function=outputs[QUEUES[q][1]],
                            holds=QUEUES[q][2], kind=QUEUES[q][3]) for q in chosen]


@dlq_app.command("list")
def dlq_list(ctx: typer.Context, queue: Queue = None,
             limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Messages shown per queue.")] = 50,
             ) -> None:
    """Each queue's depth and its messages (oldest first): when, why it failed, which dialog or job."""
    st = state(ctx)
    listings = [list_dead_letters(q, wiring.dead_letters(q.url), limit=limit) for q in queues(st, queue)]

    def render() -> None:
        for listing in listings:
            _render_listing(st, listing)

    st.out.emit([x.model_dump(mode="json") for x in listings], render)


def _render_listing(st: State, listing: QueueListing) -> None:
    q = listing.queue
    title = f"{q.name}: {listing.depth} message(s) waiting" + (
        f", {listing.in_flight} in flight" if listing.in_flight else "") + f" ({q.holds}; redrive to {q.function})"
    st.out.table(title, ["sent_at", "message_id", "from", "subject", "error", "received"],
                 [(m.sent_at, m.message_id, m.source, m.subject, m.error, m.receive_count) for m in listing.messages])
    if listing.depth:
        st.out.note(f"send them again: {st.command(f'dlq redrive --queue {q.name}')}")


@dlq_app.command("redrive")
def dlq_redrive(ctx: typer.Context, queue: Queue = None,
                limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many per queue.")]
                = None) -> None:
    """Invoke each message's function again and delete the message once that worked. An asynchronous queue's event
    is invoked asynchronously, as the original invoke (one that fails again comes back as a new message); a stream
    queue's batch is read from the stream again (kept 24 hours) and invoked synchronously, as its event source does
    (one that fails again stays, and the command says why)."""
    st = state(ctx)
    reports = [redrive(q, wiring.dead_letters(q.url), wiring.invoke_async, limit=limit,
                       stream=wiring.stream_redrive() if q.kind == "stream" else None) for q in queues(st, queue)]
    st.out.emit([r.model_dump(mode="json") for r in reports], lambda: _render_reports(st, reports))
    failed = [f for r in reports for f in r.failed]
    if failed:
        raise CliError(f"{len(failed)} message(s) could not be redriven and stay in their queue: "
                       + json.dumps([f.model_dump() for f in failed[:3]]))


def _render_reports(st: State, reports: list[RedriveReport]) -> None:
    for report in reports:
        st.out.line(f"{report.queue}: {len(report.redriven)} redriven to {report.function}, "
                    f"{len(report.failed)} failed" + (f", {report.left_new} newer left for later"
                                                     if report.left_new else ""),
                    "green" if not report.failed else "yellow")
