"""Configuration items (docs/items.md): channel, operator, topic, action (with `action test`), settings.

Every `put` validates with the model the functions use (callhook.models, through callhook_admin.services.config), prints
every problem with its field path, and writes nothing when one is found. Channels and actions are versioned: a file
that carries `version` (as `get --json` prints it) is written only if nobody saved the item since; `--if-version N`
says the same explicitly. Masked secrets (`********`) in a file mean "keep the stored value", so
`get --json > f; edit f; put f` never overwrites a token with its mask.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.text import Text

from callhook.models.action import HttpAction, LambdaAction
from callhook.models.call import Telephony
from callhook.models.channel import Channel, effective_channel
from callhook.models.directory import Operator, Topic, parse_operator_id
from callhook.models.problems import InvalidItem, ItemProblem
from callhook.services.auth import TOKEN_HEADER, TOKEN_QUERY
from callhook.services.config_check import ItemKind, check_item
from callhook_admin.errors import AdminError
from callhook_admin.services.action_test import ActionTestReport, try_action
from callhook_admin.services.config import (
    Listed,
    TokenSource,
    action_item,
    channel_item,
    check_stored,
    delete_channel,
    listed_actions,
    listed_channels,
    operator,
    operator_items,
    operators_sharing_email,
    parse_setting,
    put_action,
    put_channel,
    put_operator,
    put_topic,
    restore_masked_secrets,
    set_setting,
    setting,
    setting_warning,
    settings_view,
    topic_items,
    update_operator,
    with_webhook_token,
)
from callhook_cli import wiring
from callhook_cli.context import State, state
from callhook_cli.errors import USAGE, CliError, invalid
from callhook_cli.files import read_object
from callhook_cli.output import MASK

channel_app = typer.Typer(help="Telephony channels: how one provider's webhooks become dialogs.", no_args_is_help=True)
operator_app = typer.Typer(help="Operators that calls are assigned to (matched by email or extension).",
                           no_args_is_help=True)
topic_app = typer.Typer(help="Topics (aliases the enrich action may return).", no_args_is_help=True)
action_app = typer.Typer(help="Action Jail actions: HTTP calls that enrich a call from an external system.",
                         no_args_is_help=True)
settings_app = typer.Typer(help="Instance settings.", no_args_is_help=True)

FileArg = Annotated[str, typer.Argument(help="The item as JSON or YAML; - reads standard input.", metavar="FILE")]
IfVersion = Annotated[int | None, typer.Option("--if-version", help="Write only if the stored item is still at "
                                               "this version (default: the file's own `version`, if any).")]


def register(app: typer.Typer) -> None:
    app.add_typer(channel_app, name="channel")
    app.add_typer(operator_app, name="operator")
    app.add_typer(topic_app, name="topic")
    app.add_typer(action_app, name="action")
    app.add_typer(settings_app, name="settings")


def _expected_version(data: dict[str, Any], if_version: int | None) -> int | None:
    if if_version is not None:
        return if_version
    version = data.get("version")
    if version is None:
        return None
    if isinstance(version, bool) or not str(version).isdigit():
        raise CliError(f"`version` must be a whole number (the version the item was read at), not {version!r}")
    return int(version)


# ------------------------------------------------------------------------------------------------------------ channel
def _authentication(channel: Channel) -> str:
    signature = effective_channel(channel).signature
    if signature is not None:
        return f"requests must carry a valid {signature.scheme} signature"
    header = "-".join(part.capitalize() for part in TOKEN_HEADER.split("-"))
    return f"send the token as header {header} or query parameter ?{TOKEN_QUERY}="


@channel_app.command("put")
def channel_put(ctx: typer.Context, file: FileArg, if_version: IfVersion = None,
                rotate_token: Annotated[bool, typer.Option(
                    "--rotate-token", help="Replace the webhook_token with a new one (the provider needs the new "
                    "URL). Without it, a file with no token keeps the stored one.")] = False) -> None:
    """Create or replace a channel; prints the URL for the provider. A new channel without a webhook_token gets one
    generated; a stored channel keeps its token unless the file gives one or --rotate-token is passed."""
    st = state(ctx)
    target = st.target()
    table = target.settings.channels_table
    data = read_object(file, "channel")
    current = channel_item(table, str(data["channel_id"])) if isinstance(data.get("channel_id"), str) else None
    data = restore_masked_secrets(data, current, MASK)
    expected = _expected_version(data, if_version)
    try:
        data, token_source = with_webhook_token(data, current, rotate=rotate_token)
    except AdminError as exc:
        raise CliError(str(exc), exit_code=USAGE) from exc
    generated = token_source == TokenSource.GENERATED
    try:  # the channel model is the whole check (its preset merge included), the one ingest and CheckConfig run
        saved = put_channel(table, data, expected_version=expected)
    except ValidationError as exc:
        raise invalid(f"channel in {file}", exc, Channel) from exc
    item = saved.model_dump(mode="json", exclude_none=True)
    url = target.webhook_url(saved.channel_id)
    payload: dict[str, Any] = {"channel": st.out.channel(item), "version": saved.version, "webhook_url": url,
                               "token_generated": generated, "token": token_source.value,
                               "authentication": _authentication(saved)}

    def render() -> None:
        token = item.get("webhook_token")
        shown = token if st.out.show_secrets else (MASK if token else None)
        origin = {TokenSource.GENERATED: " (generated)", TokenSource.KEPT: " (kept: the stored one)"}
        st.out.fields(f"channel {saved.channel_id} saved (version {saved.version})", [
            ("name", saved.name), ("active", saved.active),
            ("enrich action", saved.webhook_enrich_action or "(none: enrichment disabled)"),
            ("enrich error action", saved.enrich_error_action.value), ("auto transcription", saved.auto_transcription),
            ("webhook token", f"{shown}{origin.get(token_source, '')}" if shown else shown),
            ("webhook URL", Text(url, style="bold green")), ("authentication", _authentication(saved)),
        ], style="green")
        if generated and not st.out.show_secrets:
            st.out.note(f"the token is masked: `{st.command(f'--show-secrets channel get {saved.channel_id}')}` "
                        "prints it")

    st.out.emit(payload, render)


@channel_app.command("get")
def channel_get(ctx: typer.Context, channel_id: str) -> None:
    """Print a channel item (JSON, as stored; an invalid item is printed with its problems)."""
    st = state(ctx)
    target = st.target()
    item = channel_item(target.settings.channels_table, channel_id)
    if item is None:
        raise CliError(f"no channel {channel_id!r}")
    shown = st.out.channel(item)

    def render() -> None:
        st.out.pretty_json(shown)
        _print_problems(st, "channel", item)
        st.out.line(f"webhook URL: {target.webhook_url(channel_id)}")

    st.out.emit(shown, render)


def _print_problems(st: State, kind: ItemKind, item: dict[str, Any]) -> None:
    problems = check_item(kind, item).problems
    if problems:
        st.out.table(f"This item is invalid ({len(problems)} problems): its webhooks fail until it is fixed",
                     ["field", "problem"], [(p.path, p.message) for p in problems])


def _with_verdict(shown: dict[str, Any], problems: list[ItemProblem]) -> dict[str, Any]:
    """A listed item; an invalid one carries its problems (`problems`), so a listing never fails on it."""
    if not problems:
        return shown
    return shown | {"problems": [p.model_dump() for p in problems]}


def _verdict_cell(listed: Listed[Any]) -> Text:
    if listed.valid:
        return Text("yes", style="green")
    return Text("INVALID: " + ", ".join(p.path for p in listed.problems), style="bold red")


@channel_app.command("list")
def channel_list(ctx: typer.Context) -> None:
    """All channels; an invalid item is marked with the fields to fix (`channel check` says why)."""
    st = state(ctx)
    listed = listed_channels(st.target().settings.channels_table)
    items = [_with_verdict(st.out.channel(c.item), c.problems) for c in listed]
    st.out.emit(items, lambda: st.out.table(
        f"{len(items)} channel(s)", ["channel_id", "name", "active", "enrich action", "on enrich error",
                                     "auto transcription", "preset", "version", "valid"],
        [_channel_row(c) for c in listed]))


def _channel_row(listed: Listed[Channel]) -> tuple[Any, ...]:
    """A valid channel as its model reads it (defaults included); an invalid one as stored."""
    c, i = listed.model, listed.item
    if c is None:
        return (i.get("channel_id"), i.get("name"), i.get("active"), i.get("webhook_enrich_action"),
                i.get("enrich_error_action"), i.get("auto_transcription"), None, i.get("version"),
                _verdict_cell(listed))
    return (c.channel_id, c.name, c.active, c.webhook_enrich_action, c.enrich_error_action.value,
            c.auto_transcription, c.advanced_config.preset, c.version, _verdict_cell(listed))


def _check_command(st: State, kind: ItemKind, table: str, item_id: str | None) -> None:
    """`channel check` / `action check`: one line per invalid field path (the CheckConfig function logs the same),
    exit 1 when any checked item is invalid."""
    try:
        checks = check_stored(kind, table, item_id)
    except LookupError as exc:
        raise CliError(str(exc)) from exc
    invalid = [c for c in checks if not c.valid]
    payload = {"kind": kind, "checked": len(checks), "invalid": len(invalid),
               "items": [c.model_dump(mode="json") for c in checks]}

    def render() -> None:
        for check in checks:
            if check.valid:
                st.out.line(f"{kind} {check.item_id}: ok", "green")
            for problem in check.problems:
                st.out.line(f"{kind} {check.item_id}: {problem.path}: {problem.message}", "red")

    st.out.emit(payload, render)
    if invalid:
        ids = ", ".join(c.item_id for c in invalid)
        raise CliError(f"{len(invalid)} of {len(checks)} {kind}(s) invalid: {ids}")
    if not checks:
        st.out.note(f"no {kind}s stored")


@channel_app.command("check")
def channel_check(ctx: typer.Context,
                  channel_id: Annotated[str | None, typer.Argument(help="One channel (default: all).")] = None,
                  ) -> None:
    """Validate stored channels as ingest reads them (model and preset); exit 1 naming each invalid field."""
    st = state(ctx)
    _check_command(st, "channel", st.target().settings.channels_table, channel_id)


@channel_app.command("delete")
def channel_delete(ctx: typer.Context, channel_id: str,
                   yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
                   ) -> None:
    """Delete a channel: its webhooks then answer 404 (its dialogs and raw events stay)."""
    st = state(ctx)
    table = st.target().settings.channels_table
    if channel_item(table, channel_id) is None:
        raise CliError(f"no channel {channel_id!r}")
    if not yes and not typer.confirm(f"Delete channel {channel_id!r}? Its webhooks will answer 404", err=True):
        raise CliError("not deleted (confirm, or pass --yes)")
    delete_channel(table, channel_id)
    st.out.emit({"deleted": channel_id}, lambda: st.out.line(f"channel {channel_id} deleted", "green"))


# ----------------------------------------------------------------------------------------------------------- operator
@operator_app.command("put")
def operator_put(
    ctx: typer.Context,
    file: Annotated[str | None, typer.Argument(help="The operator as JSON or YAML (or give options).",
                                               metavar="[FILE]")] = None,
    user_id: Annotated[int | None, typer.Option("--user-id", help="The operator's user id (key).")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    ext: Annotated[str | None, typer.Option("--ext", help="PBX extension.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Create or update an operator, from FILE or options (options update the stored operator's other fields)."""
    st = state(ctx)
    table = st.target().settings.operators_table
    options = {k: v for k, v in {"user_id": user_id, "email": email, "name": name, "ext": ext,
                                 "active": active}.items() if v is not None}
    if file is None and user_id is None:
        raise CliError("give a FILE or --user-id (with --email for a new operator)", exit_code=2)
    try:
        if file is not None:
            saved = put_operator(table, read_object(file, "operator") | options)
        else:
            saved = update_operator(table, int(options["user_id"]), options)
    except ValidationError as exc:
        raise invalid(f"operator{' in ' + file if file else ''}", exc, Operator) from exc
    shared = operators_sharing_email(table, saved)
    dumped = saved.model_dump(mode="json")

    def render() -> None:
        st.out.fields(f"operator {saved.user_id} saved", list(dumped.items()), style="green")
        if shared:
            st.out.note(f"operators {shared} have the same email: assignment picks the lowest active user_id")

    st.out.emit(dumped | ({"same_email_as": shared} if shared else {}), render)


