"""Speech -> command text with offline Whisper, tuned for short editing commands.

The model is loaded once, lazily or in a background thread (`start_loading`), so typing is never
blocked. Decoding is one greedy pass over a window a little longer than the command (see
`whisper_decode`) with an initial prompt that lists the command vocabulary; whisper's
`transcribe()` adds sliding windows and temperature fallback that only cost time on a
two-second command. The text is then normalised for the parser (number words to digits, no
trailing full stop, no non-speech tags).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, AudioClip, load_audio, prepare
from .errors import AudioError
from .number_words import words_to_numbers
from .whisper_decode import encode, greedy_decode, tokenizer_for, window_seconds
from .whisper_weights import WEIGHTS_ENV, ResolvedWeights, load_resolved, resolve

# Whisper conditions on this as if it were the preceding speech: the spellings and the
# "120, 80" coordinate style in it are what short, context-free commands come out as.
COMMAND_PROMPT = ("Photo editing commands: raise her eyebrows. Open the mouth. Close the left eye. Smile. "
                  "Make the nose smaller. Turn the head left. Drag 120, 80 to 140, 90. Undo. Redo. Reset. "
                  "Steps 80. Save.")
MAX_SECONDS = 30.0
# Whisper writes about three tokens per second of speech; the cap only stops a runaway loop.
TOKENS_PER_SECOND_CAP = 8
# Below this mean token log-probability the words are guesses (whisper's own fallback threshold).
# The command prompt makes Whisper confident it heard *something*, which hides its no-speech
# probability on noise; the log-probability still drops there (about -1.3 to -2.5 on noise,
# -0.2 to -0.6 on clear commands), and a tone makes it repeat one token up to the limit.
LOW_LOGPROB = -1.0

_TAGS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")
_FILLERS = re.compile(r"^(?:(?:um+|uh+|er+|hmm+)[,.]?\s+)+", re.IGNORECASE)


def normalise_transcript(text: str) -> str:
    """Whisper's sentence -> the parser's input: tags and fillers dropped, numbers as digits,
    whitespace collapsed, no closing full stop (the parser reads commands, not prose)."""
    text = _TAGS.sub(" ", text)
    text = " ".join(text.split())
    text = _FILLERS.sub("", text)
    text = words_to_numbers(text)
    return text.strip().rstrip(".!?…").strip()


@dataclass
class SpeechConfig:
    """Which Whisper to run and how; `weights` defaults to $DRAGGAN_WHISPER_WEIGHTS."""

    model: str = "tiny.en"
    weights: str | None = None
    cache_dir: Path | None = None
    initial_prompt: str | None = COMMAND_PROMPT
    allow_download: bool = True
    min_window: float = 10.0
    window_padding: float = 5.0

    def __post_init__(self):
        if self.weights is None:
            self.weights = os.environ.get(WEIGHTS_ENV) or None


@dataclass
class Transcript:
    """What was heard: `text` is normalised for the parser, `raw` is Whisper's own output."""

    text: str
    raw: str
    source: str
    seconds: float
    audio_seconds: float
    no_speech_prob: float
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"source": self.source, "text": self.text, "raw": self.raw, "seconds": round(self.seconds, 3),
                "audio_seconds": round(self.audio_seconds, 3), "no_speech_prob": round(self.no_speech_prob, 3),
                "warnings": self.warnings}


class Transcriber:
    """Holds one Whisper model for the whole session; thread-safe loading, sequential decoding."""

    def __init__(self, config: SpeechConfig | None = None):
        self.config = config or SpeechConfig()
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._load_error: AudioError | None = None
        self.weights: ResolvedWeights | None = None
        self.load_seconds: float | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        """Resolve, convert if needed, and load the weights once; later calls return at once."""
        with self._lock:
            if self._model is None:
                start = time.perf_counter()
                weights = resolve(self.config.model, self.config.weights, self.config.cache_dir,
                                  self.config.allow_download)
                model = load_resolved(weights).eval()
                self._tokenizer = tokenizer_for(model)
                self._model = model
                self.weights = weights
                self.load_seconds = time.perf_counter() - start
            return self._model

    def start_loading(self) -> threading.Thread:
        """Load in a daemon thread; an error is kept and raised by the next `transcribe`."""
        def run():
            try:
                self.load()
            except AudioError as exc:
                self._load_error = exc

        if self._loader is None:
            self._loader = threading.Thread(target=run, name="whisper-load", daemon=True)
            self._loader.start()
        return self._loader

    def _ready_model(self):
        if self._loader is not None:
            self._loader.join()
        if self._load_error is not None:
            raise self._load_error
        return self.load()

    def transcribe(self, audio: AudioClip | np.ndarray | str | Path, source: str = "audio") -> Transcript:
        """Recognise one command. `audio` is a clip, 16 kHz mono samples, or a file path."""
        import torch

        if isinstance(audio, (str, Path)):
            clip = load_audio(audio)
        elif isinstance(audio, AudioClip):
            clip = audio
        else:
            clip = prepare(np.asarray(audio, dtype=np.float32), SAMPLE_RATE, source)
        if clip.seconds > MAX_SECONDS:
            raise AudioError(f"{clip.source}: {clip.seconds:.0f} s of audio; a spoken command must be under "
                             f"{MAX_SECONDS:.0f} s")
        model = self._ready_model()
        start = time.perf_counter()
        window = window_seconds(clip.seconds, self.config.min_window, self.config.window_padding)
        with torch.inference_mode():
            features = encode(model, clip.samples, window)
            result = greedy_decode(model, self._tokenizer, features, self.config.initial_prompt,
                                   int(TOKENS_PER_SECOND_CAP * clip.seconds) + 10)
        if result.avg_logprob < LOW_LOGPROB or not result.complete:
            raise AudioError(f"{clip.source}: no clear speech recognised (heard noise or a guess: "
                             f"{result.text[:40]!r}); speak the command again or type it")
        raw = result.text
        text = normalise_transcript(raw)
        if not text:
            raise AudioError(f"{clip.source}: no speech recognised; speak the command again or type it")
        return Transcript(text, raw, clip.source, time.perf_counter() - start, clip.seconds,
                          float(result.no_speech_prob), list(clip.warnings))
