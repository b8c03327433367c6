"""Adapters behind a bundle of ports that several composition roots share, built in one place.

Transcribe, TranscribeCallback and KeepRecording (which continues transcription once a recording is kept) all hand
transcription the same adapters; each function's `app.py` still decides when to build them (once per sandbox)."""

from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoChannels
from callhook.repositories.transcribe import AmazonTranscribe, S3Transcripts, StepFunctionsTaskTokens
from callhook.repositories.transcriptions import TranscriptionRepository
from callhook.services.transcription import TranscriptionPorts


def transcription_ports(*, dialogs_table: str, channels_table: str, recordings_bucket: str) -> TranscriptionPorts:
    """The AWS adapters transcription decides over: dialogs and their conditional transcription writes, channels,
    Amazon Transcribe, the transcripts in the recordings bucket and Step Functions' task tokens."""
    return TranscriptionPorts(
        dialogs=DialogRepository(dialogs_table), store=TranscriptionRepository(dialogs_table),
        channels=DynamoChannels(channels_table), jobs=AmazonTranscribe(),
        transcripts=S3Transcripts(recordings_bucket), tokens=StepFunctionsTaskTokens())