@operator_app.command("get")
def operator_get(ctx: typer.Context, user_id: int) -> None:
    """One operator (an invalid item is printed as stored, with its problems)."""
    st = state(ctx)
    table = st.target().settings.operators_table
    entry, item = operator(table, user_id)
    if entry is None:
        raise CliError(f"no operator with user_id {user_id}")
    if isinstance(entry, InvalidItem):
        stored = item or {}
        invalid_entry = entry

        def render_invalid() -> None:
            st.out.pretty_json(stored)
            st.out.table(f"This operator item is invalid ({len(invalid_entry.problems)} problems): calls skip it "
                         "until it is fixed", ["field", "problem"],
                         [(p.path, p.message) for p in invalid_entry.problems])

        st.out.emit(stored | {"problems": [p.model_dump() for p in entry.problems]}, render_invalid)
        return
    dumped = entry.model_dump(mode="json")
    st.out.emit(dumped, lambda: st.out.fields(f"operator {user_id}", list(dumped.items())))


def _invalid_operator_row(entry: InvalidItem) -> dict[str, Any]:
    user_id = parse_operator_id(entry.item_id)
    return {"user_id": entry.item_id if user_id is None else user_id, "invalid": True,
            "problems": [p.model_dump() for p in entry.problems]}


@operator_app.command("list")
def operator_list(ctx: typer.Context) -> None:
    """All operators; an invalid item is marked with its problems (calls skip it) instead of failing the list."""
    st = state(ctx)
    entries = operator_items(st.target().settings.operators_table)
    data = [e.model_dump(mode="json") if isinstance(e, Operator) else _invalid_operator_row(e) for e in entries]
    st.out.emit(data, lambda: st.out.table(
        f"{len(entries)} operator(s)", ["user_id", "email", "name", "ext", "active", "valid"],
        [(e.user_id, e.email, e.name, e.ext, e.active, Text("yes", style="green")) if isinstance(e, Operator)
         else (e.item_id, None, None, None, None, Text(f"INVALID: {e.summary()}", style="bold red"))
         for e in entries]))


