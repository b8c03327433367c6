"""moto_speedups change no result: the engine's JSONPaths evaluate as before, each parsed once (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.utils import json_path

from callhook_local import moto_speedups

DATA: dict[str, Any] = {"dialog_id": "d-1", "enrichment": {"status": "ok", "topic": None},
                        "items": [{"n": 1, "k": "a"}, {"n": 2, "k": "b"}, {"n": 3, "k": "c"}]}
PATHS = ["$", "$.dialog_id", "$.enrichment.status", "$.enrichment.topic", "$.items[1]", "$.items[*].n",
         "$.items[0:2].k", "$.items[?(@.n > 1)].k", "$..k"]


def _evaluate(paths: list[str]) -> list[Any]:
    results: list[Any] = []
    for path in paths:
        try:
            results.append(json_path.extract_json(path, DATA))
        except json_path.NoSuchJsonPathError as exc:
            results.append(("missing", str(exc)))
    return results


def test_json_paths_evaluate_as_before_and_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given what moto's own code answers, and a count of jsonpath_ng parses
    expected = _evaluate([*PATHS, "$.nowhere"])
    assert expected[-1][0] == "missing"
    parses: list[str] = []
    original = json_path.parse.__wrapped__ if hasattr(json_path.parse, "__wrapped__") else json_path.parse

    def counting_parse(path: str) -> Any:
        parses.append(path)
        return original(path)

    monkeypatch.setattr(json_path, "parse", counting_parse)
    # When the JSONPath cache is put over it and every path is evaluated three times
    moto_speedups._cache_json_paths()
    results = [_evaluate([*PATHS, "$.nowhere"]) for _ in range(3)]
    # Then every answer is moto's own (a missing path still raises, each time), and each path was parsed once
    assert results == [expected] * 3
    assert sorted(parses) == sorted([*PATHS, "$.nowhere"])


def test_result_path_writes_into_the_state_input_as_before() -> None:
    # Given the speedups installed (idempotent) and a ResultPath parsed twice
    moto_speedups.install()
    state_input = {"dialog_id": "d-1", "enrichment": {"status": "ok"}}
    # When a task result is placed under $.enrichment.result twice
    first = result_path.parse("$.enrichment.result").update_or_create(dict(state_input), {"a": 1})
    second = result_path.parse("$.enrichment.result").update_or_create({"dialog_id": "d-2"}, {"b": 2})
    # Then each write lands in its own input (the parsed path holds no data between uses)
    assert first == {"dialog_id": "d-1", "enrichment": {"status": "ok", "result": {"a": 1}}}
    assert second == {"dialog_id": "d-2", "enrichment": {"result": {"b": 2}}}
