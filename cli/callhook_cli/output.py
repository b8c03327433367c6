"""How commands print: rich tables and panels for people, one JSON document for scripts (``--json``).

Data never goes through rich markup (a provider's body may contain ``[brackets]``): cells are ``Text``.
Secrets are masked here, in one place, unless ``--show-secrets``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import typer
from rich.console import Console, RenderableType
from rich.json import JSON
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

MASK = "********"
PIPE_WIDTH = 160
_SECRET_WORDS = ("secret", "token", "password", "key")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def mask_channel(item: dict[str, Any]) -> dict[str, Any]:
    """A channel item with its credentials hidden: webhook_token and every secret-like key of `signature`."""
    shown = dict(item)
    if shown.get("webhook_token"):
        shown["webhook_token"] = MASK
    signature = shown.get("signature")
    if isinstance(signature, dict):
        shown["signature"] = {k: (MASK if is_secret_name(k) and v else v) for k, v in signature.items()}
    return shown


_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


def _masked_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, MASK if is_secret_name(k) and v else v) for k, v in pairs], safe="*")


def mask_raw_event(item: dict[str, Any]) -> dict[str, Any]:
    """A raw event with anything credential-like in its stored request hidden.

    Ingest strips credentials before it keeps a request; this guards what an older version kept (a header-token
    scheme's header, a token sent as a query parameter), so that printing events never leaks one.
    """
    request = item.get("request")
    if not isinstance(request, dict):
        return item
    shown = dict(request)
    headers = shown.get("headers")
    if isinstance(headers, dict):
        shown["headers"] = {k: (MASK if (is_secret_name(k) or k.lower() in _CREDENTIAL_HEADERS) and v else v)
                            for k, v in headers.items()}
    if shown.get("raw_query"):
        shown["raw_query"] = _masked_query(str(shown["raw_query"]))
    url = str(shown.get("url") or "")
    if "?" in url:
        base, query = url.split("?", 1)
        shown["url"] = f"{base}?{_masked_query(query)}"
    return {**item, "request": shown}


def cell(value: Any) -> Text:
    """A table cell: text as-is (no markup), None as a dim dash."""
    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no", style="green" if value else "yellow")
    return Text(str(value))


class Output:
    """Per invocation: `--json` decides the form, `--show-secrets` whether credentials are printed."""

    def __init__(self, *, json_mode: bool = False, show_secrets: bool = False) -> None:
        self.json_mode = json_mode
        self.show_secrets = show_secrets
        # Piped or captured output has no terminal width; tables of ids and timestamps need more than 80 columns.
        width = None if Console().is_terminal else PIPE_WIDTH
        self.console = Console(highlight=False, soft_wrap=False, width=width)
        self.stderr = Console(stderr=True, highlight=False, width=width)

    # ------------------------------------------------------------------ emitting
    def emit(self, data: Any, render: Callable[[], None] | None = None) -> None:
        """`data` as JSON with --json; otherwise `render()` (or the data as highlighted JSON)."""
        if self.json_mode:
            self.print_json(data)
        elif render is not None:
            render()
        else:
            self.pretty_json(data)

    def print_json(self, data: Any) -> None:
        typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))

    def pretty_json(self, data: Any) -> None:
        self.console.print(JSON(json.dumps(data, default=str, ensure_ascii=False), indent=2))

    def print(self, *renderables: RenderableType | str) -> None:
        self.console.print(*renderables)

    def line(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""))

    def note(self, text: str) -> None:
        """A hint for people, on stderr so that it never mixes with output a script parses."""
        if not self.json_mode:
            self.stderr.print(Text(text, style="dim"))

    # ------------------------------------------------------------------ building blocks
    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(cell(v) for v in row))
        self.console.print(table)

    def fields(self, title: str, pairs: Sequence[tuple[str, Any]], *, style: str = "cyan") -> None:
        """A panel of `name: value` lines (a channel, an action run, an execution)."""
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        for name, value in pairs:
            grid.add_row(Text(name), value if isinstance(value, Text) else cell(value))
        self.console.print(Panel(grid, title=Text(title), title_align="left", border_style=style))

    def channel(self, item: dict[str, Any]) -> dict[str, Any]:
        return item if self.show_secrets else mask_channel(item)
