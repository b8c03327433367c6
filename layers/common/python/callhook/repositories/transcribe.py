"""Adapters of the transcription ports (`callhook.ports`): Amazon Transcribe's jobs, the transcript objects in S3 and
the Step Functions task tokens the Transcribe state waits on. boto3 lives here; the errors are translated once
(`callhook.aws_errors.translated`): throttling and transport faults become DependencyUnavailableError, and the
answers a step decides on (a job that exists, a refusal, an unknown job, a missing object, a dead token) become
values.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from callhook.aws import client
from callhook.aws_errors import error_code, translated
from callhook.errors import DependencyUnavailableError, TranscriptMissingError
from callhook.models.transcription import JobStart, TranscribeJob
from callhook.observability import logger

# SendTaskSuccess to a wait that already ended (timed out, or answered): the dialog says what happened.
DEAD_TOKEN_CODES = frozenset({"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"})


class AmazonTranscribe:
    """StartTranscriptionJob and GetTranscriptionJob."""

    def start(self, request: dict[str, object]) -> JobStart:
        try:
            with translated("StartTranscriptionJob"):
                client("transcribe").start_transcription_job(**request)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ConflictException":
                return JobStart(outcome="exists")
            message = exc.response.get("Error", {}).get("Message", "")
            return JobStart(outcome="refused", message=f"Transcribe refused the job ({code}): {message}".strip())
        return JobStart(outcome="started")

    def get(self, job_name: str) -> TranscribeJob:
        try:
            with translated("GetTranscriptionJob"):
                job = client("transcribe").get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
        except ClientError as exc:
            if error_code(exc) in ("BadRequestException", "NotFoundException"):
                return TranscribeJob(name=job_name, status="FAILED",
                                     failure_reason=f"the job {job_name} is unknown to Transcribe")
            raise
        return TranscribeJob(name=job_name, status=job.get("TranscriptionJobStatus"),
                             failure_reason=job.get("FailureReason"), language_code=job.get("LanguageCode"),
                             redacted="RedactedTranscriptFileUri" in (job.get("Transcript") or {}))


@dataclass(frozen=True)
class S3Transcripts:
    """The transcript objects Transcribe writes into the recordings bucket."""

    bucket: str

    def read(self, key: str) -> bytes:
        """Raises TranscriptMissingError: no such object, or not ours to read; DependencyUnavailableError: else."""
        try:
            with translated("reading the transcript", "S3"):
                body = client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "404", "AccessDenied"):
                raise TranscriptMissingError(f"S3 answered {code}") from exc
            raise DependencyUnavailableError(f"reading the transcript: {code}") from exc
        return bytes(body)


class StepFunctionsTaskTokens:
    """The answers to a waiting `.waitForTaskToken` state."""

    def succeed(self, token: str, output: str) -> bool:
        """SendTaskSuccess; False when the wait already ended (the token is dead)."""
        try:
            with translated("SendTaskSuccess"):
                client("stepfunctions").send_task_success(taskToken=token, output=output)
        except ClientError as exc:
            code = error_code(exc)
            if code in DEAD_TOKEN_CODES:
                logger.warning("task token no longer waiting", code=code)
                return False
            raise DependencyUnavailableError(f"SendTaskSuccess: {code}") from exc
        return True

    def heartbeat(self, token: str) -> None:
        """A sign of life for HeartbeatSeconds. Best effort: never raises."""
        try:
            with translated("SendTaskHeartbeat"):
                client("stepfunctions").send_task_heartbeat(taskToken=token)
        except ClientError as exc:
            code = error_code(exc)
            if code in DEAD_TOKEN_CODES:
                # The usual case with a short recording: the job finished and its callback answered the wait
                # before this heartbeat; nothing is wrong, so nothing alarming is logged.
                logger.debug("heartbeat not needed: the wait already ended", code=code)
                return
            logger.warning("heartbeat not sent: the wait may time out after HeartbeatSeconds", code=code)
        except DependencyUnavailableError as exc:
            logger.warning("heartbeat not sent: the wait may time out after HeartbeatSeconds", error=str(exc))
