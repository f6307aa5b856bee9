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
from typing import Callable

import numpy as np

from .audio import MAX_SECONDS, SAMPLE_RATE, AudioClip, load_audio, prepare
from .errors import AudioError
from .number_words import words_to_numbers
from .command_grammar import GrammarConfig, GrammarCursor, build
from .whisper_decode import (Decoded, Primed, encode, grammar_beam, greedy_decode, prime, score_texts, tokenizer_for,
                             window_seconds)
from .whisper_weights import WEIGHTS_ENV, ResolvedWeights, load_resolved, resolve

# Whisper conditions on this as if it were the preceding speech: the spellings and the
# "120, 80" coordinate style in it are what short, context-free commands come out as. Kept short
# and made of sentences: a long comma-separated vocabulary list made tiny.en continue the list,
# repeating the command until the token limit.
COMMAND_PROMPT = ("Photo editing commands: raise her eyebrows. Open the mouth. Close the left eye. Smile. "
                  "Make the nose smaller. Turn the head left. Drag 120, 80 to 140, 90. Undo. Redo. Reset. "
                  "Steps 80. Save.")
# Whisper writes about three tokens per second of speech; the cap only stops a runaway loop.
TOKENS_PER_SECOND_CAP = 8
# Below this mean token log-probability the words are guesses (whisper's own fallback threshold).
# The command prompt makes Whisper confident it heard *something* (on white and brown noise it
# wrote "Let's go.", "Light.", even "Turn the head."), but the log-probability still drops there
# (-1.1 to -2.0 against -0.05 to -0.7 on clear commands), the no-speech probability stays high
# (0.40-0.84 against at most 0.13 on espeak-ng commands), and a tone makes it repeat one token up
# to the limit. Any of the three rejects the audio.
LOW_LOGPROB = -1.0
NO_SPEECH_PROB = 0.35
# One-word commands are where tiny.en slips most ("undo" -> "Addu", "reset" -> "Reverse eye",
# "cancel" -> "Console. Console. ..."): with so little context a near miss wins greedily. When the
# greedy text is short or runs away, these commands are scored as whole transcripts of the same
# audio; one replaces the greedy text if it is nearly as likely (within RESCORE_MARGIN nats), or,
# when greedy decoding never ended, if it is likely enough (total above SHORT_FLOOR: misheard
# commands scored -2.3 to -3.8, the best one-word command on noise -5.0 to -6.2). Noise never
# gets this far (NO_SPEECH_PROB).
SHORT_COMMANDS = ("Undo.", "Redo.", "Reset.", "Cancel.", "Save.", "Help.", "Quit.", "History.", "Settings.",
                  "Smile.", "Frown.", "Blink.", "Wink.", "Stop.", "Exit.")
RESCORE_MAX_WORDS = 2
RESCORE_MARGIN = 1.0
SHORT_FLOOR = -4.5

# Coordinates are not in the grammar (any number can be said); a transcript with two or more
# numbers is a drag by coordinates or nothing the grammar could correct.
_NUMBER = re.compile(r"\d+")
_TAGS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")
_FILLERS = re.compile(r"^(?:(?:um+|uh+|er+|hmm+)[,.]?\s+)+", re.IGNORECASE)


def first_sentence_if_repeated(text: str) -> str | None:
    """"Open the mouth wide. Open the mouth wide" (a decoding loop) -> "Open the mouth wide"."""
    sentences = [s.strip() for s in re.split(r"[.!?]+", text) if s.strip()]
    if len(sentences) >= 2 and all(s.lower() == sentences[0].lower() for s in sentences[1:-1]) and \
            sentences[0].lower().startswith(sentences[-1].lower()):
        return sentences[0]
    return None


def normalise_transcript(text: str) -> str:
    """Whisper's sentence -> the parser's input: tags and fillers dropped, numbers as digits,
    whitespace collapsed, no closing full stop (the parser reads commands, not prose)."""
    text = _TAGS.sub(" ", text)
    text = " ".join(text.split())
    text = _FILLERS.sub("", text)
    text = words_to_numbers(text)
    return text.strip().rstrip(".!?…").strip()


