"""Spoken-command latency: end of speech -> parsed command, on real espeak-ng speech.

Prints one JSON object. For each command the audio is already in memory (as it is when the
microphone stops), and the clock runs from there through Whisper and the command parser. The
baseline, timed in the same run and alternated with ours so CPU contention hits both alike, is
openai-whisper's own `transcribe()` with the same prompt (30-second window, beam-free defaults
with temperature fallback) followed by the same normalisation and parser. Model conversion and
load are timed separately; the app loads in the background (`Transcriber.start_loading`). With
energy end-of-speech detection instead of push-to-talk, the detector's silence wait
(`EndpointConfig.end_silence_ms`) comes on top; it is reported, not added.

Wall-clock seconds are what a user waits; on a shared machine they include time other processes
took, so the CPU seconds this process used are reported beside them (with one thread they are the
wall time the same work takes on an idle core).

    python benchmarks/speech_latency.py                 # 2 threads, tiny.en, 3 repeats
    python benchmarks/speech_latency.py --threads 1 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from _machine import cpu_name
from parsers import CommandParser
from parsers.audio import EndpointConfig, load_audio
from parsers.speech import COMMAND_PROMPT, SpeechConfig, Transcriber, normalise_transcript

# (text, espeak-ng voice, words per minute): about two seconds each, several voices.
COMMANDS = [
    ("raise her eyebrows a little", "en-us", 150),
    ("open the mouth wide", "en-gb", 140),
    ("drag one twenty, eighty to one forty, ninety", "en-us+f3", 200),
    ("turn the head to the left", "en-gb-x-rp", 150),
    ("make the nose smaller", "en-us+m3", 130),
    ("undo", "en-us", 150),
]


def speak_all(folder: Path) -> list[tuple[str, Path]]:
    clips = []
    for i, (text, voice, speed) in enumerate(COMMANDS):
        out = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
        clips.append((text, out))
    return clips


def whisper_baseline(transcriber: Transcriber, parser: CommandParser, samples) -> tuple[str, str]:
    result = transcriber.load().transcribe(samples, language="en", fp16=False, initial_prompt=COMMAND_PROMPT,
                                           verbose=None)
    text = normalise_transcript(result["text"])
    return text, parser.parse(text).command


def ours(transcriber: Transcriber, parser: CommandParser, clip) -> tuple[str, str]:
    text = transcriber.transcribe(clip).text
    return text, parser.parse(text).command


def timed(fn, *args) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def summary(wall: list[float], cpu: list[float]) -> dict:
    ordered = sorted(wall)
    return {"median_s": round(statistics.median(ordered), 3), "max_s": round(ordered[-1], 3),
            "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
            "median_cpu_s": round(statistics.median(cpu), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="tiny.en")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        converting = Transcriber(SpeechConfig(model=args.model, cache_dir=tmp, weights=None, allow_download=False))
        converting.load()
        convert_and_load = time.perf_counter() - start
        transcriber = Transcriber(SpeechConfig(model=args.model, cache_dir=tmp, weights=None, allow_download=False))
        transcriber.load()
        parser = CommandParser()
        start = time.perf_counter()
        parser.parse("open the mouth")
        parser_first = time.perf_counter() - start
        clips = [(text, load_audio(path)) for text, path in speak_all(tmp)]

        per_clip = []
        totals = {"ours": ([], []), "base": ([], [])}
        for text, clip in clips:
            ours(transcriber, parser, clip)  # warm-up: first-call allocations
            runs = {"ours": ([], []), "base": ([], [])}
            for _ in range(args.repeats):
                (heard, command), wall, cpu = timed(ours, transcriber, parser, clip)
                runs["ours"][0].append(wall)
                runs["ours"][1].append(cpu)
                (base_heard, base_command), wall, cpu = timed(whisper_baseline, transcriber, parser, clip.samples)
                runs["base"][0].append(wall)
                runs["base"][1].append(cpu)
            for key in runs:
                totals[key][0].extend(runs[key][0])
                totals[key][1].extend(runs[key][1])
            per_clip.append({"said": text, "audio_s": round(clip.seconds, 2), "heard": heard, "command": command,
                             "latency": summary(*runs["ours"]), "baseline_heard": base_heard,
                             "baseline_command": base_command, "baseline_latency": summary(*runs["base"])})

    hangover = EndpointConfig().end_silence_ms / 1000
    report = {
        "benchmark": "speech_latency",
        "machine": {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": args.model,
        "weights": transcriber.weights.describe(),
        "repeats": args.repeats,
        "model_convert_and_load_s": round(convert_and_load, 3),
        "model_load_s": round(transcriber.load_seconds, 3),
        "parser_first_parse_s": round(parser_first, 3),
        "end_of_speech_to_command": summary(*totals["ours"]),
        "baseline_whisper_transcribe": summary(*totals["base"]),
        "speedup_median_wall": round(statistics.median(totals["base"][0]) / statistics.median(totals["ours"][0]), 2),
        "speedup_median_cpu": round(statistics.median(totals["base"][1]) / statistics.median(totals["ours"][1]), 2),
        "endpoint_silence_wait_s": hangover,
        "target_s": 1.0,
        "meets_target_push_to_talk_wall": statistics.median(totals["ours"][0]) <= 1.0,
        "per_command": per_clip,
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
