"""The training corpus of the intent model, generated from phrase data (`corpus.json`).

Nobody can list every way a person asks for an edit, but the ways combine: a request frame
("can you {edit}", "{the part} looks too {adj}", "I'd like {the part} {adj}"), a way of naming
the part, a verb or adjective for the action, an amount, fillers, a typo. `generate` draws those
combinations at random (seeded, so the shipped weights can be rebuilt) and labels each sentence
with its intent (edit, one of the app's commands or settings, or none), action and part. The
project's own labelled commands and `examples.json` join it as they are, except negated ones:
negation is read by rule (`negation.py`), and the model only ever sees what is asked for.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from .atlas import load_atlas

CORPUS_PATH = Path(__file__).with_name("corpus.json")
EXAMPLES_PATH = Path(__file__).with_name("examples.json")
LABELLED_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "parser_cases.jsonl"
NEGATION_CUES = ("not ", "n't", "never", "instead", "rather than", "without")
KEYBOARD_NEIGHBOURS = dict(zip("qwertyuiopasdfghjklzxcvbnm", [
    "wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol", "qsz", "awdx", "sefc", "drgv", "fthb",
    "gyjn", "hukm", "jil", "kop", "xas", "zcs", "xvd", "cbf", "vng", "bmh", "nj"]))


@dataclass(frozen=True)
class Example:
    """One labelled sentence: `intent` is "edit", an app command, a setting or "none"."""

    text: str
    intent: str
    action: str | None = None
    part: str | None = None


@dataclass
class CorpusConfig:
    """How much of each kind to draw; the defaults train in about a minute on one core."""

    seed: int = 15
    edits: int = 9000
    commands: int = 5000
    typo_rate: float = 0.2
    filler_rate: float = 0.35


def load_phrases(path: Path = CORPUS_PATH) -> dict:
    return json.loads(path.read_text())


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a swap, a dropped, doubled or neighbouring letter."""
    if len(word) < 3 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word))
    kind = rng.randrange(4)
    if kind == 0 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = KEYBOARD_NEIGHBOURS.get(word[i], word[i])
    return word[:i] + rng.choice(near) + word[i + 1:]


def add_noise(text: str, rng: random.Random, config: CorpusConfig, fillers: list[str]) -> str:
    words = text.split()
    if rng.random() < config.typo_rate and words:
        k = rng.randrange(len(words))
        words[k] = typo(words[k], rng)
    if rng.random() < config.filler_rate and fillers:
        k = rng.randrange(len(words) + 1)
        words.insert(k, rng.choice(fillers))
    return " ".join(words)


def _fill(frame: str, slots: dict[str, str]) -> str:
    return " ".join(frame.format(**slots).split())


def _valid_pairs(phrases: dict) -> list[tuple[str, str]]:
    """(action, part) pairs the phrase data names and the atlas can do (through its aliases)."""
    atlas = load_atlas()
    pairs = []
    for action, words in phrases["actions"].items():
        for part in words["parts"]:
            resolved = atlas.parts[part].aliases.get(action, action)
            if atlas.parts[part].resolve(resolved) is not None:
                pairs.append((action, part))
    return pairs


def _edit(phrases: dict, action: str, part: str, rng: random.Random, pronoun: bool = False) -> str:
    """One sentence asking for `action` on `part` (or on "it", when `pronoun`), in a random frame."""
    words = phrases["actions"][action]
    names = phrases["parts"][part]
    owner = rng.choice(phrases["owners"])
    name = rng.choice(names)
    side = rng.choice(phrases["sides"]) if part in ("eyes", "eyebrows", "mouth corners") and rng.random() < 0.4 else ""
    the_part = f"{owner} {side} {name}"
    if pronoun:
        the_part = rng.choice(["it", "them", "that"])
    who = rng.choice(phrases["who"])
    amount = rng.choice(phrases["amounts"]) if rng.random() < 0.5 else ""
    kinds = [k for k in ("verb", "comparative", "state", "complaint", "not_enough", "passive")
             if words.get("state" if k == "not_enough" else k)]
    kind = rng.choice(kinds)
    choice = _fill(rng.choice(words["state" if kind == "not_enough" else kind]), {"part": the_part, "who": who})
    slots = {"verb": choice, "comp": choice, "state": choice, "adj": choice, "done": choice,
             "part": the_part, "amount": amount, "who": who, "name": name}
    return _fill(rng.choice(phrases["frames"][kind]), slots)


