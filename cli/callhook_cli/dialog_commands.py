"""What happened to a call: dialogs (get, find, list, replay, explain, erase), raw events (list, replay), executions."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from callhook.errors import DialogNotFoundError, InvalidPhoneNumberError
from callhook.models.dialog import PII_MARK, Dialog
from callhook.models.erasure import ErasurePlan, ErasureRecord
from callhook_admin.errors import ExecutionStillRunningError
from callhook_admin.services.diagnosis import Diagnosis, explain_dialog
from callhook_admin.services.dialogs import find_dialog, get_dialog, list_dialogs, list_events
from callhook_admin.services.erasure import erase, plan_dialog_erasure, plan_phone_erasure
from callhook_admin.services.history import DialogHistory, ExecutionTimeline, dialog_history
from callhook_admin.services.replay import (
    EventReplay,
    replay_dialog,
    replay_event,
    replayable_events,
    wait_for_execution,
)
from callhook_cli import wiring
from callhook_cli.context import State, state
from callhook_cli.errors import USAGE, CliError
from callhook_cli.output import mask_raw_event

dialog_app = typer.Typer(help="Dialogs: one per call, with what each workflow step did and why.",
                         no_args_is_help=True)
events_app = typer.Typer(help="Raw events: authenticated webhooks kept because they could not become a dialog.",
                         no_args_is_help=True)
execution_app = typer.Typer(help="Step Functions executions of a dialog.", no_args_is_help=True)

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items per page.")]
NextToken = Annotated[str | None, typer.Option("--next", help="Continue after the previous page (its `next`).")]


def register(app: typer.Typer) -> None:
    app.add_typer(dialog_app, name="dialog")
    app.add_typer(events_app, name="events")
    app.add_typer(execution_app, name="execution")


# ------------------------------------------------------------------------------------------------------------ helpers
def parse_when(text: str, option: str) -> str:
    """ISO-8601 (a zoneless time is UTC) or a duration ago (`30m`, `2h`, `7d`) -> the dialogs' created_at form."""
    match = _RELATIVE.match(text.strip())
    try:
        if match:
            moment = datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        else:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise CliError(f"{option}: cannot read {text!r}: use ISO-8601 (2026-11-25T10:00Z) or a duration ago "
                       "(30m, 2h, 7d)", exit_code=USAGE) from exc
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise CliError("invalid --next token: pass the `next` value of the previous page as printed",
                       exit_code=USAGE) from exc
    if not isinstance(key, dict):
        raise CliError("invalid --next token: pass the `next` value of the previous page as printed",
                       exit_code=USAGE)
    return key


def _dialog_or_fail(st: State, dialog_id: str) -> Dialog:
    settings = st.target().settings
    dialog = get_dialog(wiring.dialogs(settings), dialog_id, wiring.payloads(settings))
    if dialog is None:
        raise CliError(f"no dialog {dialog_id!r}")
    return dialog


def _show_dialog(st: State, dialog: Dialog) -> None:
    """The dialog as JSON; for people highlighted, then its transcript turn by turn (who spoke, `[PII]` marked)."""
    data = dialog.model_dump(mode="json")

    def render() -> None:
        st.out.pretty_json(data)
        _show_turns(st, dialog)

    st.out.emit(data, render)


def _show_turns(st: State, dialog: Dialog) -> None:
    transcription = dialog.transcription
    if not transcription.turns:
        return
    title = "Transcript"
    if transcription.redaction:
        title += f" (PII redacted: {', '.join(transcription.redaction)})"
    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for column in ("at", "who", "said"):
        table.add_column(column, overflow="fold")
    for turn in transcription.turns:
        said = Text(str(turn.get("text", "")))
        said.highlight_words([PII_MARK], style="reverse")
        table.add_row(Text(f"{float(turn.get('start_s') or 0):.1f}s", style="dim"),
                      Text(str(turn.get("role") or turn.get("speaker") or "-"), style="bold"), said)
    st.out.print(table)


