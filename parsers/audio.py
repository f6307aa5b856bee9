"""Audio in: files (WAV/FLAC/MP3/OGG via libsndfile) and the microphone (push-to-talk with an
energy-based end-of-speech detector), always delivered as 16 kHz mono float32 for Whisper.

Files are decoded with `soundfile`, whose wheels bundle libsndfile (with mpg123/LAME for MP3), so
no ffmpeg is needed. Microphone capture uses `sounddevice` (PortAudio), imported only when a
microphone is asked for: without PortAudio or an input device the caller gets an `AudioError`
saying so, and typed commands keep working.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16000
MIN_INPUT_RATE = 8000
MIN_SECONDS = 0.2
MAX_SECONDS = 30.0  # one Whisper window; a spoken command takes a few seconds
SILENCE_DBFS = -50.0
CLIP_LEVEL = 0.999
CLIP_FRACTION = 0.001
NO_PORTAUDIO = ("microphone unavailable: the PortAudio library is not installed (Debian/Ubuntu: "
                "apt-get install libportaudio2); type the command or pass an audio file")


@dataclass
class AudioClip:
    """16 kHz mono samples in [-1, 1] and what was noticed while reading them."""

    samples: np.ndarray
    source: str
    input_rate: int = SAMPLE_RATE
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def resample(x: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by truncating or zero-padding the spectrum.

    Dropping the bins above the new Nyquist frequency is an ideal low-pass, so downsampling a
    22.05 or 44.1 kHz recording cannot alias; commands are seconds long, so one FFT is cheap.
    """
    if rate_in == rate_out or len(x) == 0:
        return x.astype(np.float32, copy=False)
    n = len(x)
    m = max(1, int(round(n * rate_out / rate_in)))
    spectrum = np.fft.rfft(x.astype(np.float64))
    out = np.zeros(m // 2 + 1, dtype=np.complex128)
    k = min(len(spectrum), len(out))
    out[:k] = spectrum[:k]
    return (np.fft.irfft(out, m) * (m / n)).astype(np.float32)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of an (n, channels) array."""
    return x if x.ndim == 1 else x.mean(axis=1)


def level_db(x: np.ndarray) -> float:
    """RMS level of a block in dBFS."""
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))), 1e-10)))


def frame_levels_db(x: np.ndarray, rate: int, frame_ms: float = 30.0) -> np.ndarray:
    """RMS level of each whole frame in dBFS (a full-scale sine is about -3 dBFS)."""
    n = max(1, int(rate * frame_ms / 1000))
    frames = len(x) // n
    if frames == 0:
        return np.zeros(0)
    rms = np.sqrt(np.mean(np.square(x[:frames * n].reshape(frames, n), dtype=np.float64), axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def check_audio(x: np.ndarray, source: str) -> list[str]:
    """Reject audio that cannot hold a command; return warnings for audio that is merely poor."""
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        raise AudioError(f"{source}: recording is {len(x) / SAMPLE_RATE:.2f} s long; a command needs at least "
                         f"{MIN_SECONDS} s")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{source}: audio contains NaN or infinite samples")
    loudest = float(frame_levels_db(x, SAMPLE_RATE).max(initial=-200.0))
    if loudest < SILENCE_DBFS:
        raise AudioError(f"{source}: recording is silent (loudest part {loudest:.0f} dBFS); speak closer to the "
                         f"microphone or check the input level")
    warnings = []
    clipped = float(np.mean(np.abs(x) >= CLIP_LEVEL))
    if clipped > CLIP_FRACTION:
        warnings.append(f"{source}: {clipped:.1%} of samples are clipped; lower the input gain (recognition may "
                        f"suffer)")
    return warnings


def prepare(x: np.ndarray, rate: int, source: str) -> AudioClip:
    """Mono, 16 kHz, checked: the one path both files and the microphone take."""
    if rate < MIN_INPUT_RATE:
        raise AudioError(f"{source}: sample rate {rate} Hz is too low for speech (need at least {MIN_INPUT_RATE} Hz)")
    mono = to_mono(np.asarray(x, dtype=np.float32))
    samples = resample(mono, rate)
    return AudioClip(samples, source, rate, check_audio(samples, source))


def load_audio(path: str | Path) -> AudioClip:
    """Read a WAV/FLAC/MP3/OGG file as a checked 16 kHz mono clip."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    try:
        info = soundfile.info(str(path))
        if info.frames > MAX_SECONDS * info.samplerate:
            raise AudioError(f"{path}: {info.frames / info.samplerate:.0f} s of audio; a spoken command must be "
                             f"under {MAX_SECONDS:.0f} s")
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot read audio ({str(exc).splitlines()[0]}); supported: WAV, FLAC, MP3, "
                         f"OGG") from None
    return prepare(data, int(rate), str(path))


@dataclass
class EndpointConfig:
    """Energy end-of-speech detection: speech is a level well above the noise floor; the command
    has ended after `end_silence_ms` below it. Pauses inside a command ("drag one twenty, eighty
    ... to ...") are shorter than that."""

    frame_ms: float = 30.0
    above_noise_db: float = 12.0
    min_speech_dbfs: float = -45.0
    min_speech_ms: float = 90.0
    end_silence_ms: float = 400.0
    max_seconds: float = 15.0


