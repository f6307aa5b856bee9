"""The exact slots of an edit, read by rule: sides, amounts, pixels, directions, pronouns.

`rule_intent` also reads an action and a part from its lexicons; the parser takes those from the
trained intent model (`intent_model.py`) and uses the rules' only where the model has no answer
or for directions ("to her left" is the image's right), which are exact. Their lexicons are also
part of the vocabulary typo repair works against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .embeddings import common_words
from .normalize import MAX_CHARS, correct, expand_contractions, strip_fillers, tidy, words

ACTIONS = ("open", "close", "widen", "narrow", "raise", "lower", "move_left", "move_right", "enlarge",
           "shrink", "smile", "frown", "turn_left", "turn_right")
OPPOSITE = {"open": "close", "widen": "narrow", "raise": "lower", "move_left": "move_right",
            "enlarge": "shrink", "smile": "frown", "turn_left": "turn_right", "lengthen": "shorten"}
OPPOSITE.update({v: k for k, v in list(OPPOSITE.items())})
# Verbs whose meaning depends on the part (a longer nose is a lower tip, longer hair is more hair):
# the atlas's aliases turn them into one of ACTIONS, else these defaults do.
PART_DEPENDENT = {"lengthen": "enlarge", "shorten": "shrink"}
PARTS = ("mouth", "lips", "upper lip", "lower lip", "mouth corners", "eyes", "eyebrows", "nose", "chin",
         "jaw", "face", "head", "hair")
SIDED_PARTS = ("eyes", "eyebrows", "mouth corners")
AMOUNTS = {"slight": 0.5, "default": 1.0, "large": 2.0}
TURNS_AND_MOVES = ("move_left", "move_right", "turn_left", "turn_right")

# word -> (action, strength). Verbs (2) beat particles and adverbs (1): "open up" is open.
_ACTION_WORDS: dict[str, tuple[str, int]] = {}
for _action, _strength, _words in [
    ("open", 2, "open opens opened opening unclose gape gaping agape yawn yawning apart parted ajar"),
    ("close", 2, "close closes closed closing shut shuts shutting seal blink blinking wink winking together"),
    ("widen", 2, "widen widens widened widening wider broaden broader broadened stretch stretched wide "
                 "rounder round chubby chubbier fatter"),
    ("narrow", 2, "narrow narrows narrowed narrowing narrower slim slimmer slimmed squint squinting pinch pinched "
                  "thin thinner slender purse pursed pout pouting pucker puckered pointy pointier sharper"),
    ("raise", 2, "raise raises raised raising lift lifts lifted lifting elevate elevated rise arch arched hike perk"),
    ("raise", 1, "up upward upwards higher"),
    ("lower", 2, "lower lowers lowered lowering drop drops dropped droop droops drooping sag sagging sink"),
    ("lower", 1, "down downward downwards"),
    ("enlarge", 2, "enlarge enlarged enlarges bigger larger grow grows increase expand expanded magnify "
                   "fuller plump plumper thicker bulk swell"),
    ("enlarge", 1, "huge big large volume voluminous"),
    ("enlarge", 2, "puff puffy puffier fluff fluffy fluffier"),
    ("lengthen", 2, "longer lengthen lengthened elongate elongated"),
    ("shorten", 2, "shorter shorten shortened"),
    ("shrink", 2, "shrink shrinks shrunk smaller reduce reduced decrease tinier tiny small compact flat flatter "
                  "flatten flattened"),
    ("smile", 2, "smile smiles smiled smiling grin grins grinning happy happier cheerful joyful laugh "
                 "laughing beam beaming"),
    ("frown", 2, "frown frowns frowned frowning sad sadder unhappy grumpy scowl scowling gloomy upset "
                 "miserable sulk sulking glum sullen grim disappointed depressed cry crying tearful sorrowful "
                 "mournful displeased"),
    ("smile", 2, "glad pleased delighted amused friendly smirk smirking joy content"),
    # Emotions that live in one part (the part is implied, see _IMPLIED_PART).
    ("lower", 2, "angry angrier mad furious stern sterner annoyed irritated suspicious fierce menacing "
                 "furrow furrowed"),
    ("raise", 2, "worried anxious nervous scared afraid fearful frightened curious skeptical sceptical "
                 "puzzled confused questioning inquisitive"),
    ("close", 2, "sleepy tired drowsy asleep sleeping dozing bored"),
    ("open", 2, "awake alert"),
]:
    for _w in _words.split():
        _ACTION_WORDS[_w] = (_action, _strength)

_PART_WORDS = {
    "mouth": "mouth", "mouths": "mouth", "lips": "lips", "lip": "lips", "upperlip": "upper lip",
    "lowerlip": "lower lip", "mouthcorners": "mouth corners", "eye": "eyes", "eyes": "eyes", "eyelid": "eyes",
    "eyelids": "eyes", "lids": "eyes", "eyebrow": "eyebrows", "eyebrows": "eyebrows", "brow": "eyebrows",
    "brows": "eyebrows", "nose": "nose", "nostrils": "nose", "chin": "chin", "jaw": "jaw", "jawline": "jaw",
    "face": "face", "cheeks": "face", "head": "head", "hair": "hair", "hairline": "hair", "fringe": "hair",
    "bangs": "hair", "hairdo": "hair", "haircut": "hair", "eyeball": "eyes", "eyeballs": "eyes",
    "nostril": "nose", "cheek": "face", "hairstyle": "hair",
}
_MOVE_VERBS = {"move", "moves", "shift", "slide", "push", "pull", "bring", "put", "nudge", "drag", "go", "tilt"}
_TURN_VERBS = {"turn", "turns", "rotate", "rotated", "look", "looking", "glance", "swivel"}
_NEGATIONS = {"not", "no", "never", "without", "stop", "instead", "rather", "nor", "remove", "removing", "lose",
              "wipe", "undo"}
_CLAUSE_BREAKS = {",", ";", ".", "!", "?", "but", "then"}
_PRONOUNS = {"it", "them", "that", "this", "those", "these"}
_DETERMINERS = {"the", "a", "an", "her", "his", "their", "its", "my", "your", "this", "that", "some"}
_SLIGHT = {"slightly", "slight", "subtly", "subtle", "gently", "somewhat", "barely", "tad", "touch", "bit",
           "little", "littlebit", "marginally", "lightly", "faintly", "smidge"}
_LARGE = {"alot", "lot", "much", "very", "really", "way", "significantly", "dramatically", "hugely",
          "extremely", "fully", "completely", "wide", "totally", "lots", "massively", "super", "loads"}
_FUNCTION_WORDS = ("the a an her his their its it them this that these those of to on in at and or but make "
                   "let do does not no more less bit little lot side both all some so too much very look looks "
                   "be is are can you me my your they she he with without instead rather than one two is "
                   "left right image picture photo person subject man woman guy girl boy lady face way should "
                   "could would will get got have has keep give show showing teeth surprised shocked smiling "
                   "who what which where when how now again then also each same other him hers theirs us we i am "
                   "was were been being there here into onto over under for from by if as just only want need "
                   "like try little please thing things something bit go going gonna wanna see say said tell "
                   "good great nice well okay ok yes why because about after before while still even pixel "
                   "pixels px more less again further back another once time same going").split()

# "X is too small" -> the comparative that fixes it.
_TOO = {"small": "bigger", "little": "bigger", "tiny": "bigger", "big": "smaller", "large": "smaller",
        "huge": "smaller", "wide": "narrower", "broad": "narrower", "narrow": "wider", "thin": "wider",
        "high": "lower", "low": "higher", "long": "shorter", "short": "longer", "open": "closed",
        "closed": "open", "flat": "fuller", "full": "thinner", "happy": "sadder", "smiley": "sadder",
        "sad": "happier", "serious": "happier", "grumpy": "happier"}
# Multi-word expressions rewritten to single tokens before scanning (applied after typo repair, in order).
_TARGET = r"(?=(the |her |his |their |both |left |right )?(mouth|lips?|eyes?|eyebrows?|brows?|chin|head|nose|jaw|hair))"
_PHRASES: list[tuple[str, str | Callable[[re.Match], str]]] = [
    # Speech-to-text homophones, only where a part follows (so "change her clothes" stays clothes).
    (r"\b(i|eye|ai) ?brows?\b", "eyebrows"),
    (r"\b(i|eye) ?lids?\b", "eyelids"),
    (r"\b(i's|ayes|eyes's)\b", "eyes"),
    (r"\bclothes? " + _TARGET, "close "),
    (r"\b(rays|raze|rase|race) " + _TARGET, "raise "),
    (r"\b(mouse|mouths)\b", "mouth"),
    (r"\b(is|are|looks?|seems?|was|were) (way |much |a bit |slightly |a little )?too (" + "|".join(_TOO) + r")\b",
     lambda m: _TOO[m.group(3)]),
    (r"\bturn (the |her |his |their |that |this )?[a-z]+ into (a |an )?", ""),
    (r"\b(upper|top) lips?\b", "upperlip"),
    (r"\b(lower|bottom) lips?\b", "lowerlip"),
    (r"\b(the )?corners? of (her|his|their|the|its) (mouth|lips)\b", "mouthcorners"),
    (r"\b(mouth|lip) (left|right) corners?\b", r"\2 mouthcorners"),
    (r"\b(mouth|lip) corners?\b", "mouthcorners"),
    (r"\bcorners? of (the )?(mouth|lips)\b", "mouthcorners"),
    (r"\bpart(s|ed|ing)? (her |his |their |the )?(lips|mouth)\b", "open lips"),
    (r"\b(lips|mouth) (to )?part(s|ed|ing)?\b", "open lips"),
    (r"\b(left|right) (side|corner|half|end) of (her |his |their |the )?(mouth|lips)\b", r"\1 mouthcorners"),
    (r"\bless (of a |of an |of )?(?=[a-z])(?!(hair|volume)\b)", "not "),
    (r"\b(stick|sticks|sticking|jut|juts|jutting) out\b|\bprotrud(e|es|ing)\b", "bigger"),
    (r"\b(push|pushes|pushing|pout|pouts|thrust) (the |her |his |their )?(lowerlip|upperlip|lips|chin|jaw) out\b",
     r"bigger \3"),
    (r"\b(further|farther|more) apart\b", "wider"),
    (r"\bcloser together\b", "narrower"),
    (r"\bsay (ah+|aah+|oh+)\b", "open mouth"),
    (r"\b((have|make|let) (her|him|them) |^)face (the |to the )?(left|right)\b", r"turn head dir\5"),
    (r"\b(let )?(her |his |their |the )?jaw (drop|drops|dropped|fall|falls|hang|hangs)\b", "open mouth"),
    (r"\bdrop (her |his |their |the )?jaw\b", "open mouth"),
    (r"\b(look|looks|looking|seem|appear)? ?(surprised|shocked|astonished|amazed|stunned|in awe)\b", "open mouth"),
    (r"\bshow(ing)? (her |his |their |the |some )?teeth\b", "open mouth"),
    (r"\b(press|pressing|pressed) (her |his |their |the )?lips together\b", "close lips"),
    (r"\bwide open\b", "open alot"),
    (r"\bopen wide\b", "open alot"),
    (r"\b(a little bit|a tiny bit|a bit|a little|a tad|a touch|a smidge|just a bit)\b", "slightly"),
    (r"\b(a lot|a great deal|by a lot|heaps)\b", "alot"),
    (r"\b(do not|never) ([a-z]+)([a-z ]*?) too (much|far|wide|high|big|many)\b", r"\2\3 slightly"),
    (r"\bnot (too|so) (much|far|wide|high|big)\b", "slightly"),
    (r"\b(too|so) (much|far)\b", ""),
    (r"\b(on|at|in) the (left|right)( hand)?( side)?( of the (image|picture|photo))?\b", r"img\2"),
    (r"\b(on|at|in) the (image|picture|photo)('?s)? (left|right)\b", r"img\4"),
    (r"\b(left|right) ([a-z]+) (on|in) the (image|picture|photo)\b", r"img\1 \2"),
    (r"\b(left|right)most\b", r"img\1"),
    (r"\b(to|towards?) (her|his|their) (left|right)\b", r"subj\3"),
    (r"\b(to|towards?) the (left|right)\b", r"dir\2"),
    (r"\b(left|right)wards?\b", r"dir\1"),
    (r"\b(left|right)[- ]hand\b", r"\1"),
    (r"\bturn (her|his|their|the) head\b", "turn head"),
    (r"\bcheer (her|him|them)? ?up\b", "smile"),
    (r"\binstead of\b", "instead"),
    (r"\b(get rid of|take away|take off)\b", "remove"),
    (r"\brather than\b", "rather"),
    (r"\bmake (her|him|them|it|the person) look\b"
     r"(?! (to|left|right|up|down|away|at|towards?|dirleft|dirright|subjleft|subjright)\b)", "make"),
    (r"\bmore (?=(hair|volume)\b)", "bigger "),
    (r"\bless (?=(hair|volume)\b)", "smaller "),
]
_PHRASE_RE = [(re.compile(p), r) for p, r in _PHRASES]
# Parts an action implies when none is named (smile -> mouth); others need a part or "it".
_IMPLIED_PART = {"blink": "eyes", "blinking": "eyes", "wink": "eyes", "winking": "eyes", "squint": "eyes",
                 "squinting": "eyes", "arch": "eyebrows", "arched": "eyebrows", "yawn": "mouth", "yawning": "mouth",
                 "gape": "mouth", "gaping": "mouth", "agape": "mouth", "grin": "mouth", "grinning": "mouth",
                 "scowl": "eyebrows", "scowling": "eyebrows", "pursed": "lips", "purse": "lips", "pout": "mouth",
                 "pouting": "mouth", "pucker": "mouth", "puckered": "mouth", "smile": "mouth", "smiles": "mouth",
                 "grins": "mouth", "frown": "mouth", "frowns": "mouth"}
_IMPLIED_PART.update({w: "eyebrows" for w in "angry angrier mad furious stern sterner annoyed irritated suspicious "
                      "fierce menacing furrow furrowed worried anxious nervous scared afraid fearful frightened "
                      "curious skeptical sceptical puzzled confused questioning inquisitive".split()})
_IMPLIED_PART.update({w: "eyes" for w in "sleepy tired drowsy asleep sleeping dozing bored awake alert".split()})
# Things people name that the atlas cannot move: answered with what can be moved, never guessed.
UNSUPPORTED = _UNSUPPORTED = {"ear", "ears", "neck", "tongue", "forehead", "shoulder", "shoulders", "beard", "mustache",
                "moustache", "glasses", "skin", "freckles", "makeup", "background", "body", "hand", "hands",
                "arm", "arms", "teeth", "tooth", "cheekbones", "eyelashes", "lashes", "pupils", "irises"}
DEFAULT_PART = {"open": "mouth", "close": "mouth", "smile": "mouth", "frown": "mouth", "move_left": "head",
                "move_right": "head", "turn_left": "head", "turn_right": "head"}


@dataclass
class Intent:
    """An edit in words. `side` is the subject's own side unless `side_frame` is "image"."""

    action: str | None = None
    part: str | None = None
    side: str | None = None
    side_frame: str = "subject"
    amount: float = 1.0
    negated: bool = False
    pronoun: bool = False
    pixels: float | None = None
    unsupported: str | None = None
    source: str = "rules"
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.action is not None and self.part is not None


