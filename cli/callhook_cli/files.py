"""Item files admins write: JSON (as docs/items.md shows items) or YAML, `-` for standard input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from callhook_cli.errors import CliError


def read_document(path: str) -> Any:
    """The parsed file. Raises CliError naming the file and the position of a syntax error."""
    name = "standard input" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CliError(f"no such file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {name}: {exc}") from exc
    if not text.strip():
        raise CliError(f"{name} is empty")
    if path.endswith((".yaml", ".yml")):
        return _yaml(text, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if path.endswith(".json") or text.lstrip().startswith(("{", "[")):
            raise CliError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
        return _yaml(text, name)


def read_object(path: str, what: str) -> dict[str, Any]:
    data = read_document(path)
    if not isinstance(data, dict):
        raise CliError(f"{path}: a {what} is a JSON object, not {type(data).__name__}")
    return data


def _yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise CliError(f"{name} is neither JSON nor valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
