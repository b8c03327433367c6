"""The local stack's transcription engine (pocketsphinx 5 behind the Transcribe API, issue 4): real-time factor and
word error rate on generated speech (`flite -voice rms`, resampled with `sox` to 16 kHz and to the 8 kHz of
telephony), then webhook -> transcript on the local stack. Target: real-time factor <= 0.3 on 2 cores.
Run: `make bench` or `.venv/bin/python -m bench.transcription` (needs the Debian packages flite and sox).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.common import free_port, machine, quiet_functions, summary_ms, write_result

SENTENCES = [
    "Hello, I am calling about my internet connection.",
    "Please call me back tomorrow morning.",
    "I would like to cancel my subscription.",
    "The delivery was supposed to arrive last week.",
    "Can you tell me the balance of my account?",
    "My phone number changed and I need to update it.",
    "Thank you for your help, have a nice day.",
    "I am waiting for a refund for the broken printer.",
]
RATES = (16000, 8000)
END_TO_END_CALLS = 10
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio" / "call-16k.wav"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def words_of(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions (word-level Levenshtein distance)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def synthesize(text: str, rate: int, workdir: Path) -> bytes:
    raw, out = workdir / "raw.wav", workdir / f"speech-{rate}.wav"
    subprocess.run(["flite", "-voice", "rms", "-t", text, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True)
    return out.read_bytes()


def engine_rows() -> tuple[float, list[str], dict[int, tuple[float, float, int, int]]]:
    from callhook_local.transcribe import Recognizer, read_wav

    recognizer = Recognizer()
    load_s = recognizer.load()
    rows: list[str] = []
    totals: dict[int, tuple[float, float, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in RATES:
            audio_s = busy_s = 0.0
            errors = words = 0
            for sentence in SENTENCES:
                audio = read_wav(synthesize(sentence, rate, Path(tmp)))
                started = time.perf_counter()
                heard = [w.text for w in recognizer.words(audio)]
                elapsed = time.perf_counter() - started
                reference = words_of(sentence)
                wrong = word_errors(reference, heard)
                audio_s, busy_s = audio_s + audio.duration_s, busy_s + elapsed
                errors, words = errors + wrong, words + len(reference)
                rows.append(f"| {rate // 1000} kHz | {sentence} | {' '.join(heard)} | {audio.duration_s:.2f} | "
                            f"{elapsed / audio.duration_s:.3f} | {wrong}/{len(reference)} |")
            totals[rate] = (audio_s, busy_s, errors, words)
    return load_s, rows, totals


def end_to_end() -> tuple[dict[str, float], int]:
    """POST a call whose recording is the committed 16 kHz fixture; time until its execution ended."""
    quiet_functions()
    from callhook.models.dialog import make_dialog_id
    from callhook_admin.services.config import put_channel, put_operator
    from callhook_local.fake_pbx import start_fake_pbx
    from callhook_local.stack import LocalStack

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench-tr").start()
    pbx = start_fake_pbx()
    durations: list[float] = []
    completed = 0
    try:
        env, sfn, dialogs = stack.env, stack.client("stepfunctions"), stack.client("dynamodb")
        put_operator(env["OPERATORS_TABLE"], {"user_id": 17, "email": "ann@example.com"})
        token = uuid.uuid4().hex
        put_channel(env["CHANNELS_TABLE"], {
            "channel_id": "bench-tr", "webhook_token": token, "auto_transcription": True,
            "allow_private_network": True, "advanced_config": {"field_mapping": {
                "call_id": "id", "operator_email": "email", "recording_url": "recording"}}})
        pbx.add_recording("bench.wav", FIXTURE.read_bytes())
        machine_arn = stack.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
        for i in range(END_TO_END_CALLS + 1):  # the first one loads the model: not counted
            call_id = f"tr-{i}-{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            answer = requests.post(f"{stack.api_url}/webhooks/bench-tr", timeout=60,
                                   headers={"X-Webhook-Token": token},
                                   json={"id": call_id, "email": "ann@example.com",
                                         "recording": f"{pbx.url}/recordings/bench.wav"})
            assert answer.status_code == 200, answer.text
            dialog_id = make_dialog_id("bench-tr", call_id)
            while sfn.describe_execution(executionArn=f"{machine_arn}:{dialog_id}")["status"] not in TERMINAL:
                time.sleep(0.01)
            if i:
                durations.append(time.perf_counter() - started)
            item = dialogs.get_item(TableName=env["DIALOGS_TABLE"], Key={"dialog_id": {"S": dialog_id}})["Item"]
            completed += item["transcription"]["M"]["status"]["S"] == "completed"
    finally:
        pbx.stop()
        stack.stop()
    return summary_ms(durations), completed - 1


def main() -> int:
    missing = [tool for tool in ("flite", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"bench.transcription needs {' and '.join(missing)}: `make sysdeps` (apt-get install flite sox)")
        return 1
    load_s, rows, totals = engine_rows()
    e2e, completed = end_to_end()
    summary = "\n".join(
        f"| {rate // 1000} kHz mono 16-bit | {len(SENTENCES)} | {audio:.1f} | {busy:.2f} | **{busy / audio:.3f}** | "
        f"**{100 * errors / words:.1f} %** ({errors}/{words}) |"
        for rate, (audio, busy, errors, words) in totals.items())
    write_result("transcription", f"""## Transcription engine (bench/transcription.py)
Machine: {machine()}. The local stack's engine: pocketsphinx 5.1.1 (its bundled US-English model), one thread,
decoding each recording as one utterance after pure-Python resampling to 16 kHz; speech generated with
`flite -voice rms` and resampled with `sox`. Real-time factor = decoding time / audio duration (lower is faster).
Model load: {load_s:.2f} s, once per local stack.

| input | sentences | audio s | decoding s | real-time factor | word error rate |
|---|---|---|---|---|---|
{summary}

Target: real-time factor <= 0.3 on 2 cores.

Per sentence:

| input | spoken | recognised | audio s | RTF | word errors |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Webhook -> transcript on the local stack ({END_TO_END_CALLS} calls one after another, each with the 5.7 s
`call-16k.wav` recording served by the fake PBX; from the POST until the execution ended with the transcript:
copy, workflow, StartTranscriptionJob, engine, EventBridge completion, task token):

| n | median ms | p95 ms | transcripts completed |
|---|---|---|---|
| {e2e['n']} | {e2e['p50']:.0f} | {e2e['p95']:.0f} | {completed}/{END_TO_END_CALLS} |
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