def rule_words() -> frozenset[str]:
    """Every word the rules act on or knowingly ignore (lexicons, function words, phrase words)."""
    vocab = set(_ACTION_WORDS) | set(_PART_WORDS) | _MOVE_VERBS | _TURN_VERBS | _NEGATIONS | _SLIGHT | _LARGE
    vocab |= _PRONOUNS | set(_FUNCTION_WORDS) | _UNSUPPORTED | {"upper", "top", "lower", "bottom", "corner", "corners"}
    for pattern, _ in _PHRASES:
        vocab |= set(re.findall(r"[a-z]{3,}", re.sub(r"\\[a-zA-Z]", " ", pattern)))
    return frozenset(vocab)


def part_words() -> frozenset[str]:
    """Words that name a part ("brows", "jawline"), singular and plural."""
    return frozenset(_PART_WORDS) | frozenset(w for p in PARTS for w in p.split())


def meaningful_words() -> frozenset[str]:
    """Action, part, move and turn words: what a typo is most likely a slip for after a command word."""
    return frozenset(_ACTION_WORDS) | frozenset(_PART_WORDS) | frozenset(_MOVE_VERBS | _TURN_VERBS)


def vocabulary() -> frozenset[str]:
    """Words typo repair leaves alone: the rules' words plus common English ("think" is not "thin")."""
    return rule_words() | common_words()


