"""The one text form every later stage reads: lower case, numbers as digits, typos repaired.

Typed and spoken commands meet here: "drag forty, fifty to forty, sixty" and "dagr 40,50 to 40,60"
both become "drag 40, 50 to 40, 60"; the training corpus goes through the same function, so the
intent model sees at inference exactly the kind of text it was trained on.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from .corpus import CORPUS_PATH
from .intents import AMOUNTS, prepare, rule_intent
from .normalize import expand_contractions, strip_fillers, tidy
from .number_words import words_to_numbers
from .vocabulary import repair_typos


@lru_cache(maxsize=1)
def _abbreviations() -> tuple[re.Pattern, dict[str, str]]:
    """Chat spellings ("pls", "gimme") from the phrase data, as whole words; else "pls" reads "plus"."""
    table = json.loads(CORPUS_PATH.read_text())["abbreviations"]
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(" + "|".join(re.escape(w) for w in words) + r")(?![\w'])"), table


def expand_abbreviations(text: str) -> str:
    pattern, table = _abbreviations()
    return pattern.sub(lambda m: table[m.group(1)], text)


# A simile that ends a clause says "a lot": "eyes like saucers", "open up like a cave", "a grin as
# wide as the Cheshire cat's". It must go before the fillers, which drop a lone "like". Comparisons
# with a state of the picture ("like before", "as it was") are not similes.
_SIMILE = re.compile(r"\b(?:like (?:a |an )?(?!(?:before|this|that|it|them|earlier|the original|normal|usual)\b)[a-z']+"
                     r"|as [a-z]+ as (?:a |an |the )?(?!(?:before|it|they|possible|you|i|that|this)\b)[a-z']+(?: [a-z']+)?)"
                     r"(?=\s*(?:[,.!?;]|$))")


def similes_as_amounts(text: str) -> str:
    """An amount said outright (the rules' own amount words) wins: "slim the nose down a little,
    like a ballerina's"."""
    if rule_intent(prepare(text)).amount != AMOUNTS["default"]:
        return text
    return _SIMILE.sub(lambda m: f"{m.group(0)} a lot", text)


def canonical(text: str) -> str:
    """Tidy, chat spellings and spoken numbers spelt out, typo repair, similes as "a lot", then
    fillers and polite wrappers removed."""
    text = repair_typos(words_to_numbers(expand_abbreviations(tidy(text))))
    return strip_fillers(expand_contractions(similes_as_amounts(text)))