# ------------------------------------------------------------------------------------------------------------- dialog
@dialog_app.command("get")
def dialog_get(ctx: typer.Context, dialog_id: str) -> None:
    """Print a dialog (JSON)."""
    st = state(ctx)
    _show_dialog(st, _dialog_or_fail(st, dialog_id))


@dialog_app.command("find")
def dialog_find(ctx: typer.Context,
                channel: Annotated[str, typer.Option("--channel", help="The channel the call came in on.")],
                call_id: Annotated[str, typer.Option("--call-id", help="The provider's call id.")]) -> None:
    """Print the dialog of a provider's call (its id is derived from channel and call id)."""
    st = state(ctx)
    settings = st.target().settings
    dialog_id, dialog = find_dialog(wiring.dialogs(settings), channel, call_id, wiring.payloads(settings))
    if dialog is None:
        raise CliError(f"no dialog for call {call_id!r} on channel {channel!r} (it would be {dialog_id}); "
                       f"rejected webhooks are listed by `{st.command(f'events list --channel {channel}')}`")
    _show_dialog(st, dialog)


@dialog_app.command("list")
def dialog_list(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option("--channel", help="The channel.")],
    since: Annotated[str | None, typer.Option("--since", help="Created at or after: ISO-8601 or 30m/2h/7d ago.")]
    = None,
    until: Annotated[str | None, typer.Option("--until", help="Created at or before: ISO-8601 or 30m/2h/7d ago.")]
    = None,
    limit: Limit = 20,
    next_token: NextToken = None,
) -> None:
    """A channel's dialogs, newest first, through the by-channel index (paginated with --next)."""
    st = state(ctx)
    dialogs, last = list_dialogs(
        wiring.dialogs(st.target().settings), channel, since=parse_when(since, "--since") if since else None,
        until=parse_when(until, "--until") if until else None, limit=limit, start=decode_token(next_token))
    token = encode_token(last)

    def render() -> None:
        st.out.table(f"{len(dialogs)} dialog(s) on channel {channel}, newest first",
                     ["created_at", "dialog_id", "call_id", "caller", "operator", "topic", "enrichment", "assignment",
                      "transcription", "workflow"],
                     [(d.created_at, d.dialog_id, d.call_id, d.telephony.caller, d.operator_id, d.topic,
                       d.enrichment.status.value, d.assignment.status.value, d.transcription.status.value,
                       d.workflow.status.value) for d in dialogs])
        if token:
            st.out.note(f"more: {st.command(f'dialog list --channel {channel} --next {token}')}")

    st.out.emit({"items": [d.model_dump(mode="json") for d in dialogs], "next": token}, render)


@dialog_app.command("replay")
def dialog_replay(
    ctx: typer.Context,
    dialog_id: str,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the execution to end and print its status.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 120,
) -> None:
    """Run the dialog's workflow again: a new execution `<dialog_id>-r<N>` for the same dialog."""
    st = state(ctx)
    io = wiring.dialog_replay_ports(st.target().settings)
    try:
        replay = replay_dialog(dialog_id, io)
    except DialogNotFoundError as exc:
        raise CliError(str(exc)) from exc
    payload: dict[str, Any] = replay.model_dump(mode="json")
    if wait:
        try:
            payload["status"] = wait_for_execution(io.executions, replay.execution_arn, timeout)
        except ExecutionStillRunningError as exc:
            raise CliError(str(exc)) from exc

    def render() -> None:
        st.out.line(f"replay {replay.replay} of dialog {dialog_id} started: execution {replay.execution_name}",
                    "green")
        if wait:
            st.out.line(f"execution {replay.execution_name}: {payload['status']}")
        st.out.note(f"follow it: {st.command(f'execution history {dialog_id}')}")

    st.out.emit(payload, render)
    if wait and payload["status"] != "SUCCEEDED":
        raise CliError(f"execution {replay.execution_name} ended {payload['status']}: "
                       f"see `{st.command(f'execution history {dialog_id}')}`")


