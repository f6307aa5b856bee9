"""Self-corrections: "open the eyes, no wait, the mouth" asks to open the mouth.

People fix a command while saying it, and a transcript keeps both halves. What follows the last
correction marker replaces what it names of the first half: a part ("no wait, the mouth"), a
side ("I mean the right one"), an amount ("well, not a lot, just a little"), an action
("actually no, smaller") or a direction ("scratch that, to the right"); a complete command after
the marker ("*lips, widen the lips") simply replaces the first one. The markers are a small
closed class, so a rule reads them exactly; it runs on `tidy` text, before fillers such as
"actually" and "I mean" are stripped.
"""

from __future__ import annotations

import dataclasses
import re

from .intents import AMOUNTS, TURNS_AND_MOVES, Intent

_LEAD = r"(?:(?:uh|um|er|oh|ah)+,?\s+)?"
_MARKERS = (r"no,? wait|wait,? no|scratch that|strike that|actually,? no|no,? actually|sorry,? i meant?|i meant?|"
            r"or rather|make that|correction|no,? no|well,? not(?= a lot| that much| so)|no(?=,)")
# After clause punctuation (or a dash) only, so "no mask" or "I mean it" inside a clause stay.
_MARKER = re.compile(rf"(?:[,.;:!?]+|\s[-\u2013\u2014]+)\s*{_LEAD}(?:{_MARKERS})\b[,:.!]*\s*")
# Chat-style "*word": the word replaces one just typed ("widen the mouth *lips").
_STAR = re.compile(r"\s\*(?=[a-z])")


def split_correction(text: str) -> tuple[str, str] | None:
    """(what was first said, the correction) at the last marker in a `tidy` text, or None."""
    cuts = [(m.start(), m.end()) for m in _MARKER.finditer(text)] + [(m.start(), m.end()) for m in _STAR.finditer(text)]
    if not cuts:
        return None
    start, end = max(cuts)
    base, fix = text[:start].strip(" ,.;:-"), text[end:].strip(" ,.;:!?")
    if not re.search(r"[a-z]", base) or not re.search(r"[a-z]", fix):
        return None
    return base, fix


def corrected(intent: Intent, fix: Intent) -> Intent:
    """`intent` with what the correction names put in its place."""
    changes: dict = {}
    if fix.part is not None:
        changes["part"] = fix.part
        if fix.side is None:
            changes["side"] = None
    if fix.side is not None:
        changes["side"], changes["side_frame"] = fix.side, fix.side_frame
    if fix.amount != AMOUNTS["default"]:
        changes["amount"] = fix.amount
    if fix.action is not None:
        action = fix.action
        if intent.action in TURNS_AND_MOVES and action in TURNS_AND_MOVES:
            action = f"{intent.action.split('_')[0]}_{action.split('_')[1]}"
        changes["action"] = action
    if not changes:
        return intent
    notes = intent.notes + ["went with the correction"]
    return dataclasses.replace(intent, notes=notes, **changes)
