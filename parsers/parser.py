"""`CommandParser`: text (+ optional image) -> `Command`, the one entry point `assistant/` uses.

Order: one canonical text form (`canonical`: digits, typos repaired); exact forms first (the
strict grammar, coordinates however said); then negation scope by rule (`negation`); then the
trained intent model (`intent_model`) for what the asked-for clause means (an app command, a
setting, an edit's action and part, or nothing the app can do); rules only for the exact slots
(sides, amounts, pixels, directions, numbers, paths); then grounding on the face's landmarks when
an image is given. Models load once, on first need; a parse never raises for anything a user can
type.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

import numpy as np

from .atlas import Atlas, load_atlas
from .canonical import canonical
from .command import Command, unknown
from .coordinates import looks_like_coordinates, read_coordinates
from .corrections import corrected, split_correction
from .embeddings import SentenceEncoder
from .grammar import MESSAGES, check_range, parse_explicit, parse_settings
from .grounding import face_frame, ground, mask_region, part_points, subject_side
from .hints import INTERFACES, NO_FACE, Hints
from .intent_model import IntentModel, Reading
from .intents import (AMOUNTS, OPPOSITE, PART_DEPENDENT, TURNS_AND_MOVES, UNSUPPORTED, Intent, finish, parse_intent, prepare,
                      repeat_request, rule_intent)
from .landmarks import FaceLandmarks, as_rgb_uint8
from .negation import Contrast, contrast_clause, split_clauses
from .normalize import MAX_CHARS, expand_contractions, tidy
from .subjects import absent_subject

# What a reading says (`Command.to_json` fields), and the values that say nothing beyond a bare
# request: no side, the default amount, no settings.
_READING_FIELDS = ("command", "action", "part", "side", "amount", "settings", "path")
_NO_DETAIL = (None, 1.0, {}, [])
DEFAULT_SUGGESTIONS = ["open the mouth", "raise the eyebrows", "close her left eye", "smile",
                       "drag 120,88 to 120,70", "help"]
APP_COMMANDS = ("undo", "redo", "reset", "cancel", "help", "quit", "history")
# The part that does an action people name on the whole face ("turn his face", "a smiling face").
_DOER = {("face", "turn_left"): "head", ("face", "turn_right"): "head", ("face", "smile"): "mouth",
         ("face", "frown"): "mouth"}
# Below this the intent model's answer is a guess: the parser says it did not understand.
MIN_INTENT_P = 0.5
# A file name: a directory with a name after it ("results/out.png", "~/faces/a", "C:\pics\a") or a name
# with an extension.
_FILE = re.compile(r"^(?:(?:[A-Za-z]:)?(?:[~\w.-]*[/\\])+\w[\w.-]*|[~\w-][~\w.-]*\.[A-Za-z][A-Za-z0-9]{1,4})$")
_NOT_PATHS = {"disk", "disc", "file", "a file", "it", "this", "that", "drive", "image", "picture", "result",
              "work", "copy", "version", "edit", "save", "now", "please", "out", "thanks"}
_NUMBER = re.compile(r"(?<![\w.])\d*\.?\d+(?![\w.])")


def describe(intent: Intent) -> str:
    """'raise the subject's left eyebrows slightly' -- the edit as the parser understood it."""
    verb, _, direction = intent.action.partition("_")
    part = intent.part
    if intent.side in ("left", "right"):
        single = {"eyes": "eye", "eyebrows": "eyebrow", "mouth corners": "mouth corner"}.get(part, part)
        part = f"{'image' if intent.side_frame == 'image' else 'subject'}'s {intent.side} {single}"
    amount = {0.5: " slightly", 2.0: " a lot"}.get(intent.amount, "")
    return f"{verb} the {part}{' ' + direction if direction else ''}{amount}"


def spoken_path(raw: str) -> str:
    """A file name said aloud written out: "headshot underscore final dot png" -> "headshot_final.png"."""
    text = re.sub(r"\s+underscore\s+", "_", raw, flags=re.I)
    text = re.sub(r"\s+(?:dash|hyphen)\s+", "-", text, flags=re.I)
    return re.sub(r"\s+dot\s+(png|jpe?g|webp|tiff?|bmp|gif)\b", r".\1", text, flags=re.I)


def save_path(raw: str) -> str | None:
    """The file named in a save request, as typed (case kept), or None: a word with a file
    extension or a directory anywhere ("save it as final_v3.png and let me sleep"), else the last
    word after "as", "called" or "named"."""
    words = spoken_path(raw).strip().rstrip(".!?").split()
    if not words:
        return None
    for word in words:
        word = word.strip("\"',;:")
        if _FILE.match(word):
            return word
    last = words[-1].strip("\"'")
    if len(words) >= 3 and words[-2].lower() in ("as", "called", "named") and last.lower() not in _NOT_PATHS:
        return last
    return None


