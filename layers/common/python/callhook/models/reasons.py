"""Reason codes: one StrEnum per workflow section, written by its step and read back by `dialog explain`.

A dialog stores them as plain strings (`assignment.reason.code`, `topic_resolution.reason.code`,
`transcription.reason.code`); these enums are the one list of what each step can say, so a step and
`dialog explain` (cli/callhook_admin/services/diagnosis.py, with its own rows and conclusions: ExplainSymptom,
ExplainCause) cannot drift apart on a spelling.
"""

from __future__ import annotations

from enum import StrEnum


class AssignmentReason(StrEnum):
    """`assignment.reason.code` and each `assignment.attempts[].code`."""

    MATCHED = "matched"
    OPERATOR_INACTIVE = "operator_inactive"
    OPERATOR_INVALID = "operator_invalid"
    NO_SUCH_OPERATOR = "no_such_operator"
    NO_EMAIL_RETURNED = "no_email_returned"
    NO_OPERATOR_IN_WEBHOOK = "no_operator_in_webhook"
    ENRICHMENT_FAILED = "enrichment_failed"
    ENRICHMENT_FAILED_ASSIGN_ADMIN = "enrichment_failed_assign_admin"


class TopicReason(StrEnum):
    """`topic_resolution.reason.code`."""

    ENRICHMENT_DISABLED = "enrichment_disabled"
    ENRICHMENT_FAILED = "enrichment_failed"
    NO_TOPIC_RETURNED = "no_topic_returned"
    NO_SUCH_TOPIC = "no_such_topic"


class TranscriptionReason(StrEnum):
    """`transcription.reason.code`."""

    AUTO_TRANSCRIPTION_OFF = "auto_transcription_off"
    ENRICHMENT_FAILED_DO_NOT_ASSIGN = "enrichment_failed_do_not_assign"
    NO_OPERATOR = "no_operator"
    NO_RECORDING = "no_recording"
    RECORDING_NOT_KEPT = "recording_not_kept"
    WAITING_FOR_RECORDING = "waiting_for_recording"
    TRANSCRIBE_REJECTED = "transcribe_rejected"
    JOB_FAILED = "transcribe_job_failed"
    TRANSCRIPT_UNREADABLE = "transcript_unreadable"
    TIMEOUT = "timeout"


class ExplainSymptom(StrEnum):
    """`callhook dialog explain`: the rows of the seed's common-problems table (`findings[].symptom`)."""

    OPERATOR_NOT_ASSIGNED = "operator_not_assigned"
    TOPIC_NOT_SET = "topic_not_set"
    REAL_CALL_DIFFERS = "action_test_works_real_call_does_not"
    ENRICHED_FIELDS_MISSING = "enriched_fields_missing"


class ExplainCause(StrEnum):
    """`dialog explain`'s own cause codes (`findings[].causes[].code`): what it concludes from a dialog beyond the
    reason a step stored, which it passes on as that step's code."""

    EMAIL_MATCHES_NO_OPERATOR = "email_matches_no_operator"
    EXT_MATCHES_NO_OPERATOR = "ext_matches_no_operator"
    TOPIC_ALIAS_UNKNOWN = "topic_alias_unknown"
    MAPPING_LEFT_FIELDS_EMPTY = "mapping_left_fields_empty"
    MAPPING_WARNINGS = "mapping_warnings"
    ACTION_PLACEHOLDER_EMPTY = "action_placeholder_empty"
    MAPPED_FIELDS_EMPTY = "mapped_fields_empty"
    RESULT_KEYS_EMPTY = "result_keys_empty"
    ENRICHMENT_ERROR = "enrichment_error"
    UNKNOWN = "unknown"  # a stored reason with a code no step writes (kept in the cause's evidence as `code`)


CauseCode = AssignmentReason | TopicReason | TranscriptionReason | ExplainCause
"""Every code a `dialog explain` cause can carry: a step's own reason, or one of explain's conclusions."""


def cause_code(code: str | None) -> CauseCode:
    """The enum member a stored reason code is; `ExplainCause.UNKNOWN` for none or one no step writes."""
    kinds: tuple[type[CauseCode], ...] = (AssignmentReason, TopicReason, TranscriptionReason, ExplainCause)
    for kind in kinds:
        if code is not None and code in kind._value2member_map_:
            return kind(code)
    return ExplainCause.UNKNOWN