class EndpointDetector:
    """Feed audio blocks of any size; `ended` turns true once speech has started and stopped.

    The noise floor starts at the first frame's level and follows quiet frames (quickly down,
    slowly up), so a fan or a noisy room raises the bar instead of counting as speech.
    """

    def __init__(self, rate: int, config: EndpointConfig | None = None):
        self.rate = rate
        self.config = config or EndpointConfig()
        self.frame = max(1, int(rate * self.config.frame_ms / 1000))
        self._pending = np.zeros(0, dtype=np.float32)
        self.samples_seen = 0
        self.noise_db: float | None = None
        self.speech_start: int | None = None
        self.speech_end: int | None = None
        self._voiced_run = 0
        self.ended = False

    def _frame(self, level: float, frame_end: int) -> None:
        c = self.config
        if self.noise_db is None:
            self.noise_db = level
        voiced = level >= max(self.noise_db + c.above_noise_db, c.min_speech_dbfs)
        if voiced:
            self._voiced_run += 1
            if self.speech_start is None and self._voiced_run * c.frame_ms >= c.min_speech_ms:
                self.speech_start = frame_end - self._voiced_run * self.frame
            if self.speech_start is not None:
                self.speech_end = frame_end
            return
        self._voiced_run = 0
        rate = 0.5 if level < self.noise_db else 0.02
        self.noise_db += rate * (level - self.noise_db)
        if self.speech_end is not None and (frame_end - self.speech_end) * 1000 / self.rate >= c.end_silence_ms:
            self.ended = True

    def feed(self, block: np.ndarray) -> bool:
        """Consume samples; return True once the end of speech has been detected."""
        data = np.concatenate([self._pending, np.asarray(block, dtype=np.float32).reshape(-1)])
        whole = len(data) // self.frame * self.frame
        for start in range(0, whole, self.frame):
            if self.ended:
                break
            self.samples_seen += self.frame
            self._frame(level_db(data[start:start + self.frame]), self.samples_seen)
        self._pending = data[whole:]
        return self.ended


@dataclass
class Recording:
    """A captured command: the clip, why capture stopped, and when speech ended (monotonic s)."""

    clip: AudioClip
    stopped_by: str
    speech_ended_at: float


def capture_until_end(blocks: Iterable[np.ndarray], rate: int, config: EndpointConfig | None = None,
                      stop: threading.Event | None = None, source: str = "microphone") -> Recording:
    """Collect blocks until the push-to-talk `stop` is set, speech ends, or the time limit.

    This is the microphone loop without the device, so it runs on any stream of blocks.
    """
    detector = EndpointDetector(rate, config)
    limit = int(detector.config.max_seconds * rate)
    kept: list[np.ndarray] = []
    stopped_by = "end of input"
    ended_at = time.monotonic()
    for block in blocks:
        kept.append(np.asarray(block, dtype=np.float32).reshape(-1))
        ended_at = time.monotonic()
        if stop is not None and stop.is_set():
            stopped_by = "released"
            break
        if detector.feed(kept[-1]):
            stopped_by = "end of speech"
            ended_at -= (detector.samples_seen - detector.speech_end) / rate
            break
        if detector.samples_seen >= limit:
            stopped_by = "time limit"
            break
    audio = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
    if stopped_by == "end of speech":
        audio = audio[:detector.samples_seen]
    return Recording(prepare(audio, rate, source), stopped_by, ended_at)


def _sounddevice():
    try:
        import sounddevice
    except OSError:
        raise AudioError(NO_PORTAUDIO) from None
    except ImportError:
        raise AudioError("microphone unavailable: the sounddevice package is not installed; type the command "
                         "or pass an audio file") from None
    return sounddevice


def default_input_device() -> dict:
    """PortAudio's default input device, or an AudioError naming what is missing."""
    sd = _sounddevice()
    try:
        info = sd.query_devices(kind="input")
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioError(f"no microphone found ({exc}); type the command or pass an audio file") from None
    if not info or info.get("max_input_channels", 0) < 1:
        raise AudioError("no microphone found; type the command or pass an audio file")
    return dict(info)


def microphone_status() -> tuple[bool, str]:
    """(usable, description) for `doctor` and the UI."""
    try:
        info = default_input_device()
    except AudioError as exc:
        return False, str(exc)
    return True, f"{info['name']} ({int(info['default_samplerate'])} Hz)"


class Microphone:
    """Push-to-talk capture from the default input device.

    `record()` listens until `stop` is set (the key was pressed again or released), the speaker
    falls silent, or the time limit; the device's own rate is used and resampled, so a microphone
    that cannot do 16 kHz still works.
    """

    def __init__(self, config: EndpointConfig | None = None, device: int | str | None = None):
        self.config = config or EndpointConfig()
        self.device = device

    def record(self, stop: threading.Event | None = None,
               on_block: Callable[[np.ndarray], None] | None = None) -> Recording:
        sd = _sounddevice()
        if self.device is None:
            info = default_input_device()
        else:
            try:
                info = dict(sd.query_devices(self.device))
            except (sd.PortAudioError, ValueError) as exc:
                raise AudioError(f"microphone {self.device!r} not found ({exc}); type the command or pass an "
                                 f"audio file") from None
        rate = int(info["default_samplerate"])
        blocks: queue.Queue[np.ndarray] = queue.Queue()

        def callback(indata, frames, time_info, status):
            blocks.put(indata[:, 0].copy())

        def stream_blocks():
            deadline = time.monotonic() + self.config.max_seconds + 1.0
            while time.monotonic() < deadline:
                try:
                    block = blocks.get(timeout=0.1)
                except queue.Empty:
                    if stop is not None and stop.is_set():
                        return
                    continue
                if on_block is not None:
                    on_block(block)
                yield block

        try:
            with sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=self.device,
                                blocksize=int(rate * self.config.frame_ms / 1000), callback=callback):
                return capture_until_end(stream_blocks(), rate, self.config, stop)
        except sd.PortAudioError as exc:
            raise AudioError(f"microphone error: {exc}; type the command or pass an audio file") from None
