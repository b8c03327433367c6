"""`callhook dialog explain`: the seed's "common problems" table, answered for one dialog.

Each workflow step stores why it decided what it did (``assignment.reason``/``attempts``, ``topic_resolution.reason``,
``enrichment.error``, ``mapping_warnings``, ``telephony.raw``). This module reads those reasons back and states, for
each symptom of the table, whether it applies to the dialog and the evidence: the values compared, the expressions
that found nothing, the error text. It adds what only the current configuration can say (the operator's stored
email, whether a topic exists now, which fields the action's request needs), and names it as current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callhook.errors import ActionNotFoundError, ChannelConfigError, DialogNotFoundError
from callhook.mapping import map_telephony
from callhook.models.action import Action, HttpAction, placeholders
from callhook.models.call import CANONICAL_FIELDS
from callhook.models.channel import Channel, EnrichErrorAction, effective_channel
from callhook.models.dialog import (
    AssignmentSource,
    AssignmentStatus,
    Dialog,
    EnrichmentStatus,
    Reason,
    TopicStatus,
    WorkflowStatus,
)
from callhook.models.directory import Operator
from callhook.models.reasons import (
    AssignmentReason,
    CauseCode,
    ExplainCause,
    ExplainSymptom,
    TopicReason,
    TranscriptionReason,
    cause_code,
)
from callhook.ports import Actions, Channels, Operators, PayloadReader, Topics
from callhook.services.payloads import with_raw
from callhook_admin.ports import DialogLookup

OPERATOR_NOT_ASSIGNED = ExplainSymptom.OPERATOR_NOT_ASSIGNED
TOPIC_NOT_SET = ExplainSymptom.TOPIC_NOT_SET
REAL_CALL_DIFFERS = ExplainSymptom.REAL_CALL_DIFFERS
ENRICHED_FIELDS_MISSING = ExplainSymptom.ENRICHED_FIELDS_MISSING

# The seed's table, row by row: (symptom, what to check).
SYMPTOMS: dict[ExplainSymptom, tuple[str, str]] = {
    OPERATOR_NOT_ASSIGNED: ("Operator was not assigned",
                            "The email in telephony matches the user email, and the user is active."),
    TOPIC_NOT_SET: ("Topic was not set",
                    "The topic with the required alias exists, and the alias returned by the action is identical."),
    REAL_CALL_DIFFERS: ("Action test works, real call does not",
                        "The real webhook may use different field names. Update field mapping in Advanced Config."),
    ENRICHED_FIELDS_MISSING: ("Dialog exists, but enriched fields are missing",
                              "Check action logic and external system parameters. An enrichment error does not block "
                              "dialog creation."),
}
MAX_RAW_KEYS = 60


class Cause(BaseModel):
    """One reason a symptom applies, with the values that show it."""

    model_config = ConfigDict(extra="forbid")

    code: CauseCode  # a step's reason code (models/reasons.py), or one of explain's own (ExplainCause)
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class Finding(BaseModel):
    """One row of the common-problems table for this dialog."""

    model_config = ConfigDict(extra="forbid")

    symptom: ExplainSymptom
    title: str
    check: str
    applies: bool
    summary: str
    causes: list[Cause] = Field(default_factory=list)


class Diagnosis(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dialog_id: str
    channel_id: str
    call_id: str
    workflow_status: str
    notes: list[str] = Field(default_factory=list)  # what limits the answer (workflow still running, channel gone)
    findings: list[Finding]

    @property
    def applying(self) -> list[Finding]:
        return [f for f in self.findings if f.applies]


OperatorLookup = Callable[[int], Operator | None]
TopicLookup = Callable[[str], bool]


@dataclass(frozen=True)
class ExplainPorts:
    """What `explain_dialog` reads: the dialog, and the current configuration it used (read fresh)."""

    dialogs: DialogLookup
    channels: Channels
    actions: Actions
    operators: Operators
    topics: Topics
    payloads: PayloadReader  # a provider's body too large for the item


def explain_dialog(dialog_id: str, io: ExplainPorts) -> Diagnosis:
    """Load the dialog and the current configuration it used, and diagnose it.

    Raises:
        DialogNotFoundError: no such dialog.
    """
    dialog = io.dialogs.get(dialog_id)
    if dialog is None:
        raise DialogNotFoundError(f"no dialog {dialog_id!r}")
    dialog = with_raw(dialog, io.payloads)
    notes: list[str] = []
    channel: Channel | None = None
    try:
        stored = io.channels.get(dialog.channel_id)
        if stored is None:
            notes.append(f"channel {dialog.channel_id!r} no longer exists: its mapping cannot be compared")
        else:
            channel = effective_channel(stored)  # the mapping ingest applies: the preset's, with the admin's on top
    except ChannelConfigError as exc:
        notes.append(f"the channel item is invalid now: {exc}")
    action = None
    if dialog.policy.enrich_action:
        try:
            action = io.actions.get(dialog.policy.enrich_action)
        except ActionNotFoundError as exc:
            notes.append(f"{exc.message} (now)")
    diagnosis = diagnose(
        dialog, channel=channel, action=action,
        operator_lookup=io.operators.get, topic_lookup=io.topics.exists,
    )
    diagnosis.notes[:0] = notes
    return diagnosis


def diagnose(dialog: Dialog, *, channel: Channel | None, action: Action | None, operator_lookup: OperatorLookup,
             topic_lookup: TopicLookup) -> Diagnosis:
    """Every symptom of the table for `dialog`; `channel` and `action` are the current items (None if gone)."""
    notes = []
    status = dialog.workflow.status
    if status in (WorkflowStatus.PENDING, WorkflowStatus.RUNNING):
        notes.append(f"the workflow is {status.value}: steps that have not run yet show as not decided")
    elif status == WorkflowStatus.FAILED:
        error = dialog.workflow.error or {}
        notes.append(f"a workflow step failed ({error.get('Error')}): later steps did not run; "
                     "see `callhook execution history`")
    findings = [
        _operator_finding(dialog, action, operator_lookup),
        _topic_finding(dialog, action, topic_lookup),
        _mapping_finding(dialog, channel, action),
        _enrichment_finding(dialog, action),
    ]
    return Diagnosis(dialog_id=dialog.dialog_id, channel_id=dialog.channel_id, call_id=dialog.call_id,
                     workflow_status=status.value, notes=notes, findings=findings)


def _finding(symptom: ExplainSymptom, applies: bool, summary: str, causes: list[Cause] | None = None) -> Finding:
    title, check = SYMPTOMS[symptom]
    return Finding(symptom=symptom, title=title, check=check, applies=applies, summary=summary, causes=causes or [])


# ------------------------------------------------------------------------------------------------ operator assignment
def _operator_finding(dialog: Dialog, action: Action | None, operator_lookup: OperatorLookup) -> Finding:
    assignment = dialog.assignment
    if assignment.status == AssignmentStatus.PENDING:
        return _finding(OPERATOR_NOT_ASSIGNED, False, "not decided yet: the AssignOperator step has not run")
    if assignment.status == AssignmentStatus.ASSIGNED and assignment.source == AssignmentSource.DEFAULT_OPERATOR:
        # assign_admin did what it promises: an operator is assigned, so the symptom does not apply; why it is the
        # default one is said here, the error itself once, under the enrichment row.
        why = (f"the default operator, because enrichment failed and enrich_error_action is "
               f"{dialog.policy.enrich_error_action.value}")
        if _extra(assignment.reason).get("operator_known") is False:
            return _finding(OPERATOR_NOT_ASSIGNED, True, f"operator {assignment.operator_id} was assigned as {why}, "
                            "but no operator has that user_id", [Cause(
                                code=AssignmentReason.NO_SUCH_OPERATOR,
                                message=f"the default operator {assignment.operator_id} "
                                        "(setting telephony_autotranscribe_default_operator_id) is not a stored "
                                        "operator: add it, or set the setting to one that is",
                                evidence={"operator_id": assignment.operator_id})])
        return _finding(OPERATOR_NOT_ASSIGNED, False, f"operator {assignment.operator_id} assigned: {why}")
    if assignment.status == AssignmentStatus.ASSIGNED:
        source = assignment.source.value if assignment.source else "?"
        return _finding(OPERATOR_NOT_ASSIGNED, False, f"operator {assignment.operator_id} assigned (from {source})")
    causes: list[Cause] = []
    if _code(assignment.reason) == AssignmentReason.ENRICHMENT_FAILED:
        causes.append(_enrichment_failed_cause(dialog, with_evidence=False))
    enrichment = dialog.enrichment
    email_returned = (enrichment.result or {}).get("operator_email")
    if enrichment.status == EnrichmentStatus.OK and not email_returned:
        causes.append(Cause(
            code=AssignmentReason.NO_EMAIL_RETURNED,
            message="the enrich action returned no operator_email" + (
                f" (its result.operator_email {action.result['operator_email']!r} matched nothing in the answer)"
                if action and "operator_email" in action.result else " (the action maps no result.operator_email)"),
            evidence={"action_id": enrichment.action_id, "result": enrichment.result,
                      "result_expression": action.result.get("operator_email") if action else None}))
    for attempt in assignment.attempts:
        if attempt.code != AssignmentReason.MATCHED:
            causes.append(_attempt_cause(attempt, operator_lookup))
    if not assignment.attempts and _code(assignment.reason) == AssignmentReason.NO_OPERATOR_IN_WEBHOOK:
        causes.append(Cause(code=AssignmentReason.NO_OPERATOR_IN_WEBHOOK,
                            message=assignment.reason.message if assignment.reason else "",
                            evidence={"operator_email": None, "operator_ext": None}))
    summary = "; ".join(c.message for c in causes) or (assignment.reason.message if assignment.reason else
                                                          "no operator was assigned")
    if not causes and assignment.reason is not None:
        causes.append(_stored_cause(assignment.reason))
    return _finding(OPERATOR_NOT_ASSIGNED, True, summary, causes)


def _attempt_cause(attempt: Reason, operator_lookup: OperatorLookup) -> Cause:
    evidence = _extra(attempt)
    source = evidence.get("source", "?")
    if attempt.code == AssignmentReason.OPERATOR_INACTIVE:
        operators = [operator_lookup(int(i)) for i in evidence.get("operator_ids", [])]
        evidence["operators"] = [{"user_id": o.user_id, "email": o.email, "active": o.active} for o in operators if o]
        stored = ", ".join(f"{o.user_id} <{o.email}>" for o in operators if o)
        return Cause(code=AssignmentReason.OPERATOR_INACTIVE, evidence=evidence,
                     message=f"the {source} email {_compared(evidence)} belongs to inactive operator(s) "
                             f"{stored or evidence.get('operator_ids')}")
    if attempt.code == AssignmentReason.NO_SUCH_OPERATOR and "ext" in evidence:
        return Cause(code=ExplainCause.EXT_MATCHES_NO_OPERATOR, evidence=evidence,
                     message=f"the webhook's operator_ext {evidence['ext']!r} matches no operator's ext")
    if attempt.code == AssignmentReason.NO_SUCH_OPERATOR:
        return Cause(code=ExplainCause.EMAIL_MATCHES_NO_OPERATOR, evidence=evidence,
                     message=f"the {source} email {_compared(evidence)} matches no operator")
    return _stored_cause(attempt, evidence)


# ------------------------------------------------------------------------------------------------------------- topic
def _topic_finding(dialog: Dialog, action: Action | None, topic_lookup: TopicLookup) -> Finding:
    resolution = dialog.topic_resolution
    if resolution.status == TopicStatus.PENDING:
        return _finding(TOPIC_NOT_SET, False, "not decided yet: the SetTopic step has not run")
    if resolution.status == TopicStatus.SET:
        return _finding(TOPIC_NOT_SET, False, f"topic {resolution.alias!r} set")
    reason, code = resolution.reason, _code(resolution.reason)
    if code == TopicReason.NO_SUCH_TOPIC:
        evidence = _extra(reason) if reason else {}
        alias = evidence.get("alias", resolution.alias)
        nearest = evidence.get("nearest") or []
        evidence["exists_now"] = bool(alias) and topic_lookup(str(alias))
        message = f"the action returned the alias {alias!r} and no topic has it (aliases are compared exactly)"
        message += f"; nearest existing aliases: {', '.join(map(repr, nearest))}" if nearest else "; no alias is close"
        if evidence["exists_now"]:
            message += "; a topic with this alias exists now: `callhook dialog replay` sets it"
        cause = Cause(code=ExplainCause.TOPIC_ALIAS_UNKNOWN, message=message, evidence=evidence)
    elif code == TopicReason.NO_TOPIC_RETURNED:
        expression = action.result.get("topic") if action else None
        cause = Cause(code=TopicReason.NO_TOPIC_RETURNED, evidence={"result": dialog.enrichment.result,
                                                          "result_expression": expression},
                      message="the enrich action returned no topic" + (
                          f" (its result.topic {expression!r} matched nothing in the answer)" if expression
                          else " (the action maps no result.topic)"))
    elif code == TopicReason.ENRICHMENT_FAILED:
        cause = _enrichment_failed_cause(dialog, with_evidence=False)
    elif code == TopicReason.ENRICHMENT_DISABLED:
        cause = Cause(code=TopicReason.ENRICHMENT_DISABLED, message="enrichment is disabled for this call: topics "
                      "come only from the enrich action (set the channel's webhook_enrich_action)")
    else:
        cause = _stored_cause(reason) if reason else Cause(code=ExplainCause.UNKNOWN, message="no topic was set")
    return _finding(TOPIC_NOT_SET, True, cause.message, [cause])


# ----------------------------------------------------------------------------------------------------------- mapping
def _mapping_finding(dialog: Dialog, channel: Channel | None, action: Action | None) -> Finding:
    """Fields the call needed and the mapping left empty (the real webhook names them differently).

    A field matters when the action's request uses it, or the workflow would have used it: the webhook's operator
    fields when no operator came from enrichment, the recording URL when the call was to be transcribed. Other
    mapped fields that are empty are reported without making the symptom apply: many providers leave some out of
    some events (a recording URL that comes in a later event, an extension they do not know).
    """
    telephony = dialog.telephony
    config = channel.advanced_config if channel else None
    mapped = set(config.field_mapping) if config else set()
    needed = dict.fromkeys(_telephony_placeholders(action), "the action's request")
    needed |= {f: "the workflow" for f in _needed_by_workflow(dialog, mapped) if f not in needed}
    empty = sorted(f for f in (mapped | set(needed)) if f in CANONICAL_FIELDS and getattr(telephony, f) is None)
    expressions = {f: config.mapping_for(f) if config else f for f in empty}
    raw_keys = key_paths(telephony.raw)
    keys_text = ", ".join(raw_keys[:20]) + (" ..." if len(raw_keys) > 20 else "")
    blocking, other = [f for f in empty if f in needed], [f for f in empty if f not in needed]
    causes: list[Cause] = []
    if blocking:
        now = _fields_mapped_now(dialog, channel, blocking)
        message = "the mapping left " + ", ".join(
            f"{f} (from {expressions[f]!r}, needed by {needed[f]})" for f in blocking) + \
            f" empty; the webhook body has the keys {keys_text}"
        if now:
            message += f"; the channel's current mapping fills {', '.join(sorted(now))} for new calls"
        causes.append(Cause(code=ExplainCause.MAPPING_LEFT_FIELDS_EMPTY, message=message, evidence={
            "empty_fields": {f: expressions[f] for f in blocking}, "needed_by": {f: needed[f] for f in blocking},
            "raw_keys": raw_keys, "filled_by_current_mapping": now}))
    if dialog.mapping_warnings:
        causes.append(Cause(code=ExplainCause.MAPPING_WARNINGS, evidence={
            "warnings": [w.model_dump(mode="json") for w in dialog.mapping_warnings]},
            message="values the mapping could not use: " + "; ".join(
                f"{w.field}: {w.reason}" for w in dialog.mapping_warnings)))
    error = dialog.enrichment.error or {}
    if dialog.enrichment.status == EnrichmentStatus.FAILED and error.get("code") == "template":
        causes.append(Cause(code=ExplainCause.ACTION_PLACEHOLDER_EMPTY, message=str(error.get("message")), evidence={
            "placeholder": error.get("placeholder"), "raw_keys": raw_keys}))
    applies = bool(causes)
    if other:
        causes.append(Cause(code=ExplainCause.MAPPED_FIELDS_EMPTY, evidence={
            "empty_fields": {f: expressions[f] for f in other}, "raw_keys": raw_keys},
            message="mapped but empty in this call, and not needed by the action or the workflow: " + ", ".join(
                f"{f} (from {expressions[f]!r})" for f in other) + f"; the webhook body has the keys {keys_text}"))
    if applies:
        return _finding(REAL_CALL_DIFFERS, True, causes[0].message, causes)
    checked = sorted((mapped | set(needed)) - set(other))
    summary = (f"every field the action and the workflow needed has a value ({', '.join(checked)})" if checked
               else "the channel maps no fields explicitly and the action uses none")
    return _finding(REAL_CALL_DIFFERS, False, summary, causes)


def _needed_by_workflow(dialog: Dialog, mapped: set[str]) -> list[str]:
    """The webhook fields a step would have used for this call, had they had a value: the operator fields the
    admin maps (assignment falls back to them), the recording URL of a call to transcribe."""
    needed: list[str] = []
    email = (dialog.enrichment.result or {}).get("operator_email")
    webhook_fallback = dialog.enrichment.status == EnrichmentStatus.DISABLED or (
        dialog.enrichment.status == EnrichmentStatus.OK and not email)
    if webhook_fallback and dialog.assignment.status == AssignmentStatus.NOT_ASSIGNED:
        needed += [f for f in ("operator_email", "operator_ext") if f in mapped]
    if dialog.policy.auto_transcription and _code(dialog.transcription.reason) == TranscriptionReason.NO_RECORDING:
        needed.append("recording_url")
    return needed


def _telephony_placeholders(action: Action | None) -> list[str]:
    if not isinstance(action, HttpAction):
        return []
    spec = action.request
    paths = placeholders([spec.url, spec.headers, spec.query, spec.json_body])
    return sorted({p.split(".")[1] for p in paths if p.startswith("telephony.")})


def _fields_mapped_now(dialog: Dialog, channel: Channel | None, fields: list[str]) -> dict[str, Any]:
    """Which empty fields the channel's mapping, as it is now, finds in the stored body (a fix already made)."""
    if channel is None:
        return {}
    config = channel.advanced_config
    telephony, _ = map_telephony(dialog.telephony.raw, config.field_mapping, timezone=config.timezone,
                                 default_region=config.default_region)
    if telephony is None:
        return {}
    return {f: getattr(telephony, f) for f in fields if getattr(telephony, f) is not None}