# -------------------------------------------------------------------------------------------------------------- topic
@topic_app.command("put")
def topic_put(
    ctx: typer.Context,
    file: Annotated[str | None, typer.Argument(help="The topic as JSON or YAML (or give options).",
                                               metavar="[FILE]")] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="What the enrich action returns (compared "
                                              "exactly).")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
) -> None:
    """Create or replace a topic."""
    st = state(ctx)
    options = {k: v for k, v in {"alias": alias, "name": name}.items() if v is not None}
    if file is None and alias is None:
        raise CliError("give a FILE or --alias", exit_code=2)
    data = (read_object(file, "topic") if file else {}) | options
    try:
        topic = put_topic(st.target().settings.topics_table, data)
    except ValidationError as exc:
        raise invalid(f"topic{' in ' + file if file else ''}", exc, Topic) from exc
    dumped = topic.model_dump(mode="json")
    st.out.emit(dumped, lambda: st.out.line(f"topic {topic.alias!r} saved", "green"))


@topic_app.command("list")
def topic_list(ctx: typer.Context) -> None:
    """All topics."""
    st = state(ctx)
    topics = topic_items(st.target().settings.topics_table)
    st.out.emit([t.model_dump(mode="json") if not isinstance(t, InvalidItem) else
                 {"alias": t.item_id, "invalid": True, "problems": [p.model_dump() for p in t.problems]}
                 for t in topics], lambda: st.out.table(
        f"{len(topics)} topic(s)", ["alias", "name"],
        [(t.item_id, Text(f"INVALID: {t.summary()}", style="bold red")) if isinstance(t, InvalidItem)
         else (t.alias, t.name) for t in topics]))


