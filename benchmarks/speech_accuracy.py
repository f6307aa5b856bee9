"""Spoken commands end to end: espeak-ng speech of held-out commands -> Whisper -> parser -> score.

    python benchmarks/speech_accuracy.py                       # the held-out set's spoken commands
    python benchmarks/speech_accuracy.py --cases tests/data/parser_fresh_2.jsonl --all --show

Each command is spoken by one of ten espeak-ng voices (accents, female and male variants) at
140-185 words per minute, after 0.3-1.2 s of leading silence, over white noise (sox), so no two
neighbouring commands sound alike. The clock runs from the end of the audio (in memory, as when
push-to-talk is released) through transcription and parsing, which is what a user waits for.
Prints one JSON object: accuracy (overall, per category), latency median/p90 (wall and CPU), and
with `--show` what was heard for each miss (leave it off on a held-out set: reading its misses
would be tuning on it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parsers import CommandParser  # noqa: E402
from parsers.audio import load_audio  # noqa: E402
from parsers.speech import SpeechConfig, Transcriber  # noqa: E402
from tests.parser_labels import HELDOUT_PATH, load_cases, mismatches  # noqa: E402
from tests.speech_audio import speak, with_noise  # noqa: E402

VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-us+m3", "en-gb-scotland", "en-029", "en-us-nyc",
          "en-gb-x-gbclan+f2", "en-gb-x-gbcwmd"]


def recordings(cases: list[dict], folder: Path) -> list[tuple[dict, Path, str]]:
    """One noisy WAV per case, voices, speeds, silences and noise levels in rotation."""
    out = []
    for i, case in enumerate(cases):
        voice = VOICES[i % len(VOICES)]
        clean = speak(case["text"], folder / f"{i}.clean.wav", voice=voice, speed=140 + 15 * (i % 4))
        noisy = with_noise(clean, folder / f"{i}.wav", noise_volume=0.02 + 0.01 * (i % 3),
                           lead_silence=0.3 + 0.3 * (i % 4))
        out.append((case, noisy, voice))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=HELDOUT_PATH)
    ap.add_argument("--all", action="store_true", help="speak every case, not only those marked spoken")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--show", action="store_true", help="print what was heard for each miss")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [c for c in load_cases(args.cases) if args.all or c["spoken"]]
    transcriber = Transcriber(SpeechConfig(model=args.model))
    transcriber.load()
    parser = CommandParser()
    parser.parse("open the mouth")
    by_category: dict[str, list[bool]] = defaultdict(list)
    walls, cpus, misses, voices = [], [], [], set()
    with tempfile.TemporaryDirectory() as tmp:
        clips = [(case, load_audio(path), voice) for case, path, voice in recordings(cases, Path(tmp))]
        for case, clip, voice in clips:
            voices.add(voice)
            parser.reset_context()
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                heard = transcriber.transcribe(clip, understood=parser.understands, adds_to=parser.adds_to).text
                got = parser.parse(heard).to_json()
            except Exception as exc:  # an AudioError is a miss like any other: reported, not raised
                heard, got = f"<{exc}>", {"command": None}
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            bad = mismatches(case, got)
            by_category[case["category"]].append(not bad)
            if bad:
                misses.append({"said": case["text"], "voice": voice, "heard": heard, "wrong": bad})
    n = len(cases)
    ordered = sorted(walls)
    report = {
        "benchmark": "speech_accuracy", "cases_file": str(args.cases), "model": args.model,
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "recordings": n, "voices": len(voices), "accuracy": round(1 - len(misses) / n, 4),
        "per_category": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)}
                         for k, v in sorted(by_category.items())},
        "end_of_speech_to_command": {"median_s": round(statistics.median(walls), 3),
                                     "p90_s": round(ordered[int(0.9 * (n - 1))], 3),
                                     "max_s": round(ordered[-1], 3),
                                     "median_cpu_s": round(statistics.median(cpus), 3)},
        "misses": len(misses),
    }
    if args.show:
        report["missed"] = misses
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
