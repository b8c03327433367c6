"""Cheap contract tests between the code and the deployable artefacts (docs/design.md)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_core import PydanticUndefined

import callhook.errors as errors
from callhook.services.recordings import KeepRecordingSettings
from callhook.settings import CommonSettings, RecordingRequestSettings
from callhook_local.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "dialog_workflow.asl.json").read_text())


def _tasks() -> list[dict]:
    return [s for s in ASL["States"].values() if s["Type"] == "Task"]


def test_every_custom_error_equals_name_is_an_error_class() -> None:
    names = {n for t in _tasks() for rule in t.get("Retry", []) + t.get("Catch", []) for n in rule["ErrorEquals"]}
    custom = {n for n in names if not n.startswith(("States.", "Lambda."))}
    assert custom
    assert {n for n in custom if not isinstance(getattr(errors, n, None), type)} == set()


def test_every_retryable_error_is_retried_somewhere() -> None:
    retried = {n for t in _tasks() for rule in t.get("Retry", []) for n in rule["ErrorEquals"]}

    def leaves(cls: type) -> set[str]:
        subs = cls.__subclasses__()
        return {cls.__name__} if not subs else set().union(*(leaves(s) for s in subs))

    assert leaves(errors.RetryableError) - retried == set()


def test_every_task_has_a_timeout_and_a_catch() -> None:
    for name, state in ASL["States"].items():
        if state["Type"] == "Task":
            assert "TimeoutSeconds" in state, name
            assert state.get("Catch") or name == "RecordWorkflowFailure", name


def test_every_required_setting_is_in_the_template_environment() -> None:
    template = load_template()
    env = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for res in resources_of_type(template, "AWS::Serverless::Function").values():
        env |= set(res["Properties"].get("Environment", {}).get("Variables", {}))

    def settings_classes(cls: type) -> set[type]:
        return {cls}.union(*(settings_classes(s) for s in cls.__subclasses__()))

    classes = settings_classes(CommonSettings)
    assert {KeepRecordingSettings, RecordingRequestSettings} <= classes  # defined beside their services
    required = {field.alias for cls in classes for field in cls.model_fields.values()
                if field.default is PydanticUndefined and field.default_factory is None}
    assert required - env == set()
