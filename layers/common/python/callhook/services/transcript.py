"""Transcribe's output, read: bytes in, the dialog's text and speaker turns out (capped for the 400 KB item), and
the minutes Transcribe bills. Pure: no AWS, no clock; `tests/unit/test_transcript.py` and
`test_transcription_formats.py` prove it on Transcribe's own output shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from callhook.models.dialog import Transcription

# The dialog item is capped at 400 KB: text, turns and the feed entry each get at most this many characters; the
# full transcript stays in the bucket (`transcript_s3_key`).
MAX_TEXT_CHARS = 60_000


@dataclass(frozen=True)
class TranscriptContent:
    """What the dialog keeps of a transcript: `truncated` when text or turns were cut to the caps."""

    text: str
    turns: list[dict[str, Any]]
    language: str | None
    truncated: bool


def read_transcript(body: bytes, *, roles: dict[str, str] | None = None) -> TranscriptContent:
    """The transcript object's bytes -> what the dialog keeps; each channel's turns say their role (`roles`, by
    channel number) when one is given.

    Raises:
        ValueError, KeyError, TypeError: not Transcribe's output JSON (the caller records `transcript_unreadable`).
    """
    text, turns, language = parse_transcript(json.loads(body))
    for turn in turns:
        channel = str(turn["speaker"]).removeprefix("ch_")
        if roles and channel in roles and str(turn["speaker"]).startswith("ch_"):
            turn["role"] = roles[channel]
    short_text, text_cut = _cap(text)
    kept_turns, turns_cut = _cap_turns(turns)
    return TranscriptContent(text=short_text, turns=kept_turns, language=language, truncated=text_cut or turns_cut)


def parse_transcript(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    """Transcribe's output JSON -> (text, speaker turns, language code).

    Turns come from each item's `speaker_label` (speaker separation) or `channel_label` (channel identification);
    older outputs keep the labels only in `speaker_labels.segments` / `channel_labels.channels`, read as well.
    Punctuation items join the word before them.
    """
    results = document["results"]
    text = " ".join(t.get("transcript", "") for t in results.get("transcripts", [])).strip()
    items = _labelled_items(results)
    turns: list[dict[str, Any]] = []
    for item in items:
        content = (item.get("alternatives") or [{}])[0].get("content", "")
        if not content:
            continue
        speaker = item.get("speaker_label") or item.get("channel_label") or (turns[-1]["speaker"] if turns else "spk_0")
        if item.get("type") == "punctuation":
            if turns:
                turns[-1]["text"] += content
            continue
        start, end = float(item.get("start_time", 0)), float(item.get("end_time", 0))
        if turns and turns[-1]["speaker"] == speaker:
            turns[-1]["text"] += " " + content
            turns[-1]["end_s"] = end
        else:
            turns.append({"speaker": speaker, "start_s": start, "end_s": end, "text": content})
    language = results.get("language_code") or document.get("language_code")
    return text, turns, language


def feed_text(final: Transcription) -> str:
    """The feed's transcript entry: who said what when the turns have roles, else the text."""
    if any("role" in turn for turn in final.turns):
        return _cap("\n".join(f"{turn.get('role', turn['speaker'])}: {turn['text']}" for turn in final.turns))[0]
    return final.text or "(no speech was recognised)"


def audio_minutes(before: dict[str, Any] | None, final: Transcription) -> float | None:
    """What Transcribe bills: the recording's length (its container's, else the call's duration, else where the
    last recognised word ends)."""
    recording = (before or {}).get("recording") or {}
    telephony = (before or {}).get("telephony") or {}
    seconds = recording.get("duration_s") or telephony.get("duration") or max(
        (float(t.get("end_s") or 0) for t in final.turns), default=0.0)
    return round(float(seconds) / 60, 3) if seconds else None


def _labelled_items(results: dict[str, Any]) -> list[dict[str, Any]]:
    items = list(results.get("items", []))
    if any("speaker_label" in i or "channel_label" in i for i in items):
        return items
    channels = (results.get("channel_labels") or {}).get("channels") or []
    if channels:
        merged = [{**i, "channel_label": ch.get("channel_label")} for ch in channels for i in ch.get("items", [])]
        return sorted(merged, key=lambda i: float(i.get("start_time", 0) or 0))
    segments = (results.get("speaker_labels") or {}).get("segments") or []
    spans = [(float(s["start_time"]), float(s["end_time"]), s["speaker_label"]) for s in segments]
    for item in items:
        if "start_time" in item:
            start = float(item["start_time"])
            item["speaker_label"] = next((label for a, b, label in spans if a <= start <= b), None)
    return items


def _cap(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= MAX_TEXT_CHARS else (text[:MAX_TEXT_CHARS].rsplit(" ", 1)[0] + " …", True)


def _cap_turns(turns: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    kept: list[dict[str, Any]] = []
    used = 0
    for turn in turns:
        used += len(turn["text"]) + 40
        if used > MAX_TEXT_CHARS:
            return kept, True
        kept.append(turn)
    return kept, False