@dialog_app.command("erase")
def dialog_erase(
    ctx: typer.Context,
    dialog_id: Annotated[str | None, typer.Argument(help="The dialog to erase.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="With --phone: the channel.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="E.164 number: erase every dialog of --channel whose "
                                              "caller or callee it is, in any format (national ones too).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be erased; erase nothing.")] = False,
) -> None:
    """Erase a dialog, or a caller's dialogs: the items, raw events, recordings, transcripts, bodies kept in the
    bucket and Transcribe jobs; by number also the requests still waiting (held, spooled, set aside) that carry
    it, however it was written. Leaves an erasure record (ids, counts, what was searched, when, by whom; no
    number, name or email)."""
    st = state(ctx)
    if (dialog_id is None) == (channel is None and phone is None) or (dialog_id is None and not (channel and phone)):
        raise CliError("give a DIALOG_ID, or --channel C --phone +E164", exit_code=USAGE)
    target = st.target()
    if "ErasuresTable" not in target.outputs:
        raise CliError(f"stack {target.stack_name!r} has no ErasuresTable output: deploy this version of callhook "
                       "first (erasures are recorded there)")
    settings = target.settings
    where = wiring.erasure_ports(settings, target.outputs["ErasuresTable"])
    try:
        plan = plan_dialog_erasure(dialog_id, where) if dialog_id else \
            plan_phone_erasure(str(channel), str(phone), where)
    except DialogNotFoundError as exc:
        raise CliError(str(exc)) from exc
    except InvalidPhoneNumberError as exc:
        raise CliError(str(exc), exit_code=USAGE) from exc
    if dry_run:
        st.out.emit({"dry_run": True, **plan.model_dump(mode="json")}, lambda: _render_plan(st, plan))
        return
    record = erase(plan, where)
    st.out.emit(record.model_dump(mode="json"), lambda: _render_erasure(st, record))
    if record.not_deleted:
        raise CliError(f"{len(record.not_deleted)} item(s) could not be erased (run the same erase again): "
                       + "; ".join(record.not_deleted[:3]))


def _render_plan(st: State, plan: ErasurePlan) -> None:
    st.out.table(f"would erase {len(plan.dialogs)} dialog(s), {len(plan.all_raw_event_ids)} raw event(s) and "
                 f"{len(plan.spool_keys)} spooled request(s)",
                 ["dialog_id", "raw events", "objects", "transcription job"],
                 [(d.dialog_id, len(d.raw_event_ids), len(d.object_keys), d.transcription_job) for d in plan.dialogs])


def _render_erasure(st: State, record: ErasureRecord) -> None:
    st.out.fields(f"erasure {record.erasure_id}", [
        ("erased at", record.erased_at), ("by", record.erased_by), ("dialogs", len(record.dialog_ids)),
        ("raw events", len(record.raw_event_ids)), ("objects", record.objects_deleted),
        ("transcription jobs", record.transcription_jobs_deleted),
        ("spooled requests", record.spooled_requests_deleted), ("not erased", len(record.not_deleted))],
        style="green" if not record.not_deleted else "yellow")
    if not record.dialog_ids and not record.raw_event_ids:
        st.out.note("nothing matched; the request is recorded all the same")


@dialog_app.command("explain")
def dialog_explain(ctx: typer.Context, dialog_id: str) -> None:
    """The seed's common problems, answered for this dialog: whether each applies, and the evidence."""
    st = state(ctx)
    try:
        diagnosis = explain_dialog(dialog_id, wiring.explain_ports(st.target().settings))
    except DialogNotFoundError as exc:
        raise CliError(str(exc)) from exc
    payload = diagnosis.model_dump(mode="json") | {"applying": [f.symptom for f in diagnosis.applying]}
    st.out.emit(payload, lambda: _render_diagnosis(st, diagnosis))