# ------------------------------------------------------------------------------------------------------------- action
@action_app.command("put")
def action_put(ctx: typer.Context, file: FileArg, if_version: IfVersion = None) -> None:
    """Create or replace an action (placeholders, secrets references and JMESPath are checked now)."""
    st = state(ctx)
    data = read_object(file, "action")
    try:
        saved = put_action(st.target().settings.actions_table, data,
                            expected_version=_expected_version(data, if_version))
    except ValidationError as exc:
        raise invalid(f"action in {file}", exc, HttpAction | LambdaAction) from exc
    dumped = saved.model_dump(mode="json", exclude_none=True)
    st.out.emit(dumped, lambda: st.out.fields(f"action {saved.action_id} saved (version {saved.version})", [
        ("type", saved.type), ("request", saved.target), ("result", ", ".join(saved.result) or "-"),
        ("secrets", ", ".join(f"{k} <- {v}" for k, v in saved.secrets.items()) or "-")], style="green"))


@action_app.command("get")
def action_get(ctx: typer.Context, action_id: str) -> None:
    """Print an action item (JSON; an invalid item is printed with its problems)."""
    st = state(ctx)
    item = action_item(st.target().settings.actions_table, action_id)
    if item is None:
        raise CliError(f"no action {action_id!r}")

    def render() -> None:
        st.out.pretty_json(item)
        _print_problems(st, "action", item)

    st.out.emit(item, render)


