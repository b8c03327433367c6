"""The dialog's recording and transcription sections, written with conditions because three actors race on them.

The workflow's Transcribe step, the KeepRecording function (a recording that arrives while or after the workflow
runs) and the completion function (Transcribe's event) each move the transcription forward. Two item attributes
outside the sections make the races safe, and never appear in `callhook dialog get` (the Dialog model ignores them):

* `transcription_job`: set once, by whoever claims the job. Exactly one claimer starts it; the job name is
  deterministic too, so a second StartTranscriptionJob would be refused anyway.
* `transcription_task_token`: the waiting Transcribe state's token. Whoever ends the transcription removes it in
  the same write (returning the old item), so exactly one actor answers the workflow.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from callhook.aws import client, from_item, to_value
from callhook.models.dialog import Recording, RecordingStatus, Transcription, TranscriptionStatus, Workflow
from callhook.models.transcription import JOB_ATTRIBUTE as JOB_ATTRIBUTE  # erasure reads it here
from callhook.repositories._dynamo import translated_errors
from callhook.repositories.dialogs import utc_now

TOKEN_ATTRIBUTE = "transcription_task_token"


class TranscriptionRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def set_recording(self, dialog_id: str, recording: Recording) -> bool:
        """Write the recording section. A failure never overwrites a kept recording (two copies raced)."""
        condition = "attribute_exists(dialog_id)"
        names = {"#rec": "recording"}
        values: dict[str, Any] = {":rec": to_value(recording.model_dump(mode="json"))}
        if recording.status != RecordingStatus.KEPT:
            condition += " AND NOT (#rec.#st = :kept)"
            names["#st"] = "status"
            values[":kept"] = to_value(RecordingStatus.KEPT.value)
        # An outcome (kept or refused) takes the dialog out of the recording-reconciliation index.
        ok, _ = self._update(dialog_id, "SET #rec = :rec REMOVE recording_pending, recording_requested_at", condition,
                             names, values, what="store recording")
        return ok

    def record_decision(self, dialog_id: str, transcription: Transcription, *,
                        workflow: Workflow | None = None) -> bool:
        """`not_requested`/`skipped`: written unless a job was claimed meanwhile (then that job's outcome wins).
        `workflow` (the workflow's end, when the decision answers the waiting step) goes in the same write: one
        write instead of two, and never a completed workflow without its decision."""
        condition = f"attribute_exists(dialog_id) AND attribute_not_exists({JOB_ATTRIBUTE})"
        update, names, values = "SET #t = :t", {"#t": "transcription"}, {":t": _value(transcription)}
        if workflow is not None:
            update += ", #w = :w"
            names["#w"], values[":w"] = "workflow", to_value(workflow.model_dump(mode="json"))
        ok, _ = self._update(dialog_id, update, condition, names, values, what="store transcription")
        return ok

    def park(self, dialog_id: str, waiting: Transcription, task_token: str) -> bool:
        """Keep the workflow's token while the recording is being copied; False if a job is already claimed."""
        ok, _ = self._update(
            dialog_id, f"SET #t = :t, {TOKEN_ATTRIBUTE} = :tok",
            f"attribute_exists(dialog_id) AND attribute_not_exists({JOB_ATTRIBUTE})",
            {"#t": "transcription"}, {":t": _value(waiting), ":tok": to_value(task_token)}, what="park task token")
        return ok

    def claim(self, dialog_id: str, started: Transcription, *, task_token: str | None = None,
              only_after: tuple[str, ...] = ()) -> tuple[bool, str | None]:
        """Claim the job (status `started`): True for exactly one caller. Returns (claimed, the task token now held).

        `only_after`: reason codes the current transcription must have (the late paths may only pick up a
        transcription that waited for, or was skipped for want of, a recording).
        """
        names = {"#t": "transcription"}
        values: dict[str, Any] = {":t": _value(started), ":job": to_value(started.job_name)}
        update = f"SET #t = :t, {JOB_ATTRIBUTE} = :job"
        if task_token is not None:
            update += f", {TOKEN_ATTRIBUTE} = :tok"
            values[":tok"] = to_value(task_token)
        condition = f"attribute_exists(dialog_id) AND attribute_not_exists({JOB_ATTRIBUTE})"
        if only_after:
            names |= {"#r": "reason", "#c": "code"}
            codes = [f":c{i}" for i in range(len(only_after))]
            values |= {c: to_value(code) for c, code in zip(codes, only_after, strict=True)}
            condition += f" AND #t.#r.#c IN ({', '.join(codes)})"
        ok, item = self._update(dialog_id, update, condition, names, values, what="claim transcription",
                                returns="ALL_NEW")
        return ok, (item or {}).get(TOKEN_ATTRIBUTE)

    def attach_token(self, dialog_id: str, task_token: str) -> bool:
        """Hand a newer token to a started job (a retried step, or a job the late path claimed first)."""
        ok, _ = self._update(dialog_id, f"SET {TOKEN_ATTRIBUTE} = :tok", "#t.#st = :started",
                             {"#t": "transcription", "#st": "status"},
                             {":tok": to_value(task_token), ":started": to_value(TranscriptionStatus.STARTED.value)},
                             what="attach task token")
        return ok

    def finish(self, dialog_id: str, final: Transcription, *, over_timeout: bool = False,
               ) -> tuple[bool, str | None, dict[str, Any] | None]:
        """End a started transcription; returns (applied, the token to answer, the item before).

        `over_timeout`: a transcript that arrives after the wait timed out still lands (it replaces that failure).
        """
        names = {"#t": "transcription", "#st": "status"}
        values: dict[str, Any] = {":t": _value(final), ":started": to_value(TranscriptionStatus.STARTED.value)}
        condition = "#t.#st = :started"
        if over_timeout:
            names |= {"#r": "reason", "#c": "code"}
            values |= {":failed": to_value(TranscriptionStatus.FAILED.value), ":timeout": to_value("timeout")}
            condition = f"({condition} OR (#t.#st = :failed AND #t.#r.#c = :timeout))"
        ok, old = self._update(dialog_id, f"SET #t = :t REMOVE {TOKEN_ATTRIBUTE}", condition, names, values,
                               what="finish transcription", returns="ALL_OLD")
        return ok, (old or {}).get(TOKEN_ATTRIBUTE), old

    def resolve_waiting(self, dialog_id: str, final: Transcription, waiting_code: str) -> tuple[bool, str | None]:
        """End a transcription that waited for its recording without a job (the copy failed, or time ran out)."""
        ok, old = self._update(
            dialog_id, f"SET #t = :t REMOVE {TOKEN_ATTRIBUTE}",
            f"#t.#r.#c = :waiting AND attribute_not_exists({JOB_ATTRIBUTE})",
            {"#t": "transcription", "#r": "reason", "#c": "code"},
            {":t": _value(final), ":waiting": to_value(waiting_code)}, what="end waiting transcription",
            returns="ALL_OLD")
        return ok, (old or {}).get(TOKEN_ATTRIBUTE)

    def _update(self, dialog_id: str, update: str, condition: str, names: dict[str, str], values: dict[str, Any], *,
                what: str, returns: str = "NONE") -> tuple[bool, dict[str, Any] | None]:
        names = names | {"#u": "updated_at"}
        values = values | {":u": to_value(utc_now())}
        set_part, _, remove_part = update.partition(" REMOVE ")
        expression = f"{set_part}, #u = :u" + (f" REMOVE {remove_part}" if remove_part else "")
        try:
            with translated_errors(what):
                resp = client("dynamodb").update_item(
                    TableName=self.table, Key={"dialog_id": {"S": dialog_id}}, UpdateExpression=expression,
                    ConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                    ReturnValues=returns)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False, None
            raise
        attributes = resp.get("Attributes")
        return True, from_item(attributes) if attributes else None


def _value(transcription: Transcription) -> Any:
    return to_value(transcription.model_dump(mode="json"))
