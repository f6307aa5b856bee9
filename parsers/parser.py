"""`CommandParser`: text (+ optional image) -> `Command`, the one entry point `assistant/` uses.

Order: the strict grammar first (coordinates, session verbs, settings), then intent rules, then
MiniLM for what the rules left open, then grounding on the face's landmarks when an image is
given. Models load once, on first need; a parse never raises for anything a user can type.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from .atlas import Atlas, load_atlas
from .command import Command, unknown
from .embeddings import SentenceEncoder
from .grammar import check_range, parse_explicit
from .grounding import face_frame, ground, mask_region, part_points, subject_side
from .intents import (OPPOSITE, PART_DEPENDENT, EmbeddingMatcher, Intent, parse_intent, prepare, repeat_request,
                      rule_intent)
from .landmarks import FaceLandmarks, as_rgb_uint8
from .normalize import MAX_CHARS

DEFAULT_SUGGESTIONS = ["open the mouth", "raise the eyebrows", "close her left eye", "smile",
                       "drag 120,88 to 120,70", "help"]
NO_FACE = ("no face found in the image: give coordinates instead ('drag 120,88 to 120,70') "
           "or click the handle and target points")


def describe(intent: Intent) -> str:
    """'raise the subject's left eyebrows slightly' -- the edit as the parser understood it."""
    verb, _, direction = intent.action.partition("_")
    part = intent.part
    if intent.side in ("left", "right"):
        single = {"eyes": "eye", "eyebrows": "eyebrow", "mouth corners": "mouth corner"}.get(part, part)
        part = f"{'image' if intent.side_frame == 'image' else 'subject'}'s {intent.side} {single}"
    amount = {0.5: " slightly", 2.0: " a lot"}.get(intent.amount, "")
    return f"{verb} the {part}{' ' + direction if direction else ''}{amount}"


class CommandParser:
    """Parses typed or transcribed lines; remembers the last part so "close it" works."""

    def __init__(self, use_embeddings: bool = True, atlas: Atlas | None = None,
                 encoder: SentenceEncoder | None = None, landmarker: FaceLandmarks | None = None):
        self.use_embeddings = use_embeddings
        self.atlas = atlas or load_atlas()
        self._encoder = encoder
        self._matcher: EmbeddingMatcher | None = None
        self.landmarker = landmarker or FaceLandmarks()
        self.last_part: str | None = None
        self.last_intent: Intent | None = None
        self._landmark_cache: tuple[str, np.ndarray | None] | None = None

    def reset_context(self) -> None:
        """Forget the last part and edit, as a new session would ("close it" then has no "it")."""
        self.last_part = None
        self.last_intent = None

    @property
    def matcher(self) -> EmbeddingMatcher | None:
        if not self.use_embeddings:
            return None
        if self._matcher is None:
            self._matcher = EmbeddingMatcher(self._encoder or SentenceEncoder())
        return self._matcher

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """Face landmarks of `image`, detected once per distinct picture."""
        rgb = as_rgb_uint8(image)
        key = hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest() + str(rgb.shape)
        if self._landmark_cache is None or self._landmark_cache[0] != key:
            self._landmark_cache = (key, self.landmarker.detect(rgb))
        return self._landmark_cache[1]

    def parse(self, text: str, image: np.ndarray | None = None) -> Command:
        if not isinstance(text, str):
            return unknown(f"expected text, got {type(text).__name__}", DEFAULT_SUGGESTIONS)
        text = text.strip()
        if not text or not any(c.isalnum() for c in text):
            return unknown("nothing to do: say an edit or a command", DEFAULT_SUGGESTIONS)
        if len(text) > MAX_CHARS:
            return unknown(f"that is {len(text)} characters; say one edit at a time (at most {MAX_CHARS})",
                           DEFAULT_SUGGESTIONS)
        image = None if image is None else np.asarray(image)
        explicit = parse_explicit(text)
        if explicit is not None:
            return self._finish_explicit(explicit, image)
        return self._parse_edit(text, image)

    def _finish_explicit(self, cmd: Command, image: np.ndarray | None) -> Command:
        if image is not None and cmd.command in ("drag", "points"):
            return check_range(cmd, image.shape[1], image.shape[0])
        if cmd.command == "settings" and isinstance(cmd.settings.get("mask"), str):
            return self._mask_setting(cmd.settings["mask"], image)
        return cmd

    def _mask_setting(self, phrase: str, image: np.ndarray | None) -> Command:
        intent = parse_intent(phrase, None, self.last_part)
        if intent.part is None:
            return unknown(f"cannot mask {phrase!r}: name a part (mouth, eyes, eyebrows, nose, chin, jaw, face, hair)",
                           ["mask the mouth", "mask the eyes", "no mask"])
        cmd = Command("settings", part=intent.part, side=intent.side, settings={"mask": intent.part},
                      message=f"only the {intent.part} may change")
        if image is None:
            return cmd
        landmarks = self.landmarks(image)
        if landmarks is None:
            cmd.message = NO_FACE
            return cmd
        part = self.atlas.parts[intent.part]
        face = face_frame(landmarks, self.atlas)
        side = subject_side(intent.side, intent.side_frame, face)
        region = list(part.sides[side]) if part.sides and side in part.sides else list(part.region)
        pts = part_points(part, face, landmarks, region)
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

    def _parse_edit(self, text: str, image: np.ndarray | None) -> Command:
        tokens = prepare(text)
        repeat = repeat_request(tokens)
        if repeat:
            intent = self._repeat(repeat, tokens)
            if intent is None:
                return unknown(f"{repeat} of what? nothing has been edited yet", DEFAULT_SUGGESTIONS)
        else:
            intent = parse_intent(text, self.matcher, self.last_part)
        if not intent.complete:
            return self._not_understood(text, intent)
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

    def _not_understood(self, text: str, intent: Intent) -> Command:
        if intent.part is None and intent.unsupported:
            return unknown(f"I can't move the {intent.unsupported}; parts I can move: mouth, lips, mouth corners, "
                           "eyes, eyebrows, nose, chin, jaw, face, head, hair, or give coordinates",
                           ["open the mouth", "raise the eyebrows", "drag 120,88 to 120,70"])
        suggestions = self.matcher.suggestions(text) if self.matcher is not None else DEFAULT_SUGGESTIONS[:3]
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
        return unknown("I did not understand that as an edit; try one of the suggestions, coordinates "
                       "('drag 120,88 to 120,70') or 'help'", suggestions)