@action_app.command("list")
def action_list(ctx: typer.Context) -> None:
    """All actions; an invalid item is marked with the fields to fix (`action check` says why)."""
    st = state(ctx)
    listed = listed_actions(st.target().settings.actions_table)
    items = [_with_verdict(a.item, a.problems) for a in listed]
    st.out.emit(items, lambda: st.out.table(
        f"{len(items)} action(s)", ["action_id", "type", "request", "result keys", "description", "version",
                                    "valid"],
        [(a.model.action_id, a.model.type, a.model.target, ", ".join(a.model.result), a.model.description,
          a.model.version, _verdict_cell(a)) if a.model is not None else
         (a.item.get("action_id"), a.item.get("type"), "-", None, a.item.get("description"), a.item.get("version"),
          _verdict_cell(a)) for a in listed]))


@action_app.command("check")
def action_check(ctx: typer.Context,
                 action_id: Annotated[str | None, typer.Argument(help="One action (default: all).")] = None,
                 ) -> None:
    """Validate stored actions as the Enrich step reads them; exit 1 naming each invalid field."""
    st = state(ctx)
    _check_command(st, "action", st.target().settings.actions_table, action_id)


@action_app.command("test")
def action_test(
    ctx: typer.Context,
    action_id: str,
    event: Annotated[str, typer.Option("--event", help="A sample: {\"telephony\": {...}} as the Enrich step gets "
                                       "it, or (with --channel) a provider's raw webhook body.", metavar="FILE")],
    full_state: Annotated[bool, typer.Option("--full-state", help="Full state mode: the action's input also "
                                             "holds the whole dialog.")] = False,
    channel: Annotated[str | None, typer.Option("--channel", help="Use this channel: its mapping for a raw body, "
                                                "and its fields in the action's input.")] = None,
) -> None:
    """Run an action on a sample call with the Enrich step's own code; exit 1 when the action fails."""
    st = state(ctx)
    sample = read_object(event, "sample event")
    try:
        report = try_action(action_id, sample, wiring.action_test_ports(st.target().settings), channel_id=channel,
                            full_state=full_state)
    except ValidationError as exc:
        raise invalid(f"the telephony block in {event}", exc, Telephony) from exc
    st.out.emit(report.model_dump(mode="json"), lambda: _render_action_test(st, report))
    if not report.ok:
        error = report.error or {}
        retry = " (transient: Step Functions would retry it)" if error.get("retryable") else ""
        raise CliError(f"action {action_id} failed: {error.get('code')}: {error.get('message')}{retry}")