_KNOWN = rule_words()
_VOCAB = vocabulary()
_MEANINGFUL = frozenset(_ACTION_WORDS) | frozenset(_PART_WORDS) | frozenset(_MOVE_VERBS | _TURN_VERBS)
# What a typo may be repaired into: words that carry meaning, never a negation or a little word
# ("nod" must not become "not", which would flip the action).
_TYPO_TARGETS = _MEANINGFUL | _SLIGHT | _LARGE | _DETERMINERS | {"left", "right", "both", "upper", "lower", "top",
                                                                 "bottom", "corner", "corners", "slightly", "please"}


def prepare(text: str) -> list[str]:
    """Cleaned, typo-repaired tokens with multi-word expressions folded into single tokens."""
    text = expand_contractions(strip_fillers(tidy(text)))
    tokens = [t[:-2] if t.endswith("'s") else t for t in words(text)]
    text = " ".join(correct(tokens, _TYPO_TARGETS, _MEANINGFUL, _VOCAB | _KNOWN))
    for pattern, replacement in _PHRASE_RE:
        text = pattern.sub(replacement, text)
    return words(text)


def _direction_action(word: str, turning: bool) -> str | None:
    """dirleft/subjleft/left -> move_left or turn_left (image space; subject space is mirrored)."""
    side = {"dirleft": "left", "dirright": "right", "subjleft": "right", "subjright": "left"}.get(word, word)
    return f"{'turn' if turning else 'move'}_{side}"


