"""Issue 13, finding 7: a Task's TimeoutSeconds must be strictly above its function's Lambda Timeout, or the state
times out (States.Timeout, no Retry of the function's own error) while the function may still be running and
writing; with a margin, a slow function ends as a Lambda timeout the Retry/Catch of the state sees."""

from __future__ import annotations

import json
import re
from typing import Any

from callhook_local.template import ROOT, load_template

MARGIN_S = 5  # invoke overhead and a cold start on top of the function's own Timeout


def _tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        if state.get("Type") == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found |= _tasks(branch)
        if "Iterator" in state:
            found |= _tasks(state["Iterator"])
    return found


def test_every_lambda_task_times_out_after_its_function() -> None:
    template = load_template()
    default = int(template["Globals"]["Function"].get("Timeout", 3))
    machine = template["Resources"]["DialogWorkflow"]["Properties"]
    definition = json.loads((ROOT / machine["DefinitionUri"]).read_text())
    function_of = {key: value["Fn::GetAtt"][0] for key, value in machine["DefinitionSubstitutions"].items()
                   if isinstance(value, dict) and "Fn::GetAtt" in value}
    checked, too_short = [], []
    for name, task in _tasks(definition).items():
        placeholder = re.fullmatch(r"\$\{(\w+)\}", str(task.get("Parameters", {}).get("FunctionName", "")))
        if not placeholder or placeholder.group(1) not in function_of:
            continue
        logical = function_of[placeholder.group(1)]
        timeout = int(template["Resources"][logical]["Properties"].get("Timeout", default))
        checked.append(name)
        if int(task.get("TimeoutSeconds", 60)) < timeout + MARGIN_S:
            too_short.append(f"{name}: TimeoutSeconds {task.get('TimeoutSeconds')} vs {logical} Timeout {timeout}")
    assert len(checked) >= 7, checked
    assert too_short == []
