"""Negation scope, by rule: which clauses of a sentence ask for something and which refuse it.

"don't open the mouth" asks for nothing (the parser says so and changes nothing); "not open,
close her eyes" and "close her eyes instead of opening them" ask for the clause that is not
negated. A negation that belongs to a description is not a refusal: "her nose shouldn't be
that wide" and "the mouth is not open enough" are complaints, which the intent model reads as
requests for the opposite, so a cue right after or before a copula ("be", "is", "look") leaves
the clause alone. Works on `canonical` text (contractions already expanded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CLAUSE = re.compile(r"\s*(?:[,;.!?]|\s-{1,2}\s|[\u2013\u2014]|\bbut\b|\bthen\b|\band\b)\s*")
_CUES = {"not", "never"}
_COPULAS = {"be", "is", "are", "was", "were", "look", "looks", "seem", "seems", "feel", "feels", "appear", "appears",
            "need", "needs", "have", "has", "enough", "like", "too", "so", "that", "as", "quite", "very"}
_LEAD_INS = {"do", "does", "whatever", "please", "i", "you", "just", "so", "ok", "okay", "now", "no", "actually", "wait", "oh",
             "hmm", "well", "sorry", "can", "could", "would", "should", "we", "let", "us", "it", "instead",
             "rather", "nope"}
_INSTEAD_OF = re.compile(r"\b(?:instead of|rather than)\b")
# Refusals said without "not": rewritten to "not ..." so one scope rule reads them all.
_UNCHANGED = r"(?:exactly |just )?(?:alone|as it is|as they are|as is|untouched|unchanged|the same|the way (?:it is|they are))"
_REFUSALS = [(re.compile(r"\b(?:there is )?no need to\b"), "not"),
             (re.compile(rf"\b(?:leave|keep) (.+?) {_UNCHANGED}\b"), r"not touch \1"),
             (re.compile(r"\bthe last thing (?:i|we) (?:want|need) is (?:for )?(.+?) to\b"), r"not \1"),
             (re.compile(r"\bthe last thing (?:i|we|you) (?:(?:would|should|will|could) )?(?:ever )?(?:do|want) is (?:to )?"),
              "not "),
             # "under no circumstances should the nose be shrunk": a passive refusal, said actively
             (re.compile(r"\b(?:under no circumstances|on no account|in no way|by no means),? (?:\([^)]*\) )?"
                         r"(?:should|must|may|is|are) "
                         r"(.+?) (?:to )?be\b"), r"not \1"),
             (re.compile(r"\b(?:under no circumstances|on no account|in no way|by no means),? (?:\([^)]*\) )?"
                         r"(?:should|must|may) "
                         r"(?:you |we )?"), "not "),
             # "forget the eyes, lower the chin": a part set aside before what is asked instead
             (re.compile(r"^(?:forget(?: about)?|never mind|skip) ((?:the|her|his|their) [a-z ]+?)\s*(?=[,;]|\s-)"),
              r"not touch \1")]
# Suggestions and rhetorical questions that carry a "not" without refusing anything: "why not
# smile", "why do not you smile", "who would not want her to smile more?", "would not her face
# look better narrower?" (a question opened by a negated auxiliary and its subject).
_SUGGESTIONS = [(re.compile(r"\bwhy (?:do not (?:you|we) |not )"), ""),
                (re.compile(r"\bwho (?:would|could|does|do) not (?=(?:want|love|like|prefer|enjoy)\b)"), ""),
                (re.compile(r"(^|[.!?;] )(would|could|should|is|are|was|will|can|might) not "
                            r"(?=(?:her|his|their|the|it|this|that|they|you|we|she|he)\b)"), r"\1\2 ")]


@dataclass
class Clauses:
    """`asked`: the text of clauses that ask for something; `refused`: negated requests, cue removed."""

    asked: str
    refused: list[str] = field(default_factory=list)


def _refusal(words: list[str]) -> tuple[list[str], list[str]] | None:
    """(words before the cue, words it negates), or None if the clause holds no refusal."""
    for k, w in enumerate(words):
        if w not in _CUES:
            continue
        before = words[k - 1] if k else ""
        after = words[k + 1] if k + 1 < len(words) else ""
        if before in _COPULAS or after in _COPULAS or before in ("should", "could", "would", "must") and after == "be":
            return None
        negated = words[k + 1:]
        return words[:k], negated[1:] if negated[:1] == ["ever"] else negated
    return None


def _content(words: list[str]) -> list[str]:
    return [w for w in words if w not in _LEAD_INS]


def split_clauses(text: str) -> Clauses:
    asked: list[str] = []
    refused: list[str] = []
    for pattern, replacement in _SUGGESTIONS:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _REFUSALS:
        text = pattern.sub(replacement, text)
    m = _INSTEAD_OF.search(text)
    if m:
        head, tail = text[:m.start()], text[m.end():]
        pieces = _CLAUSE.split(tail, maxsplit=1)
        refused.append(pieces[0].strip())
        text = " ".join([head] + pieces[1:])
    if re.match(r"^no\b\s*[,.!]", text):
        text = re.sub(r"^no\b\s*[,.!]\s*", "", text)
    pending = False  # "never, ever widen the eyes": a cue said alone negates the clause after it
    for clause in _CLAUSE.split(text):
        words = clause.split()
        if pending and _content(words):
            refused.append(" ".join(w for w in words if w != "ever"))
            pending = False
            continue
        found = _refusal(words)
        if found is None:
            asked += words
            continue
        before, negated = found
        if not negated and not _content(before):
            pending = pending or not any(w not in _CUES | {"ever"} for w in before)
            continue
        if not negated:  # "weep not": the cue after its verb, as in older English
            refused.append(" ".join(before))
            continue
        if _content(before):
            asked += before
        refused.append(" ".join(negated))
    return Clauses(" ".join(_content_sentence(asked)), [r for r in refused if r])


def _content_sentence(words: list[str]) -> list[str]:
    """The asked words, or nothing if they are only lead-ins ("do", "please")."""
    return words if _content(words) else []


@dataclass
class Contrast:
    """A sentence split before its last request: `head` the words before, `request` what follows."""

    head: str
    request: str
    after_then: bool  # "first breathe, then undo": taken only when the head asks for nothing


def contrast_clause(text: str) -> Contrast | None:
    """The clause after the last "but", ", so", "then" or sentence end when words come before it:
    in "her hair is a mess but close her mouth", "the lighting is fine, but the nose needs to be
    smaller", "he's frowning in it, the poor dear, so could you make him smile", "the mouth is
    still shut. open it." or "first breathe, then undo" the request is what follows. The parser
    uses it only when it reads as a request on its own."""
    cut, sep = max((text.rfind(sep), sep) for sep in (" but ", ", so ", ". ", "! ", "? ", " then "))
    if cut < 0:
        return None
    head, tail = text[:cut].strip(" ,"), text[cut + len(sep):]
    if len(head.split()) < 2 or not _content(tail.split()):
        return None
    return Contrast(head, tail.strip(" ,.!?"), sep == " then ")