@dataclass
class GrammarChoice:
    """When a sentence of the app's grammar (`command_grammar`) replaces the greedy transcript.

    Greedy decoding is the free, most likely transcript, so a grammar sentence scores at most a
    little above it and usually below. A transcript the parser cannot read (or too unsure to keep)
    is replaced by the best readable grammar sentence within `margin_unread` nats of it. One it can
    read is replaced
    only within `margin_read` nats plus `uncertainty_scale` times the greedy text's own
    -log-probability: a confident transcript (-0.1 to -1 nats in total, usually right) keeps its
    free-form wording ("give me a wink with the right eye" is not forced into a listed phrasing,
    "make the nose much smaller" keeps its amount), while an uncertain one ("Go Mac." -1.0,
    "I'm worried." -3.1, "Lower the chin of tiny lid." -3.5) yields to a sentence the grammar
    has ("Go back." -3.4, "Abort." -9.3, "Lower the chin a tiny bit." -5.9). `min_mean_logprob`
    keeps noise and mumbling from becoming a command because some grammar sentence was least
    unlikely. Fitted on fresh batch 5; `margin_unread` was 10 until fresh batch 6, where the
    extra 4 nats only ever turned a misheard command into a wrong edit ("tilt the head to the
    left" -> "Make the nose smaller.", 6.3 nats below) instead of asking again (docs/speech.md).
    A sentence under `min_token_ratio` of a complete greedy transcript's tokens leaves most of
    the audio unexplained, however likely its few tokens are: on fresh batch 8 long complaints
    ("the eyebrows are sitting too high on her forehead") came back as "Redo." and "Make the nose
    smaller.".
    """

    enabled: bool = True
    beam: int = 8
    margin_unread: float = 6.0
    margin_read: float = 2.0
    uncertainty_scale: float = 1.5
    min_mean_logprob: float = -2.5
    min_token_ratio: float = 0.5
    language: GrammarConfig = field(default_factory=GrammarConfig)

    def floor(self, greedy_total: float, readable: bool) -> float:
        """The lowest total log-probability a grammar sentence may have and still win."""
        if not readable:
            return greedy_total - self.margin_unread
        return greedy_total - self.margin_read + self.uncertainty_scale * min(greedy_total, 0.0)


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
    short_commands: tuple[str, ...] = SHORT_COMMANDS
    grammar: GrammarChoice = field(default_factory=GrammarChoice)

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
    rescored: bool = False  # the text was chosen by scoring (a short command or a grammar sentence), not greedy

    def to_json(self) -> dict:
        return {"source": self.source, "text": self.text, "raw": self.raw, "seconds": round(self.seconds, 3),
                "audio_seconds": round(self.audio_seconds, 3), "no_speech_prob": round(self.no_speech_prob, 3),
                "rescored": self.rescored, "warnings": self.warnings}