def key_paths(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """The body's keys as JMESPath-style paths (`callDetails.employeeData.email`), for writing a mapping."""
    if not isinstance(value, dict) or depth > 4:
        return []
    paths: list[str] = []
    for key, child in value.items():
        path = f"{prefix}{key}" if str(key).isidentifier() else f'{prefix}"{key}"'
        paths.append(path)
        if isinstance(child, dict):
            paths += key_paths(child, path + ".", depth + 1)
        elif isinstance(child, list) and child and isinstance(child[0], dict):
            paths += key_paths(child[0], path + "[0].", depth + 1)
        if len(paths) >= MAX_RAW_KEYS:
            break
    return paths[:MAX_RAW_KEYS]


# -------------------------------------------------------------------------------------------------------- enrichment
def _enrichment_finding(dialog: Dialog, action: Action | None) -> Finding:
    enrichment = dialog.enrichment
    if enrichment.status == EnrichmentStatus.DISABLED:
        return _finding(ENRICHED_FIELDS_MISSING, False,
                        "enrichment is disabled for this call (the channel had no webhook_enrich_action)")
    if enrichment.status == EnrichmentStatus.PENDING:
        return _finding(ENRICHED_FIELDS_MISSING, False, "not decided yet: the Enrich step has not finished")
    if enrichment.status == EnrichmentStatus.FAILED:
        cause = _enrichment_failed_cause(dialog)
        return _finding(ENRICHED_FIELDS_MISSING, True, cause.message, [cause])
    result = enrichment.result or {}
    mapped = list(action.result) if action else [k for k in ("operator_email", "topic", "recording_url") if k in result]
    missing = [k for k in mapped if result.get(k) is None and (result.get("extra") or {}).get(k) is None]
    if not missing:
        return _finding(ENRICHED_FIELDS_MISSING, False, f"the action {enrichment.action_id} returned every key it maps")
    cause = Cause(code=ExplainCause.RESULT_KEYS_EMPTY, evidence={
        "action_id": enrichment.action_id, "empty": {k: action.result.get(k) if action else None for k in missing},
        "result": result},
        message=f"the action {enrichment.action_id} answered, but " + ", ".join(
            f"{k} ({action.result[k]!r})" if action else k for k in missing)
        + " found nothing in its answer: check the action's result mapping and the external system's data")
    return _finding(ENRICHED_FIELDS_MISSING, True, cause.message, [cause])


def _enrichment_failed_cause(dialog: Dialog, *, with_evidence: bool = True) -> Cause:
    """Enrichment's error and the policy that followed. Several rows have it as their cause; the error and its
    evidence are given once (`with_evidence`, the enrichment row), the others name the outcome only."""
    error = dict(dialog.enrichment.error or {})
    policy = dialog.policy.enrich_error_action
    notice = next((e.text for e in dialog.feed if e.code == "enrichment_failed"), None)
    if policy == EnrichErrorAction.ASSIGN_ADMIN:
        outcome = (f"the default operator {dialog.assignment.operator_id} was assigned"
                   if dialog.assignment.status == AssignmentStatus.ASSIGNED
                   else "the default operator was to be assigned")
    else:
        outcome = "the call was left unassigned, without transcription"
    if not with_evidence:
        return Cause(code=ExplainCause.ENRICHMENT_ERROR,
                     message=f"enrichment failed (its error is under \"{SYMPTOMS[ENRICHED_FIELDS_MISSING][0]}\"); "
                             f"enrich_error_action is {policy.value}: {outcome}")
    return Cause(
        code=ExplainCause.ENRICHMENT_ERROR,
        message=f"enrichment failed ({error.get('type', 'error')}: {error.get('message', 'no detail stored')}); "
                f"enrich_error_action is {policy.value}: {outcome}",
        evidence={"action_id": dialog.enrichment.action_id, "error": error, "enrich_error_action": policy.value,
                  "feed_notice": notice})


def _compared(evidence: dict[str, Any]) -> str:
    return f"{evidence.get('email')!r} (compared as {evidence.get('compared_as')!r})"


def _stored_cause(reason: Reason, evidence: dict[str, Any] | None = None) -> Cause:
    """A step's stored reason as a cause, under its own code (an unrecognised one is kept in the evidence)."""
    code = cause_code(reason.code)
    evidence = _extra(reason) if evidence is None else evidence
    if code == ExplainCause.UNKNOWN and reason.code != ExplainCause.UNKNOWN:
        evidence = {"code": reason.code, **evidence}
    return Cause(code=code, message=reason.message, evidence=evidence)


def _code(reason: Reason | None) -> str | None:
    return reason.code if reason else None


def _extra(reason: Reason | None) -> dict[str, Any]:
    return dict(reason.model_extra or {}) if reason else {}
