"""The app's whole vocabulary and typo repair against it.

A typo in a command word ("udno", "sav it", "quti", "cancell", "dagr") must be repaired as
surely as one in a part name, so the targets are every word the app's phrase data
(`corpus.json`) and rules use, command words included. Common English words are never changed
("think" is not "thin", "lion" is not "lips"), and repair keeps the first letter (or a swap of
the first two), so unrelated words are not bent into commands. A word spelt with the same letters
in another order ("dagr") counts as one slip.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from .corpus import CORPUS_PATH
from .embeddings import EmbeddingError, common_words, model_path
from .normalize import allowed_typos, damerau

# Words whose misspelling is most costly to miss: each one is a whole command.
COMMAND_WORDS = frozenset("undo redo reset cancel stop save help quit exit history steps drag points handle target "
                          "mask clear".split())

_WORD = re.compile(r"[a-z]+")


def _phrase_words(node) -> set[str]:
    if isinstance(node, str):
        return set(_WORD.findall(re.sub(r"\{[a-z]+\}", " ", node.lower())))
    if isinstance(node, dict):
        return set().union(*(_phrase_words(v) | _phrase_words(k) for k, v in node.items())) if node else set()
    if isinstance(node, list):
        return set().union(*(_phrase_words(v) for v in node)) if node else set()
    return set()


@lru_cache(maxsize=1)
def app_words() -> frozenset[str]:
    """Every word of the phrase data and of the intent rules (not its prose, not its out-of-scope examples)."""
    from .intents import rule_words

    data = json.loads(CORPUS_PATH.read_text())
    data.pop("about", None)
    data["commands"].pop("none", None)  # "add a cat" is out of scope: "cat" is no word of the app
    return frozenset(w for w in _phrase_words(data) | rule_words() if len(w) > 1)


@lru_cache(maxsize=1)
def protected_words() -> frozenset[str]:
    return common_words() | app_words()


@lru_cache(maxsize=1)
def _frequency_rank() -> dict[str, int]:
    """MiniLM's WordPiece vocabulary is frequency-ordered: its position breaks ties ("teh" -> "the")."""
    try:
        lines = (model_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (EmbeddingError, OSError):
        return {}
    return {w: i for i, w in enumerate(lines)}


@lru_cache(maxsize=1)
def _tiers() -> dict[str, int]:
    from .intents import meaningful_words

    meaningful = meaningful_words()
    return {w: 0 if w in COMMAND_WORDS else 1 if w in meaningful else 2 for w in app_words()}


def _distance(word: str, candidate: str, limit: int) -> int:
    if len(word) >= 4 and sorted(word) == sorted(candidate):
        return 1
    return damerau(word, candidate, limit)


@lru_cache(maxsize=8192)
def closest(word: str) -> str:
    """The app word `word` is a slip for: fewest edits, then command words, then action and part
    words, then the closer length, then the more frequent word; `word` itself if none is close."""
    limit = allowed_typos(word)
    if limit == 0 or word in protected_words():
        return word
    tiers, rank = _tiers(), _frequency_rank()
    best, best_key = word, None
    for candidate, tier in tiers.items():
        if candidate[0] != word[0] and candidate[:2] != word[1::-1]:
            continue
        allowed = min(limit, allowed_typos(candidate))
        if abs(len(candidate) - len(word)) > allowed:
            continue
        d = _distance(word, candidate, allowed)
        if d > allowed:
            continue
        key = (d, tier, abs(len(candidate) - len(word)), rank.get(candidate, 10 ** 6), candidate)
        if best_key is None or key < best_key:
            best, best_key = candidate, key
    return best


_TOKEN = re.compile(r"(?<![\w./~-])[a-z]+(?![\w./~-])")


def repair_typos(text: str) -> str:
    """`text` (lower case) with each unknown plain word replaced by the closest app word, if close.

    Only whole words between spaces or punctuation are touched, so paths ("out.png") and
    coordinates stay as typed.
    """
    return _TOKEN.sub(lambda m: closest(m.group(0)), text)
