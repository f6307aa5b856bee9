"""`doctor`: what this installation can use, offline, and where each model comes from.

Nothing is downloaded, converted or loaded: Whisper sources are listed in resolution order
with the one that would be used marked, then the microphone, MediaPipe and MiniLM.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json

from assistant.commands.transcribe import add_speech_options
from parsers.audio import microphone_status
from parsers.whisper_weights import candidates, default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Whisper weights, microphone, MediaPipe and MiniLM")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_speech_options(p)
    p.set_defaults(func=run)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def whisper_report(model: str, configured: str | None) -> dict:
    found = candidates(model, configured, verify=True)
    chosen = next((c for c in found if c.available or c.kind == "configured"), None)
    return {
        "model": model,
        "openai_whisper": _version("openai-whisper"),
        "conversion_cache": str(default_cache_dir()),
        "sources": [{"kind": c.kind, "origin": c.origin, "path": str(c.path) if c.path else None,
                     "available": c.available, "note": c.note, "selected": c is chosen} for c in found],
    }


def mediapipe_report() -> dict:
    from parsers.landmarks import LandmarkError, task_path

    try:
        path, ok, note = str(task_path()), True, ""
    except LandmarkError as exc:
        path, ok, note = None, False, str(exc)
    version = _version("mediapipe")
    return {"version": version, "face_landmarker": path, "available": ok and version is not None,
            "note": note if version else "mediapipe is not installed"}


def minilm_report() -> dict:
    from parsers.embeddings import EmbeddingError, model_path

    try:
        path = model_path()
    except EmbeddingError as exc:
        return {"path": None, "available": False, "note": str(exc)}
    ok = (path / "config.json").is_file()
    return {"path": str(path), "available": ok, "note": "" if ok else "config.json missing in the model folder"}


def run(args: argparse.Namespace) -> int:
    ok, mic = microphone_status()
    report = {
        "whisper": whisper_report(args.whisper_model, args.whisper_weights),
        "microphone": {"available": ok, "note": mic},
        "mediapipe": mediapipe_report(),
        "minilm": minilm_report(),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    w = report["whisper"]
    print(f"whisper {w['model']} (openai-whisper {w['openai_whisper'] or 'not installed'}), in resolution order:")
    for s in w["sources"]:
        mark = "->" if s["selected"] else ("ok" if s["available"] else "--")
        where = f" {s['path']}" if s["path"] else ""
        print(f"  {mark} {s['kind']}: {s['origin']}{where}" + (f" ({s['note']})" if s["note"] else ""))
    print(f"microphone: {'ok, ' if ok else ''}{mic}")
    m = report["mediapipe"]
    print(f"mediapipe: {m['version'] or 'not installed'}, face landmarker "
          f"{m['face_landmarker'] or 'missing: ' + m['note']}")
    e = report["minilm"]
    print(f"minilm: {e['path'] if e['available'] else 'missing: ' + e['note']}")
    return 0