class CommandParser:
    """Parses typed or transcribed lines; remembers the last part so "close it" works."""

    def __init__(self, use_model: bool = True, atlas: Atlas | None = None,
                 encoder: SentenceEncoder | None = None, landmarker: FaceLandmarks | None = None,
                 interface: str = "cli"):
        """`interface` ("cli" or "app") decides what hints may suggest (only the app has clicks)."""
        if interface not in INTERFACES:
            raise ValueError(f"interface must be one of {', '.join(INTERFACES)}, not {interface!r}")
        self.interface = interface
        self.use_model = use_model
        self.atlas = atlas or load_atlas()
        self._encoder = encoder
        self._model: IntentModel | None = None
        self.landmarker = landmarker or FaceLandmarks()
        self.last_part: str | None = None
        self.last_intent: Intent | None = None
        self._landmark_cache: tuple[str, np.ndarray | None] | None = None
        self._lost = False  # the last parse did not understand its text (see `understands`)

    def understands(self, text: str) -> bool:
        """Whether `text` reads as a command, an edit or a refusal (not "I did not understand"),
        without touching the context: grammar decoding of speech asks this of its sentences."""
        saved = (self.last_part, self.last_intent)
        try:
            return self.parse(text).command != "unknown" or not self._lost
        finally:
            self.last_part, self.last_intent = saved

    def adds_to(self, candidate: str, heard: str) -> bool:
        """Whether reading `candidate` (a grammar sentence) instead of the readable transcript
        `heard` changes what happens in a way the audio can justify: never when the candidate
        reads as nothing ("I don't know." replacing a real request), nor when it reads as the same
        request with a detail dropped ("Open the mouth." for "A little bit, please, open her
        mouth": the amount was heard), nor when the transcript names someone not in the picture
        (the grammar has no possessors: "Raise the eyes." must not replace "raise the horse's
        eyebrows"). Without touching the context."""
        if absent_subject(canonical(heard), heard):
            return False
        saved = (self.last_part, self.last_intent)
        try:
            said = self.parse(heard).to_json()
            self.last_part, self.last_intent = saved
            offered = self.parse(candidate).to_json()
        finally:
            self.last_part, self.last_intent = saved
        if offered["command"] == "unknown":
            return False
        differs = [f for f in _READING_FIELDS if said.get(f) != offered.get(f)]
        return any(offered.get(f) not in _NO_DETAIL for f in differs)

    def reset_context(self) -> None:
        """Forget the last part and edit, as a new session would ("close it" then has no "it")."""
        self.last_part = None
        self.last_intent = None

    @property
    def model(self) -> IntentModel | None:
        if not self.use_model:
            return None
        if self._model is None:
            self._model = IntentModel(self._encoder or SentenceEncoder(quantized=True))
        return self._model

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """Face landmarks of `image`, detected once per distinct picture."""
        rgb = as_rgb_uint8(image)
        key = hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest() + str(rgb.shape)
        if self._landmark_cache is None or self._landmark_cache[0] != key:
            self._landmark_cache = (key, self.landmarker.detect(rgb))
        return self._landmark_cache[1]

    def parse(self, text: str, image: np.ndarray | None = None) -> Command:
        """The command in `text`; its examples and hints fit `image` and this parser's interface."""
        self._lost = True
        cmd = self._parse(text, image)
        if cmd.command != "unknown":
            self._lost = False
        return Hints.for_picture(image, self.interface).localise(cmd)

    def _parse(self, text: str, image: np.ndarray | None) -> Command:
        if not isinstance(text, str):
            return unknown(f"expected text, got {type(text).__name__}", DEFAULT_SUGGESTIONS)
        text = text.strip()
        if not text or not any(c.isalnum() for c in text):
            return unknown("nothing to do: say an edit or a command", DEFAULT_SUGGESTIONS)
        if len(text) > MAX_CHARS:
            return unknown(f"that is {len(text)} characters; say one edit at a time (at most {MAX_CHARS})",
                           DEFAULT_SUGGESTIONS)
        image = None if image is None else np.asarray(image)
        form = canonical(text)
        if not form.strip(" ,.!?"):
            return unknown("nothing to do: say an edit or a command", DEFAULT_SUGGESTIONS)
        explicit = read_coordinates(form) if looks_like_coordinates(form) else parse_explicit(text, form)
        if explicit is not None and explicit.command == "unknown":
            worded = self._parse_words(text, form, image)  # stray numbers ("score 3-2, she turns her head")
            if worded.part is not None or worded.command in APP_COMMANDS:
                return worded
        if explicit is not None:
            return self._finish_explicit(explicit, image)
        correction = split_correction(tidy(text))
        if correction is not None:
            said, fix_text = correction
            fix_form = canonical(fix_text)
            fix = rule_intent(prepare(fix_form))
            if fix.complete:  # "widen the mouth *lips, widen the lips": the correction says it all
                return self._parse_words(fix_text, fix_form, image)
            return self._parse_words(said, canonical(said), image, fix)
        return self._parse_words(text, form, image)

    def _finish_explicit(self, cmd: Command, image: np.ndarray | None) -> Command:
        if image is not None and cmd.command in ("drag", "points"):
            return check_range(cmd, image.shape[1], image.shape[0])
        if cmd.command == "settings" and isinstance(cmd.settings.get("mask"), str):
            return self._mask_setting(cmd.settings["mask"], image)
        return cmd

    def _mask_setting(self, phrase: str, image: np.ndarray | None, part: str | None = None) -> Command:
        intent = parse_intent(phrase, self.last_part)
        part = intent.part or part
        if part is None:
            return unknown(f"cannot mask {phrase!r}: name a part (mouth, eyes, eyebrows, nose, chin, jaw, face, hair)",
                           ["mask the mouth", "mask the eyes", "no mask"])
        cmd = Command("settings", part=part, side=intent.side if part == intent.part else None,
                      settings={"mask": part}, message=f"only the {part} may change")
        if image is None:
            return cmd
        landmarks = self.landmarks(image)
        if landmarks is None:
            cmd.message = NO_FACE
            return cmd
        atlas_part = self.atlas.parts[part]
        face = face_frame(landmarks, self.atlas)
        side = subject_side(cmd.side, intent.side_frame, face)
        region = list(atlas_part.sides[side]) if atlas_part.sides and side in atlas_part.sides \
            else list(atlas_part.region)
        pts = part_points(atlas_part, face, landmarks, region)
        cmd.side = side
        cmd.mask = mask_region(pts, self.atlas.mask_margin * face.size, image.shape[1], image.shape[0])
        return cmd

    def _repeat(self, kind: str, tokens: list[str]) -> Intent | None:
        """"more" repeats the last edit, "less" undoes some of it; the amount comes from the words."""
        if self.last_intent is None:
            return None
        said = rule_intent(tokens)
        action = self.last_intent.action if kind == "more" else OPPOSITE[self.last_intent.action]
        return dataclasses.replace(self.last_intent, action=action, amount=said.amount, pixels=None,
                                   notes=[f"{kind}: the last edit again" if kind == "more" else "less: partly back"])

    def _read(self, texts: list[str]) -> list[dict[str, Reading]]:
        return self.model.read(texts) if self.model is not None else [{} for _ in texts]

    def _parse_words(self, raw: str, form: str, image: np.ndarray | None, fix: Intent | None = None) -> Command:
        """The command in words; `fix`: what a self-correction after these words names instead."""
        tokens = prepare(form)
        repeat = repeat_request(tokens)
        if repeat:
            intent = self._repeat(repeat, tokens)
            if intent is None:
                return unknown(f"{repeat} of what? nothing has been edited yet", DEFAULT_SUGGESTIONS)
            return self._edit_command(intent, image)
        clauses = split_clauses(form)
        if not clauses.asked and not clauses.refused:
            clauses.asked = form
        contrast = contrast_clause(form) if clauses.asked else None
        if contrast is not None and split_clauses(contrast.request).refused:
            contrast = None
        texts = [clauses.asked] if clauses.asked else []
        texts += [contrast.request, contrast.head] if contrast else []
        texts += clauses.refused[:1]
        readings = self._read(texts)
        refused = readings[-1] if clauses.refused else None
        if not clauses.asked:
            return self._refusal(clauses.refused[0], refused)
        reading = readings[0]
        named = reading["part"].label if reading else None  # "the mouth is still shut. open it": "it"
        head_amount = None
        choice = self._contrast_choice(contrast, readings[1], readings[2], named) if contrast else None
        if choice == "request":
            clauses.asked, reading = contrast.request, readings[1]
            head_amount = rule_intent(prepare(contrast.head)).amount  # "a little narrower? narrow it"
        elif choice == "head":
            clauses.asked, reading = contrast.head, readings[2]
        if choice != "request":
            named = None
        intent_name = reading["intent"].label if reading else "edit"
        if reading and reading["intent"].p < MIN_INTENT_P:
            intent_name = None
        subject = absent_subject(expand_contractions(tidy(raw)), raw) or absent_subject(form, raw)
        if intent_name in APP_COMMANDS:
            if subject:  # "close the window behind her" is about the picture, not the app
                self._lost = False
                return unknown(f"the {subject} is not something I can edit: I can only edit the face that is shown",
                               DEFAULT_SUGGESTIONS)
            return Command(intent_name, message=MESSAGES[intent_name])
        if intent_name == "save":
            path = save_path(raw)
            return Command("save", path=path, message=f"save to {path}" if path else "save (default file name)")
        if intent_name not in ("edit", "none", None):
            return self._setting(intent_name, form, reading, image)
        refused_part = refused["part"].label if refused else None
        intent = self._edit_intent(clauses.asked, reading, refused_part or named)
        if head_amount is not None and intent.amount == AMOUNTS["default"]:
            intent.amount = head_amount
        if fix is not None:
            intent = finish(corrected(intent, fix), self.last_part)
        if subject and intent.complete:
            self._lost = False
            return unknown(f"there is no {subject} in the picture: I can only edit the face that is shown",
                           [f"{describe(intent)}"])
        understood = intent.complete and (intent_name not in ("none", None) or intent.source == "rules")
        if not understood and clauses.refused:  # "never, ever widen the eyes, class": only the refusal means something
            return self._refusal(clauses.refused[0], refused)
        if not understood:
            return self._not_understood(intent, reading)
        return self._edit_command(intent, image)

    def _contrast_choice(self, contrast: Contrast, request: dict[str, Reading], head: dict[str, Reading],
                         antecedent: str | None) -> str | None:
        """Which part of a split sentence is the request: "request" (what follows the contrast) when
        it is a complete edit on its own or an app command after words that ask for nothing; "head"
        when both sides ask and "then" joins an edit to what follows ("open the mouth, then close the
        eyes": one edit at a time, the first one first); None to read the whole sentence."""
        head_asks = self._asks(contrast.head, head)
        if contrast.after_then and head_asks:
            both_edits = bool(head) and head["intent"].label == "edit" and self._asks(contrast.request, request)
            return "head" if both_edits else None
        if self._complete_edit(contrast.request, request, antecedent):
            return "request"
        app = bool(request) and request["intent"].p >= MIN_INTENT_P and request["intent"].label in APP_COMMANDS + ("save",)
        return "request" if app and not head_asks else None

    def _asks(self, text: str, reading: dict[str, Reading]) -> bool:
        """Does `text` alone ask for anything: an app command, a setting or a complete edit (one the
        rules see too: the model reads "first find the left eye" as a turn of the eyes)?"""
        if not reading:
            return rule_intent(prepare(text)).complete
        label = reading["intent"].label
        if label in ("none", None) or reading["intent"].p < MIN_INTENT_P:
            return False
        return label != "edit" or self._complete_edit(text, reading) and rule_intent(prepare(text)).complete

    def _complete_edit(self, text: str, reading: dict[str, Reading], antecedent: str | None = None) -> bool:
        """Does `text` alone ask for a whole edit (the model says edit and an action and part are read;
        "it" is `antecedent`, the part the whole sentence names)?"""
        if reading and (reading["intent"].label != "edit" or reading["intent"].p < MIN_INTENT_P):
            return False
        return self._edit_intent(text, reading, antecedent).complete

    def _edit_intent(self, asked: str, reading: dict[str, Reading], antecedent: str | None) -> Intent:
        """Action and part from the model; sides, amounts, pixels and directions from the rules."""
        rules = rule_intent(prepare(asked))
        if not reading:
            return finish(rules, self.last_part)
        intent = dataclasses.replace(rules, notes=[], source="model")
        action = reading["action"].label
        if rules.action in TURNS_AND_MOVES and (action in TURNS_AND_MOVES or action is None):
            kind = (action or rules.action).split("_")[0]
            action = f"{kind}_{rules.action.split('_')[1]}"
        intent.action = action or rules.action
        intent.part = reading["part"].label or rules.part
        if rules.pronoun and rules.part is None and (antecedent or self.last_part):
            intent.part = antecedent or self.last_part  # "it" is the part just named, not a guess
        if reading["intent"].label in ("none", None) or reading["intent"].p < MIN_INTENT_P:
            intent.action, intent.part, intent.source = rules.action, rules.part, "rules"
        if rules.unsupported in UNSUPPORTED and rules.part is None:
            intent.part = None
        intent.part = _DOER.get((intent.part, intent.action), intent.part)
        return finish(intent, self.last_part)

    def _refusal(self, refused_text: str, reading: dict[str, Reading] | None) -> Command:
        """A negated request with nothing asked instead: change nothing, and say what was refused."""
        self._lost = False
        intent = self._edit_intent(refused_text, reading or {}, None)
        what = describe(finish(intent, self.last_part)) if intent.complete else refused_text
        return unknown(f"not {what}: nothing changed. Say what to do instead, or 'help'",
                       [describe(dataclasses.replace(intent, action=OPPOSITE[intent.action]))]
                       if intent.complete and intent.action in OPPOSITE else DEFAULT_SUGGESTIONS[:3])

    def _setting(self, name: str, form: str, reading: dict[str, Reading], image: np.ndarray | None) -> Command:
        numbers = _NUMBER.findall(form)
        if name == "steps":
            return parse_settings(f"steps {numbers[0] if numbers else '?'}") or unknown("how many steps?")
        if name == "lr":
            return parse_settings(f"lr {numbers[0] if numbers else '?'}") or unknown("which learning rate?")
        if name in ("space_w", "space_wplus"):
            return parse_settings("use w" if name == "space_w" else "use w+")
        if name == "no_mask":
            return parse_settings("no mask")
        if name == "clear_points":
            return Command("points", settings={"clear": True}, message="points cleared")
        return self._mask_setting(form, image, reading["part"].label)

    def _edit_command(self, intent: Intent, image: np.ndarray | None) -> Command:
        part = self.atlas.parts[intent.part]
        if intent.action in PART_DEPENDENT:
            intent.action = part.aliases.get(intent.action, PART_DEPENDENT[intent.action])
        if part.resolve(intent.action) is None:
            doable = ", ".join(a.replace("_", " ") for a in part.actions)
            return unknown(f"I can't {intent.action.replace('_', ' ')} the {intent.part}; the {intent.part} can: {doable}",
                           [f"{a.replace('_', ' ')} the {intent.part}" for a in part.actions[:3]])
        self.last_part = intent.part
        if image is None and intent.side_frame == "image" and intent.side in ("left", "right"):
            intent.side = "right" if intent.side == "left" else "left"
            intent.side_frame = "subject"
            intent.notes.append("no image: assuming a frontal face, whose right side is on the image's left")
        self.last_intent = intent
        cmd = Command("drag", action=intent.action, part=intent.part, side=intent.side, amount=intent.amount,
                      message="; ".join([describe(intent)] + intent.notes))
        if image is None:
            return cmd
        landmarks = self.landmarks(image)
        if landmarks is None:
            cmd.message = "; ".join([f"{describe(intent)}: {NO_FACE}"] + intent.notes)
            return cmd
        g = ground(intent, landmarks, image.shape[1], image.shape[0], self.atlas)
        cmd.handles, cmd.targets, cmd.mask, cmd.side = g.handles, g.targets, g.mask, g.side
        self.last_intent = dataclasses.replace(intent, side=g.side, side_frame="subject")
        cmd.message = "; ".join([f"{describe(intent)}: {g.message}"] + intent.notes)
        return cmd

    def _not_understood(self, intent: Intent, reading: dict[str, Reading]) -> Command:
        if intent.part is None and intent.unsupported:
            return unknown(f"I can't move the {intent.unsupported}; parts I can move: mouth, lips, mouth corners, "
                           "eyes, eyebrows, nose, chin, jaw, face, head, hair, or give coordinates",
                           ["open the mouth", "raise the eyebrows", "drag 120,88 to 120,70"])
        if intent.action and not intent.part:
            verb = intent.action.replace("_", " ")
            return unknown(f"{verb} what? name a part: mouth, lips, eyes, eyebrows, nose, chin, jaw, face, head, hair",
                           [f"{verb} the {p}" for p in ("mouth", "eyes", "eyebrows")
                            if self.atlas.parts[p].resolve(intent.action)])
        if intent.part and not intent.action:
            actions = self.atlas.parts[intent.part].actions
            examples = ", ".join(a.replace("_", " ") for a in actions[:5])
            return unknown(f"what should the {intent.part} do? e.g. {examples}",
                           [f"{a.replace('_', ' ')} the {intent.part}" for a in actions[:3]])
        return unknown("I did not understand that as an edit or a command; try one of the suggestions, "
                       "coordinates ('drag 120,88 to 120,70') or 'help'", DEFAULT_SUGGESTIONS[:4])