def _object_of(tokens: list[str], verb: int) -> str | None:
    """The unknown noun right after a verb ("open the door" -> "door"): then no default part applies."""
    i = verb + 1
    while i < len(tokens) and tokens[i] in _DETERMINERS:
        i += 1
    if i < len(tokens) and tokens[i].isalpha() and tokens[i] not in _KNOWN:
        return tokens[i]
    return None


def rule_intent(tokens: list[str]) -> Intent:
    """Action, part, side, amount and negation read from tokens by rules alone."""
    intent = Intent()
    clause = 0
    clauses: list[int] = []
    for t in tokens:
        if t in _CLAUSE_BREAKS:
            clause += 1
        clauses.append(clause)
    turning = any(t in _TURN_VERBS for t in tokens)
    mentions: list[tuple[int, str, int, bool]] = []  # (index, action, strength, negated)
    parts: list[tuple[int, str]] = []
    negate_from: dict[int, int] = {}
    for i, t in enumerate(tokens):
        if t in _NEGATIONS:
            negate_from[clauses[i]] = i
            continue
        action, strength = _ACTION_WORDS.get(t, (None, 0))
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t[0].isdigit() and nxt in ("pixel", "pixels", "px"):
            intent.pixels = float(t)
            continue
        if t in ("left", "right"):
            if nxt in _PART_WORDS or nxt in ("side", "one"):
                intent.side = t
                continue
            action, strength = _direction_action(t, turning), 1
        elif t in ("dirleft", "dirright", "subjleft", "subjright"):
            action, strength = _direction_action(t, turning), 1
        elif t in ("imgleft", "imgright"):
            intent.side, intent.side_frame = t[3:], "image"
            continue
        elif t in ("both", "two"):
            intent.side = "both"
            continue
        elif t in _SLIGHT:
            intent.amount = AMOUNTS["slight"]
            continue
        elif t in _LARGE and action is None:
            intent.amount = AMOUNTS["large"]
            continue
        elif t in _PART_WORDS:
            parts.append((i, _PART_WORDS[t]))
            continue
        elif t in _PRONOUNS:
            intent.pronoun = True
            continue
        elif t in _UNSUPPORTED:
            intent.unsupported = intent.unsupported or t
            continue
        if action is None:
            continue
        if t == "wide" and intent.amount == AMOUNTS["default"] and any(a == "open" for _, a, _, _ in mentions):
            intent.amount = AMOUNTS["large"]
            continue
        negated = clauses[i] in negate_from and i - negate_from[clauses[i]] <= 5
        mentions.append((i, action, strength, negated))
    positive = [m for m in mentions if not m[3]]
    chosen = None
    if positive:
        chosen = max(positive, key=lambda m: (m[2], -m[0]))
    elif mentions:
        first = max(mentions, key=lambda m: (m[2], -m[0]))
        chosen = (first[0], OPPOSITE[first[1]], first[2], True)
        intent.negated = True
        intent.notes.append(f"not {first[1].replace('_', ' ')}: doing the opposite, {chosen[1].replace('_', ' ')}")
    if chosen is not None:
        if any(a != chosen[1] and strength == 2 for _, a, strength, _ in positive):
            intent.notes.append("one edit at a time: say the next one when this one is done")
        intent.action = chosen[1]
        same = [p for p in parts if clauses[p[0]] == clauses[chosen[0]]]
        after = [p for p in same if p[0] > chosen[0]]
        pick = (after or same or parts or [None])[0]
        implied = [_IMPLIED_PART[tokens[m[0]]] for m in [chosen] + mentions if tokens[m[0]] in _IMPLIED_PART]
        intent.part = pick[1] if pick else (implied or [None])[0]
        if tokens[chosen[0]] in ("wink", "winking") and intent.side is None:
            intent.side = "left"
        obj = _object_of(tokens, chosen[0]) if intent.part is None else None
        if obj:
            # A real word where a part belongs ("open the moth") is a typo for the part, if close enough.
            fixed = correct([obj], frozenset(_PART_WORDS))[0]
            if fixed in _PART_WORDS:
                intent.part = _PART_WORDS[fixed]
                intent.notes.append(f"read {obj!r} as {fixed!r}")
            else:
                intent.unsupported = intent.unsupported or obj
    elif parts:
        intent.part = parts[0][1]
    if intent.part is None and turning and intent.action in ("raise", "lower"):
        intent.part = "head"
    if intent.part == "face" and intent.action in ("smile", "frown"):
        intent.part = "mouth"
    if intent.part == "face" and intent.action in ("turn_left", "turn_right"):
        intent.part = "head"
    return intent


