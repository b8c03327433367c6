"""Reason codes: one StrEnum per workflow section, written by its step and read back by `dialog explain`.

A dialog stores them as plain strings (`assignment.reason.code`, `topic_resolution.reason.code`,
`transcription.reason.code`); these enums are the one list of what each step can say, so a step and
`services/diagnosis.py` cannot drift apart on a spelling.
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
