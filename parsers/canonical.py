"""The one text form every later stage reads: lower case, numbers as digits, typos repaired.

Typed and spoken commands meet here: "drag forty, fifty to forty, sixty" and "dagr 40,50 to 40,60"
both become "drag 40, 50 to 40, 60"; the training corpus goes through the same function, so the
intent model sees at inference exactly the kind of text it was trained on.
"""

from __future__ import annotations

from .normalize import expand_contractions, strip_fillers, tidy
from .number_words import words_to_numbers
from .vocabulary import repair_typos


def canonical(text: str) -> str:
    """Tidy, digits for spoken numbers, typo repair, then fillers and polite wrappers removed."""
    text = repair_typos(words_to_numbers(tidy(text)))
    return strip_fillers(expand_contractions(text)) or text
