"""Test speech from Debian's espeak-ng, with sox for noise, padding and format changes.

Real synthesized speech exercises the whole path (decoding, resampling, Whisper, parser) the way
a recording would; noise and leading silence are mixed in with sox as the issue asks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (Debian: apt-get install {name}); .ci/run installs it")
    return path


def speak(text: str, out: Path, voice: str = "en-us", speed: int = 160) -> Path:
    """espeak-ng's WAV (22.05 kHz mono) of `text`."""
    subprocess.run([_tool("espeak-ng"), "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    return out


def sox(args: list[str]) -> None:
    subprocess.run([_tool("sox"), *args], check=True, capture_output=True)


def with_noise(src: Path, out: Path, noise_volume: float = 0.03, lead_silence: float = 0.0) -> Path:
    """`src` after `lead_silence` seconds, over white noise for the whole length (sox -m); the
    noise is the same on every run (sox -R), so benchmark runs compare like with like."""
    padded = out.with_name(out.stem + ".padded.wav")
    sox([str(src), str(padded), "pad", str(lead_silence), "0.3"])
    length = float(subprocess.run([_tool("soxi"), "-D", str(padded)], check=True, capture_output=True,
                                  text=True).stdout)
    noise = out.with_name(out.stem + ".noise.wav")
    sox(["-R", "-n", "-r", "22050", "-c", "1", "-b", "16", str(noise), "synth", f"{length:.3f}", "whitenoise",
         "vol", str(noise_volume)])
    sox(["-m", str(padded), str(noise), str(out)])
    return out