def generate_edits(phrases: dict, n: int, rng: random.Random) -> list[Example]:
    pairs = _valid_pairs(phrases)
    out = []
    for _ in range(n):
        action, part = rng.choice(pairs)
        pronoun = rng.random() < 0.06
        out.append(Example(_edit(phrases, action, part, rng, pronoun), "edit", action, None if pronoun else part))
    for text, action, part in phrases["idioms"]:  # part null: "close it", the part said before
        out.append(Example(text, "edit", action, part))
    return out


def generate_commands(phrases: dict, n: int, rng: random.Random) -> list[Example]:
    """App commands, settings and out-of-scope requests, each phrase in several wrappers."""
    out = []
    kinds = sorted(phrases["commands"])
    parts = sorted(phrases["parts"])
    for _ in range(n):
        intent = rng.choice(kinds)
        text = rng.choice(phrases["commands"][intent])
        part = rng.choice(parts)
        slots = {"n": str(rng.choice([5, 20, 40, 60, 80, 100, 150, 200, 300, 500])),
                 "lr": rng.choice(["0.001", "0.002", "0.005", "0.01", ".003"]),
                 "file": rng.choice(["out.png", "face.jpg", "result.png", "~/edits/smile.png", "final"]),
                 "part": f"{rng.choice(phrases['owners'])} {rng.choice(phrases['parts'][part])}"}
        text = _fill(text, slots)
        if rng.random() < 0.3:
            text = _fill(rng.choice(phrases["command_wrappers"]), {"c": text})
        out.append(Example(text, intent, part=part if "{part}" in phrases["commands"][intent][0] else None))
    for intent, texts in phrases["commands"].items():
        out += [Example(_fill(t, {"n": "80", "lr": "0.002", "file": "out.png", "part": "the mouth"}), intent,
                        part="mouth" if "{part}" in t else None) for t in texts]
    return out


def project_examples() -> list[Example]:
    """The project's labelled commands and matcher examples, without negated ones."""
    out = []
    data = json.loads(EXAMPLES_PATH.read_text())["examples"]
    for e in data:
        out.append(Example(e["text"], "edit" if e.get("action") else "none", e.get("action"), e.get("part")))
    if LABELLED_PATH.exists():
        for line in LABELLED_PATH.read_text().splitlines():
            case = json.loads(line)
            text = case["text"].lower()
            if any(cue in f" {text}" for cue in NEGATION_CUES) or case["command"] in ("drag", "points") and \
                    "action" not in case:
                continue
            if case["command"] == "drag":
                out.append(Example(case["text"], "edit", case.get("action"), case.get("part")))
            elif case["command"] in ("undo", "redo", "reset", "cancel", "save", "help", "quit", "history"):
                out.append(Example(case["text"], case["command"]))
    return out


def generate(config: CorpusConfig | None = None, phrases: dict | None = None) -> list[Example]:
    """The whole corpus: generated edits and commands with noise, plus the project's examples."""
    config = config or CorpusConfig()
    phrases = phrases or load_phrases()
    rng = random.Random(config.seed)
    base = generate_edits(phrases, config.edits, rng) + generate_commands(phrases, config.commands, rng)
    noisy = [Example(add_noise(e.text, rng, config, phrases["fillers"]), e.intent, e.action, e.part) for e in base]
    seen: set[str] = set()
    out = []
    for e in noisy + project_examples():
        if e.text not in seen:
            seen.add(e.text)
            out.append(e)
    return out