def _render_action_test(st: State, report: ActionTestReport) -> None:
    request = report.request
    rows: list[tuple[str, Any]] = [
        ("call", f"{report.telephony.get('call_id')} (channel {report.channel_id or '-'}"
                 f"{', full state' if report.full_state else ''})"),
        ("request", f"{request.method} {request.url}" if request else "(could not be rendered)"),
        *[(f"  {name}", value) for name, value in (request.headers.items() if request else [])],
    ]
    if report.mapping_warnings:
        rows.append(("mapping warnings", "; ".join(f"{w.field}: {w.reason}" for w in report.mapping_warnings)))
    if not report.ok:
        error = report.error or {}
        rows += [("error", Text(f"{error.get('type')} ({error.get('code')})", style="bold red")),
                 ("message", error.get("message")), ("retried by the workflow", error.get("retryable"))]
        st.out.fields(f"action {report.action_id}: FAILED", rows, style="red")
        return
    result = report.result.model_dump(mode="json") if report.result else {}
    rows += [("status", f"{report.status_code} in {report.elapsed_ms} ms"),
             *[(f"result.{k}", v) for k, v in result.items() if k != "extra"],
             *[(f"result.extra.{k}", v) for k, v in (result.get("extra") or {}).items()]]
    attempts = report.operator_attempts
    operator = (Text(f"operator {report.operator_id} ({attempts[-1].message})", style="green")
                if report.operator_id is not None else
                Text("; ".join(a.message for a in attempts) or "no candidate: no email returned, none in the webhook",
                     style="yellow"))
    topic = report.topic
    topic_text = (Text(f"topic {topic.alias!r}", style="green") if topic and topic.status == "set"
                  else Text(topic.reason.message if topic and topic.reason else "-", style="yellow"))
    rows += [("would assign", operator), ("would set", topic_text)]
    st.out.fields(f"action {report.action_id}: OK", rows, style="green")


# ----------------------------------------------------------------------------------------------------------- settings
@settings_app.command("get")
def settings_get(ctx: typer.Context,
                 key: Annotated[str | None, typer.Argument(help="One setting (default: all).")] = None) -> None:
    """Instance settings (a known setting that is not stored shows its default)."""
    st = state(ctx)
    table = st.target().settings.settings_table
    if key is not None:
        one = setting(table, key)
        st.out.emit(one.model_dump(mode="json"), lambda: st.out.line(
            f"{key} = {one.value!r}" + (" (default, not stored)" if one.default else "")))
        return
    values = settings_view(table)
    st.out.emit({v.key: v.value for v in values}, lambda: st.out.table(
        "settings", ["key", "value", "stored"], [(v.key, v.value, not v.default) for v in values]))


@settings_app.command("set")
def settings_set(ctx: typer.Context, key: str, value: str,
                 force: Annotated[bool, typer.Option("--force", help="Write a key callhook does not know.")] = False,
                 ) -> None:
    """Set an instance setting (e.g. telephony_autotranscribe_default_operator_id 17)."""
    st = state(ctx)
    target = st.target()
    try:
        parsed = parse_setting(key, value, force=force)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    set_setting(target.settings.settings_table, key, parsed)
    warning = setting_warning(key, parsed, target.settings.operators_table)

    def render() -> None:
        st.out.line(f"{key} = {parsed!r}", "green")
        if warning:
            st.out.note(f"warning: {warning}")

    st.out.emit({"key": key, "value": parsed} | ({"warning": warning} if warning else {}), render)