def _render_diagnosis(st: State, diagnosis: Diagnosis) -> None:
    header = [("channel", diagnosis.channel_id), ("call", diagnosis.call_id), ("workflow", diagnosis.workflow_status)]
    header += [("note", n) for n in diagnosis.notes]
    st.out.fields(f"dialog {diagnosis.dialog_id}", header)
    for finding in diagnosis.findings:
        mark = Text("✗ applies", style="bold red") if finding.applies else Text("✓ no", style="green")
        st.out.print(Text.assemble(mark, "  ", (finding.title, "bold"), "  ", (f"({finding.check})", "dim")))
        if not finding.causes:
            st.out.print(Text(f"    {finding.summary}"))
        for cause in finding.causes:
            st.out.print(Text.assemble("    • ", (cause.code, "yellow"), ": ", cause.message))
            for key, value in cause.evidence.items():
                if value not in (None, [], {}):
                    shown = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
                    st.out.print(Text(f"        {key}: {shown}", style="dim"))


# ------------------------------------------------------------------------------------------------------------- events
@events_app.command("list")
def events_list(ctx: typer.Context,
                channel: Annotated[str, typer.Option("--channel", help="The channel.")],
                set_aside: Annotated[bool, typer.Option(
                    "--set-aside", help="Only kept requests set aside for a reason of their own (and spooled "
                                        "objects moved aside in the bucket).")] = False,
                limit: Limit = 50, next_token: NextToken = None) -> None:
    """A channel's raw events, newest first: rejected ones with their reason, held ones (the channel item is
    invalid; they become dialogs once it is fixed) and what they became, early updates, replayed ones, kept
    requests set aside with their reason (credentials masked unless --show-secrets)."""
    st = state(ctx)
    settings = st.target().settings
    events, last = list_events(wiring.events(settings), channel, limit=limit, start=decode_token(next_token),
                               set_aside=set_aside)
    unreadable = wiring.spool(settings).set_aside_keys() if set_aside else []
    token = encode_token(last)
    more = " --set-aside" if set_aside else ""

    def render() -> None:
        st.out.table(f"{len(events)} raw event(s) on channel {channel}, newest first",
                     ["received_at", "event_id", "kind", "status", "reason", "message", "dialog_id"],
                     [(e.received_at, e.event_id, e.kind.value, e.status_code, e.reason, e.message, e.dialog_id)
                      for e in events])
        if unreadable:
            st.out.note(f"{len(unreadable)} spooled object(s), of any channel, could not be processed nor kept as a "
                        f"raw event and were moved aside in the bucket as they were (the reason is in each object's "
                        f"metadata): {', '.join(unreadable)}")
        if token:
            st.out.note(f"more: {st.command(f'events list --channel {channel}{more} --next {token}')}")

    items = [e.model_dump(mode="json") for e in events]
    body: dict[str, object] = {"items": items if st.out.show_secrets else [mask_raw_event(i) for i in items],
                               "next": token}
    if set_aside:
        body["unreadable_spool_objects"] = unreadable
    st.out.emit(body, render)


