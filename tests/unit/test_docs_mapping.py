"""docs/mapping.md's table of functions, evaluated: each row whose input and result are literal values runs its
mapping on a body holding that input, with callhook's own JMESPath functions. The docs cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from callhook.mapping import search

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def rows() -> list[tuple[str, Any, str]]:
    found = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        sent, mapping, result = cells
        value, expected = re.search(r"`([^`]+)`", sent), re.fullmatch(r"`([^`]+)`", result)
        if value is None or expected is None:
            continue  # a row that describes rather than shows (read in the channel's zone; seconds)
        found.append((mapping.strip("`").strip(), _literal(value.group(1)), expected.group(1)))
    return found


def _literal(text: str) -> Any:
    if text.isdigit():
        return int(text)
    return text.strip('"')


def _body(expression: str, value: Any) -> dict[str, Any]:
    """A body with `value` at the path of the expression's first argument (`data.started_at`)."""
    path = re.match(r"\w+\(([\w.]+)", expression).group(1)  # type: ignore[union-attr]
    body: dict[str, Any] = {}
    node = body
    *parents, leaf = path.split(".")
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value
    return body


def test_the_table_has_its_rows() -> None:
    assert len(rows()) >= 9


@pytest.mark.parametrize(("expression", "value", "expected"), rows())
def test_each_documented_mapping_gives_its_documented_result(expression: str, value: Any, expected: str) -> None:
    assert str(search(expression, _body(expression, value))) == expected