class Transcriber:
    """Holds one Whisper model for the whole session; thread-safe loading, sequential decoding."""

    def __init__(self, config: SpeechConfig | None = None):
        self.config = config or SpeechConfig()
        self._model = None
        self._tokenizer = None
        self._cursor: GrammarCursor | None = None
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
                if self.config.grammar.enabled:
                    self._cursor = GrammarCursor(build(self._tokenizer, self.config.grammar.language))
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

    def transcribe(self, audio: AudioClip | np.ndarray | str | Path, source: str = "audio",
                   understood: Callable[[str], bool] | None = None,
                   adds_to: Callable[[str, str], bool] | None = None) -> Transcript:
        """Recognise one command. `audio` is a clip, 16 kHz mono samples, or a file path.

        With `understood` (the parser's "can I read this text?"), the same audio is also decoded
        within the app's grammar (`command_grammar.py`), and the most likely sentence the parser
        reads replaces the greedy transcript when `GrammarChoice` says it explains the audio well
        enough. With `adds_to(sentence, transcript)` as well (the parser's), a readable transcript
        is only replaced by a sentence that reads as something else, not by one that reads as
        nothing or as the same request with a heard detail dropped.
        """
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
            primed = prime(model, self._tokenizer, features, self.config.initial_prompt)
            result = greedy_decode(model, self._tokenizer, features, self.config.initial_prompt,
                                   int(TOKENS_PER_SECOND_CAP * clip.seconds) + 10, primed)
            short = None if result.no_speech_prob > NO_SPEECH_PROB else self._short_command(features, result, primed)
            if short is None and not result.complete:
                repeated = first_sentence_if_repeated(result.text)
                if repeated is not None:  # scored on its own: the loop's total says nothing about it
                    repeated += "."
                    total = score_texts(model, self._tokenizer, features, self.config.initial_prompt, [repeated],
                                        primed)[0]
                    tokens = len(self._tokenizer.encode(" " + repeated))
                    result = Decoded(repeated, result.no_speech_prob, total / (tokens + 1), tokens, True)
            guess = None
            if short is None and understood is not None and result.no_speech_prob <= NO_SPEECH_PROB:
                guess = self._grammar_choice(features, result, understood,
                                             int(TOKENS_PER_SECOND_CAP * clip.seconds) + 10, primed, adds_to)
        raw = result.text
        if short is not None:
            result = short
        elif guess is not None:
            result = guess
        elif result.avg_logprob < LOW_LOGPROB or not result.complete or result.no_speech_prob > NO_SPEECH_PROB:
            raise AudioError(f"{clip.source}: no clear speech recognised (heard noise or a guess: "
                             f"{result.text[:40]!r}); speak the command again or type it")
        text = normalise_transcript(result.text)
        if not text:
            raise AudioError(f"{clip.source}: no speech recognised; speak the command again or type it")
        return Transcript(text, raw, clip.source, time.perf_counter() - start, clip.seconds,
                          float(result.no_speech_prob), list(clip.warnings), short is not None or guess is not None)

    def _grammar_choice(self, features, greedy: Decoded, understood: Callable[[str], bool],
                        max_tokens: int, primed: Primed,
                        adds_to: Callable[[str, str], bool] | None = None) -> Decoded | None:
        """The most likely grammar sentence the parser reads, if `GrammarChoice` lets it replace
        the greedy transcript, else None. Skipped (None) when the greedy text is itself a readable
        grammar sentence, or names coordinates (numbers the grammar cannot list)."""
        choice = self.config.grammar
        greedy_text = normalise_transcript(greedy.text)
        # A transcript too unsure to keep (see LOW_LOGPROB) is as good as unreadable: it would be
        # rejected, so a grammar sentence may replace it with the wider margin.
        readable = greedy.complete and greedy.avg_logprob >= LOW_LOGPROB and understood(greedy_text)
        if self._cursor is None or len(_NUMBER.findall(greedy_text)) >= 2 or \
                readable and self._cursor.accepts(self._tokenizer.encode(" " + greedy.text.strip())):
            return None
        floor = choice.floor(greedy.avg_logprob * (greedy.tokens + 1), readable)
        for h in grammar_beam(self._model, self._tokenizer, features, self.config.initial_prompt, self._cursor,
                              choice.beam, max_tokens, floor, primed):
            if h.score < floor or h.score / (h.tokens + 1) < choice.min_mean_logprob:
                return None
            if greedy.complete and h.tokens < choice.min_token_ratio * greedy.tokens:
                continue
            text = normalise_transcript(h.text)
            if text.lower() != greedy_text.lower() and understood(text):
                if readable and adds_to is not None and not adds_to(text, greedy_text):
                    return None
                return Decoded(h.text, greedy.no_speech_prob, h.score / (h.tokens + 1), h.tokens, True)
        return None

    def _short_command(self, features, greedy: Decoded, primed: Primed) -> Decoded | None:
        """A one-word command that explains the audio about as well as a short or runaway greedy
        transcript (see SHORT_COMMANDS), or None to keep the greedy text."""
        commands = self.config.short_commands
        words = normalise_transcript(greedy.text).lower().split()
        known = {normalise_transcript(c).lower() for c in commands}
        if not commands or (greedy.complete and (len(words) > RESCORE_MAX_WORDS or " ".join(words) in known)):
            return None
        scores = score_texts(self._model, self._tokenizer, features, self.config.initial_prompt, list(commands),
                             primed)
        best = max(range(len(commands)), key=scores.__getitem__)
        greedy_total = greedy.avg_logprob * (greedy.tokens + 1)
        if scores[best] < SHORT_FLOOR or (greedy.complete and scores[best] < greedy_total - RESCORE_MARGIN):
            return None
        tokens = len(self._tokenizer.encode(" " + commands[best]))
        return Decoded(commands[best], greedy.no_speech_prob, scores[best] / (tokens + 1), tokens, True)
