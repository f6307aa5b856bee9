"""Whose part is meant: the person in the picture, or someone (something) who is not there.

"open the lion's mouth" on a portrait must not edit the portrait: the parser answers that there
is no lion. A possessor or an object of "make/let/have" that is neither a person word, a
pronoun, nor a word of the app's vocabulary (parts, "face", "picture") names a subject the
picture does not show; so does a thing placed relative to the person ("close the window behind
her"), which is scenery even when its word is also a command's ("close the window" quits). A capitalised possessor in the original text is a name ("Anna's eyes"),
so a person.
"""

from __future__ import annotations

import re

from .vocabulary import app_words

PEOPLE = frozenset("""person people man woman men women guy girl boy lady gentleman kid child baby subject model
she he her him his hers they them their someone somebody everyone she's he's portrait me my mine myself you your
wife husband friend mom mum dad mother father sister brother son daughter grandma grandpa aunt uncle boyfriend
girlfriend partner teenager teen adult player actor actress singer customer client user face picture photo image
left right one other this that what who where there here how everything nothing something""".split())
# A possessor counts only with a body word among the next three words: "the lion's (big) mouth",
# not "the lighting's fine" (a contraction of "is").
_POSSESSOR = re.compile(r"\b([a-z]+)(?:'s|s')\s+((?:[a-z]+\s*){1,3})")
# "the eyebrows of the statue", "the eyes on that doll": only after a body word ("mistake 47 of the
# day", "the party of the first part" name no one).
_OF_THE = re.compile(r"\b([a-z]+) (?:of|on) (?:the|a|that|this) ([a-z]+)\b")
# "make the cat smile", "make a dog smile"; "have" and "get" only with a definite object: "if you
# have a moment" and "when you get a chance" have no subject in them.
_CAUSATIVE = re.compile(r"\b(?:(?:make|let) (?:the|a|that|this)|(?:get|have) (?:the|that|this)) ([a-z]+)\b")
# Something placed relative to the person ("the window behind her") is scenery, not a face part.
_SCENERY = re.compile(r"\b(?:the|a|that|this) ([a-z]+) (?:behind|beside|next to|in front of|above|below|near|around) "
                      r"(?:her|him|them|the person|the woman|the man)\b")


def _names(raw: str) -> set[str]:
    """Capitalised words that do not start a sentence: names, so people."""
    return {m.group(1).lower() for m in re.finditer(r"(?<=[a-z,] )([A-Z][a-z]+)", raw)}


def absent_subject(text: str, raw: str = "") -> str | None:
    """The subject named in `text` (canonical) that is not a person in the picture, or None."""
    names = _names(raw)
    known = app_words()
    body = _part_words() | _BODY
    candidates = [m.group(2) for m in _OF_THE.finditer(text)
                  if m.group(1) in body and (m.group(2) not in known or m.group(2) in _BEINGS)]
    candidates += [m.group(1) for m in _CAUSATIVE.finditer(text) if m.group(1) not in known or m.group(1) in _BEINGS]
    candidates += [m.group(1) for m in _SCENERY.finditer(text)]
    possessors = [m.group(1) for m in _POSSESSOR.finditer(text) if set(m.group(2).split()) & body]
    for word in possessors + candidates:
        if word in PEOPLE or word in names or word in _part_words():
            continue
        return word
    return None


# Words of the app's data that, after "of the" or "make the", still name someone else.
_BEINGS = frozenset("cat dog lion horse bird statue robot doll monkey tiger bear fish baby".split()) - PEOPLE
# Body words beyond the app's parts, which other beings have: "the horse's ears".
_BODY = frozenset("ear ears tail paw paws whiskers beak snout muzzle mane fur teeth tooth tongue forehead cheek "
                  "horns horn wings wing trunk".split())


def _part_words() -> frozenset[str]:
    from .intents import part_words

    return part_words()