@events_app.command("replay")
def events_replay(
    ctx: typer.Context,
    event_id: Annotated[str | None, typer.Argument(help="The raw event to replay.")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every rejected event of --channel.")] = False,
    channel: Annotated[str | None, typer.Option("--channel", help="With --all: the channel.")] = None,
) -> None:
    """Run kept requests through ingest again (e.g. after fixing the mapping): a 422'd event becomes a dialog."""
    st = state(ctx)
    if (event_id is None) == (not replay_all):
        raise CliError("give an EVENT_ID, or --all --channel C", exit_code=USAGE)
    if replay_all and not channel:
        raise CliError("--all needs --channel C", exit_code=USAGE)
    settings = st.target().settings
    io = wiring.event_replay_ports(settings)
    if event_id is not None:
        result = replay_event(event_id, io, settings)
        st.out.emit(result.model_dump(mode="json"), lambda: _render_replays(st, [result]))
        if result.outcome == "rejected":
            raise CliError(f"event {event_id} is still rejected: {result.reason}: {result.message}")
        return
    pending = replayable_events(io.events, str(channel))
    results: list[EventReplay] = []
    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=st.out.stderr, transient=True, disable=st.out.json_mode) as progress:
        task = progress.add_task("replay", total=len(pending))
        for event in pending:
            results.append(replay_event(event.event_id, io, settings))
            progress.advance(task)
    st.out.emit([r.model_dump(mode="json") for r in results], lambda: _render_replays(st, results))
    rejected = [r for r in results if r.outcome == "rejected"]
    if rejected:
        reasons = sorted({str(r.reason) for r in rejected})
        raise CliError(f"{len(rejected)} of {len(results)} event(s) still rejected ({', '.join(reasons)})")


def _render_replays(st: State, results: list[EventReplay]) -> None:
    st.out.table(f"{len(results)} event(s) replayed", ["event_id", "outcome", "dialog_id", "reason"],
                 [(r.event_id, r.outcome, r.dialog_id, r.message or r.reason) for r in results])


# ---------------------------------------------------------------------------------------------------------- execution
@execution_app.command("history")
def execution_history(ctx: typer.Context, dialog_id: str) -> None:
    """Every execution of the dialog: each state in order, with timing, retries, errors and causes."""
    st = state(ctx)
    target = st.target()
    history = dialog_history(dialog_id, wiring.executions(target.state_machine_arn), target.state_machine_arn)
    if not history.executions:
        _dialog_or_fail(st, dialog_id)  # a one-line "no dialog" when the id is wrong
    st.out.emit(history.model_dump(mode="json"), lambda: _render_history(st, history))


def _render_history(st: State, history: DialogHistory) -> None:
    if not history.executions:
        st.out.line(f"dialog {history.dialog_id} has no execution yet (its workflow has not started)", "yellow")
        return
    for execution in history.executions:
        _render_execution(st, execution)


_OUTCOME_STYLE = {"succeeded": "green", "caught": "yellow", "failed": "bold red", "running": "cyan"}


def _render_execution(st: State, execution: ExecutionTimeline) -> None:
    label = "first run" if execution.replay == 0 else f"replay {execution.replay}"
    took = f"{execution.duration_ms} ms" if execution.duration_ms is not None else "running"
    table = Table(title=Text(f"{execution.name} ({label}): {execution.status}, started "
                             f"{execution.started_at:%Y-%m-%d %H:%M:%S} UTC, {took}"),
                  title_justify="left", header_style="bold")
    for column in ("at", "state", "type", "took", "attempts", "outcome", "error / cause"):
        table.add_column(column, overflow="fold")
    for visit in execution.states:
        last = visit.last_error
        error = Text(f"{last.error}: {last.cause}" if last and last.cause else (last.error or "") if last else "")
        table.add_row(Text(f"+{visit.offset_ms} ms"), Text(visit.name), Text(visit.type),
                      Text(f"{visit.duration_ms} ms" if visit.duration_ms is not None else "-"),
                      Text(str(len(visit.attempts)) + (f" ({visit.retries} retried)" if visit.retries else "")
                           if visit.attempts else "-"),
                      Text(visit.outcome, style=_OUTCOME_STYLE.get(visit.outcome, "")), error)
        for attempt in visit.attempts[:-1] if visit.retries else []:
            if attempt.outcome == "failed":
                table.add_row("", Text(f"  attempt {attempt.number}", style="dim"), "",
                              Text(f"{attempt.duration_ms} ms", style="dim"), "", Text("failed", style="dim"),
                              Text(f"{attempt.error}: {attempt.cause}", style="dim"))
    st.out.print(table)
    if execution.error:
        st.out.line(f"  execution {execution.status}: {execution.error}: {execution.cause}", "red")
