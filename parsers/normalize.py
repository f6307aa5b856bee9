"""Text clean-up shared by the grammar and the intent rules.

Speech transcripts and typed lines carry fillers ("um", "like", "you know") and polite wrappers
("could you please ..."); removing them first lets the grammar stay strict and the rules small.
Typos are repaired word by word against the vocabulary the rules know, with an edit distance
that grows with word length and a first letter that must match (or be swapped with the second:
"oepn"), so unrelated words ("brighter", "weather") are not bent into commands.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_CHARS = 300

_FILLERS = [
    r"\bum+\b", r"\buh+\b", r"\buhm+\b", r"\berm+\b", r"\bhmm+\b", r"(?<!say )\bah+\b", r"\boh+\b",
    r"\byou know\b", r"\bi mean\b", r"\bkind of\b", r"\bsort of\b", r"\bkinda\b", r"\bsorta\b",
    r"\bbasically\b", r"\bactually\b", r"\bjust\b", r"^like\b",
    r"(?<!i'd )(?<!would )(?<!i )\blike\b(?=,|$| (make|can|the|her|his|their|its|a|open|close|raise|lower|move|turn)\b)",
    r"^(so|ok|okay|well|alright|now|and|hey|hi|yeah|yes)\b,?", r"\bthanks?( you)?\b",
    r"\bplease\b", r"\bkindly\b",
]
_POLITE = [
    r"^(can|could|would|will) you( maybe| possibly)?", r"^(i want|i'd like|i would like|i need|i wish) (you )?to",
    r"^(i want|i'd like|i would like|i need) (the|her|his|their|its)\b", r"^let's", r"^let us", r"^try to", r"^go ahead and",
    r"^(do you think you could|is it possible to|how about you)", r"^(i want|i'd like|i would like)\b",
]
_FILLER_RE = re.compile("|".join(_FILLERS))
_POLITE_RE = [re.compile(p) for p in _POLITE]
_CONTRACTIONS = {"don't": "do not", "dont": "do not", "doesn't": "does not", "shouldn't": "should not",
                 "can't": "can not", "cannot": "can not", "won't": "will not", "isn't": "is not",
                 "let's": "let us", "she's": "she is", "he's": "he is", "it's": "it is",
                 "i'd": "i would", "wouldn't": "would not", "didn't": "did not", "aren't": "are not"}


# Right-pointing arrows of every shape ("→", "⇒", "⟶", "➜", "➡"): one "->" (some are
# pictographs, so this runs before those are dropped). Left arrows are not guessed at.
_ARROWS = re.compile("[\u2192\u21a6\u21d2\u21e8\u21fe\u27f6\u27f9\u2794\u279c\u279d\u279e\u27a1\u2b95]")


def tidy(text: str) -> str:
    """Lower case, unify quotes and spaces; keeps digits and the punctuation coordinates use."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = _ARROWS.sub(" -> ", text.lower())
    text = "".join(" " if _is_emoji(c) else c for c in text)
    return re.sub(r"\s+", " ", text).strip()


def _is_emoji(c: str) -> bool:
    """Pictographs, their variation selectors and skin tones: decoration, never a command word."""
    return unicodedata.category(c) == "So" or "\ufe00" <= c <= "\ufe0f" or "\U0001f3fb" <= c <= "\U0001f3ff"


def strip_fillers(text: str) -> str:
    """Remove fillers and polite wrappers, repeatedly, from a `tidy` text."""
    previous = None
    while previous != text:
        previous = text
        text = _FILLER_RE.sub(" ", text)
        text = re.sub(r"\s+", " ", text).strip(" ,.!?;:")
        for pattern in _POLITE_RE:
            text = pattern.sub(" ", text).strip(" ,.!?;:")
        text = re.sub(r"\s+", " ", text).strip()
    return text


def expand_contractions(text: str) -> str:
    return " ".join(_CONTRACTIONS.get(w, w) for w in text.split(" "))


def words(text: str) -> list[str]:
    """Word tokens; clause punctuation becomes its own token so negation scope can end there."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?|[,;.!?]", text)


def damerau(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, giving up (limit + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def allowed_typos(word: str) -> int:
    return 0 if len(word) <= 2 else 1 if len(word) <= 7 else 2


@lru_cache(maxsize=4096)
def _correct_cached(word: str, targets: frozenset[str], preferred: frozenset[str], protected: frozenset[str]) -> str:
    limit = allowed_typos(word)
    if word in targets or word in protected or limit == 0 or not word.isalpha():
        return word
    best, best_key = word, (limit + 1, 1, 0)
    for candidate in sorted(targets):
        if candidate[0] != word[0] and candidate[:2] != word[1::-1]:
            continue
        allowed = min(limit, allowed_typos(candidate))
        if abs(len(candidate) - len(word)) > allowed:
            continue
        d = damerau(word, candidate, allowed)
        key = (d, 0 if candidate in preferred else 1, abs(len(candidate) - len(word)))
        if d <= allowed and key < best_key:
            best, best_key = candidate, key
    return best


def correct(tokens: list[str], targets: frozenset[str], preferred: frozenset[str] = frozenset(),
            protected: frozenset[str] = frozenset()) -> list[str]:
    """Replace each unknown word by the closest of `targets` within its typo allowance.

    Words in `protected` (common English) are never changed. Ties go to `preferred` words (the
    ones that carry meaning), then to the closer length, so "opne" becomes "open", not "one".
    """
    return [_correct_cached(t, targets, preferred, protected) for t in tokens]
