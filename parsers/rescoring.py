"""Second guesses for a transcript the parser cannot read, chosen by Whisper's own score.

tiny.en hears "make the door wider" for "make the jaw wider", "same the picture" for "save the
picture", "please shut your mind" for "please shut his eyes": one or two words are wrong and
they are the words that matter. When the parser does not understand the greedy transcript, each
word that is not a function word (and each pair of neighbouring words around one) is replaced in
turn by each of the app's key words (parts, actions, commands); Whisper scores every candidate
as a whole transcript of the same audio in one batched pass, and the best candidate the parser
does understand replaces the greedy text if Whisper finds it nearly as likely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words a misheard command most often needs back: its part, its verb, or the command itself.
KEY_WORDS = ("mouth", "lips", "eyes", "eye", "eyebrows", "eyebrow", "nose", "chin", "jaw", "face", "head", "hair",
             "open", "close", "shut", "raise", "lower", "bigger", "smaller", "wider", "narrower", "longer",
             "shorter", "smile", "frown", "blink", "wink", "save", "undo", "redo", "reset", "quit", "help",
             "history", "steps", "mask", "stop", "left", "right")
_FUNCTION = frozenset("the a an her his their its it them this that is are be to of and or please make can you "
                      "could would i me my your so too very a bit little more less".split())
_WORD = re.compile(r"[A-Za-z']+")


@dataclass
class RescoreConfig:
    """How far a candidate may fall below the greedy transcript's log-probability and still win."""

    margin: float = 6.0
    max_candidates: int = 160


def _sentence(words: list[str], end: str) -> str:
    """Whisper's own way of writing a command: capital first letter, closing full stop. Its score
    for "make the jaw wider" was 10 nats below "Make the jaw wider." on the same audio."""
    text = " ".join(words)
    return text[:1].upper() + text[1:] + end


def candidates(text: str, config: RescoreConfig | None = None) -> list[str]:
    """`text` with one content word, or a pair of words around one, replaced by a key word."""
    config = config or RescoreConfig()
    end = "." if text.rstrip().endswith(".") or not text.rstrip()[-1:] in "?!" else text.rstrip()[-1]
    words = _WORD.findall(text)
    lower = [w.lower() for w in words]
    out: list[str] = []
    for i, w in enumerate(lower):
        suspicious = w not in _FUNCTION
        spans = [(i, i + 1)] if suspicious else []
        if i + 1 < len(words) and (suspicious or lower[i + 1] not in _FUNCTION):
            spans.append((i, i + 2))
        for start, stop in spans:
            for key in KEY_WORDS:
                if key != " ".join(lower[start:stop]):
                    out.append(_sentence(words[:start] + [key] + words[stop:], end))
    seen, unique = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique[:config.max_candidates]


def first_sentence_if_repeated(text: str) -> str | None:
    """"Open the mouth wide. Open the mouth wide" (a decoding loop) -> "Open the mouth wide"."""
    sentences = [s.strip() for s in re.split(r"[.!?]+", text) if s.strip()]
    if len(sentences) >= 2 and all(s.lower() == sentences[0].lower() for s in sentences[1:-1]) and \
            sentences[0].lower().startswith(sentences[-1].lower()):
        return sentences[0]
    return None