_MORE = {"more", "again", "further", "another", "keep", "continue", "repeat"}
_LESS = {"less", "back"}
_REPEAT_FILLER = {"a", "bit", "even", "do", "it", "that", "the", "same", "going", "go", "on", "once", "time",
                  "one", "is", "little", "slightly", "alot", "lot", "much", "way", ",", ".", "!", "and", "just"}


def repeat_request(tokens: list[str]) -> str | None:
    """"a bit more" / "again" -> "more"; "less" / "back a bit" -> "less"; anything else -> None."""
    words_ = set(tokens)
    if not words_ or not words_ <= _MORE | _LESS | _REPEAT_FILLER:
        return None
    if words_ & _LESS:
        return "less"
    return "more" if words_ & _MORE else None


def finish(intent: Intent, last_part: str | None = None) -> Intent:
    """Fill a missing part from "it" (the last part edited) or the action's natural part; fix sides."""
    if intent.action and intent.part is None and not intent.unsupported:
        if intent.pronoun and last_part:
            intent.part = last_part
            intent.notes.append(f"'it' taken as the {last_part}")
        elif intent.action in DEFAULT_PART:
            intent.part = DEFAULT_PART[intent.action]
    if intent.part in SIDED_PARTS:
        intent.side = intent.side or "both"
    elif intent.part is not None and intent.side_frame == "subject":
        intent.side = None
    if intent.part == "mouth corners" and intent.action in ("raise", "lower") and intent.side == "both":
        intent.action = "smile" if intent.action == "raise" else "frown"
    return intent


def parse_intent(text: str, last_part: str | None = None) -> Intent:
    """The intent the rules alone read in `text`; incomplete (action or part None) when they cannot."""
    return finish(rule_intent(prepare(text[:MAX_CHARS])), last_part)
