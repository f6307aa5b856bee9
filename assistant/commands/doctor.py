"""`doctor`: what this installation can use, offline, and where each model comes from.

Nothing is downloaded, converted or loaded: first the generator that would be loaded (from a
`.safetensors` header only), then the Whisper sources in resolution order with the one that
would be used marked (a download is marked as needing the internet, never as "ok"), then the
microphone, MediaPipe and MiniLM.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from pathlib import Path

from assistant.commands.transcribe import add_speech_options
from parsers.audio import microphone_status
from parsers.whisper_weights import candidates, default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Whisper weights, microphone, MediaPipe and MiniLM")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--model", default=None, metavar="CHECKPOINT",
                   help="the generator to report on (default: $DRAGGAN_MODEL, else the embedded model)")
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


def generator_report(model: str | None) -> dict:
    """The generator the app and `edit` would load, from the file's header: no weights are read."""
    from stylegan2.loading import CONFIG_METADATA_KEY, DEFAULT_MODEL, default_model_path

    path = Path(model).expanduser() if model else default_model_path()
    report = {"path": str(path), "exists": path.is_file(), "embedded": False, "resolution": None, "kimg": None,
              "note": ""}
    if not report["exists"]:
        report["note"] = "no such file"
        return report
    report["embedded"] = path.resolve() == DEFAULT_MODEL.resolve()
    if path.suffix != ".safetensors":
        report["note"] = "resolution and training length are read when it is loaded (draggan-assistant info)"
        return report
    meta = _safetensors_header(path)
    if meta is None:
        report["note"] = "not a readable .safetensors file"
        return report
    try:
        report["resolution"] = int(json.loads(meta.get(CONFIG_METADATA_KEY, "{}")).get("img_resolution"))
    except (TypeError, ValueError):
        report["note"] = "no generator config in the header"
    try:
        report["kimg"] = float(meta["kimg"])
    except (KeyError, ValueError):
        pass
    return report


def _safetensors_header(path: Path) -> dict[str, str] | None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return fh.metadata() or {}
    except (SafetensorError, OSError, ValueError):
        return None


def describe_generator(g: dict) -> str:
    if not g["exists"]:
        return f"generator: {g['path']}: {g['note']}"
    facts = [f"{g['resolution']}x{g['resolution']} px" if g["resolution"] else None,
             f"trained {g['kimg']:g} kimg" if g["kimg"] is not None else None,
             "the embedded placeholder model (see docs/model-card-celeba64.md)" if g["embedded"] else None,
             g["note"] or None]
    return f"generator: {g['path']}" + "".join(f", {f}" for f in facts if f)


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
        "generator": generator_report(args.model),
        "whisper": whisper_report(args.whisper_model, args.whisper_weights),
        "microphone": {"available": ok, "note": mic},
        "mediapipe": mediapipe_report(),
        "minilm": minilm_report(),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(describe_generator(report["generator"]))
    w = report["whisper"]
    print(f"whisper {w['model']} (openai-whisper {w['openai_whisper'] or 'not installed'}), in resolution order:")
    for s in w["sources"]:
        mark = "->" if s["selected"] else ("--" if not s["available"] else "net" if s["kind"] == "download"
                                           else "ok")
        where = f" {s['path']}" if s["path"] else ""
        print(f"  {mark} {s['kind']}: {s['origin']}{where}" + (f" ({s['note']})" if s["note"] else ""))
    print(f"microphone: {'ok, ' if ok else ''}{mic}")
    m = report["mediapipe"]
    print(f"mediapipe: {m['version'] or 'not installed'}, face landmarker "
          f"{m['face_landmarker'] or 'missing: ' + m['note']}")
    e = report["minilm"]
    print(f"minilm: {e['path'] if e['available'] else 'missing: ' + e['note']}")
    return 0
