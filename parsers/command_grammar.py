"""The app's spoken language as a grammar over Whisper tokens, for grammar-constrained decoding.

The intent model's training sentences are drawn from `corpus.json` by combining request frames,
phrases per action, ways of naming parts, amounts and app commands. The same combinations,
taken all together instead of sampled, are a grammar of what the app understands: a recursive
transition network whose rules are the frames and phrase lists and whose terminals are words.
Whisper can then be asked which sentence *of that language* best explains the audio
(`whisper_decode.grammar_beam`), which recovers commands whose words it mishears greedily ("make
the jaw wider" heard as "Make the door wider") because the wrong word is simply not allowed.

Words are tokenized one at a time with their leading space. Whisper's byte-pair encoding splits
text into such words (and separate punctuation, "'s", "'d") before merging, so a sentence built
from word tokenizations is tokenized exactly as Whisper would write it. The first word is
capitalised and the sentence ends with a full stop or question mark, Whisper's own style (its
score for "make the jaw wider" was 10 nats below "Make the jaw wider." on the same audio).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .corpus import EXAMPLES_PATH, load_phrases

_SLOT = re.compile(r"\{(\w+)\}")
ROOT = "utterance"
# Whisper ends a command with one of these; a phrase already ending in one ends there.
ENDINGS = (".", "?", "!")


@dataclass(frozen=True)
class GrammarConfig:
    """What the spoken grammar includes beyond `corpus.json`'s combinations.

    Step counts are written by Whisper as digits ("Set the steps to 120."), so the `{n}` slot is
    every whole number up to `max_number`. Learning rates are the few values people use; a rarer
    one is still heard by greedy decoding. Save paths cannot be listed, so phrases with `{file}`
    are left to greedy decoding. Leading fillers ("Um, open the mouth.") are off by default:
    they double the ways a sentence can begin, and so the work of the first steps, for words the
    parser drops anyway.
    """

    max_number: int = 1000
    learning_rates: tuple[str, ...] = ("0.0005", "0.001", "0.002", "0.003", "0.005", "0.01", "0.02")
    leading_fillers: bool = False
    examples: bool = True


@dataclass
class Grammar:
    """Rules name -> alternatives; an alternative is a tuple of symbols: a word (str) or a rule
    reference (int index into `names`). Terminals carry both their sentence-initial and their
    inner tokenization."""

    names: list[str]
    rules: list[list[tuple]]
    root: int
    words: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    end_tokens: tuple[int, ...] = ()


def _alternatives(texts, slot_rule) -> list[tuple]:
    """Phrase strings with `{slot}`s -> symbol tuples (words and rule references)."""
    out = []
    for text in texts:
        symbols: list = []
        for piece in re.split(r"(\{\w+\})", text):
            slot = _SLOT.fullmatch(piece)
            if slot:
                symbols.append(slot_rule(slot.group(1)))
            else:
                symbols.extend(piece.split())
        out.append(tuple(symbols))
    return out


def phrase_rules(config: GrammarConfig | None = None, phrases: dict | None = None) -> dict[str, list[str]]:
    """The grammar as readable rules (name -> list of alternatives, `{slot}` strings), built from
    the same phrase data as the intent model's corpus."""
    config = config or GrammarConfig()
    phrases = phrases or load_phrases()
    actions = phrases["actions"].values()
    names = sorted({n for ns in phrases["parts"].values() for n in ns})
    rules: dict[str, list[str]] = {
        "name": names,
        "owner": list(phrases["owners"]),
        "side": list(phrases["sides"]),
        "part": ["{owner} {name}", "{owner} {side} {name}", "it", "them", "that"],
        "who": list(phrases["who"]),
        "amount": [""] + list(phrases["amounts"]),
        "verb": sorted({p for a in actions for p in a.get("verb", [])}),
        "comp": sorted({p for a in actions for p in a.get("comparative", [])}),
        "state": sorted({p for a in actions for p in a.get("state", [])}),
        "adj": sorted({p for a in actions for p in a.get("complaint", [])}),
        "done": sorted({p for a in actions for p in a.get("passive", [])}),
        "n": [str(k) for k in range(1, config.max_number + 1)],
        "lr": list(config.learning_rates),
        "command": [t for texts in phrases["commands"].values() for t in texts if "{file}" not in t],
        "edit": sorted({f for frames in phrases["frames"].values() for f in frames})
        + [text for text, _, _ in phrases["idioms"]],
    }
    # Command phrases with {part} name a part as the commands do ("mask the mouth"), no sides.
    rules["command_part"] = ["{owner} {name}"]
    rules["command"] = [t.replace("{part}", "{command_part}") for t in rules["command"]]
    rules["request"] = ["{edit}", "{command}"] + [w.replace("{c}", "{command}") for w in phrases["command_wrappers"]]
    if config.examples:
        rules["request"] += sorted({e["text"] for e in json.loads(EXAMPLES_PATH.read_text())["examples"]})
    rules[ROOT] = ["{request}"] + ([f"{f}, {{request}}" for f in phrases["fillers"]] if config.leading_fillers else [])
    return rules


def build(tokenizer, config: GrammarConfig | None = None, phrases: dict | None = None) -> Grammar:
    """Compile the rules for `tokenizer` (whisper's); unknown slots are an error in the data."""
    readable = phrase_rules(config, phrases)
    names = sorted(readable)
    index = {n: i for i, n in enumerate(names)}

    def slot_rule(slot: str) -> int:
        if slot not in index:
            raise ValueError(f"corpus.json uses {{{slot}}}, which the spoken grammar does not define")
        return index[slot]

    rules = [_alternatives(readable[n], slot_rule) for n in names]
    words: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for alternatives in rules:
        for alt in alternatives:
            for symbol in alt:
                if isinstance(symbol, str) and symbol not in words:
                    words[symbol] = (tuple(tokenizer.encode(" " + symbol[:1].upper() + symbol[1:])),
                                     tuple(tokenizer.encode(" " + symbol)))
    ends = tuple(tokenizer.encode(e)[0] for e in ENDINGS)
    return Grammar(names, rules, index[ROOT], words, ends)


# A position in the grammar is a stack of frames (rule, alternative, symbol index), innermost
# last; a decoding state adds how many tokens of the current word were emitted and whether the
# word is written sentence-initially (capitalised). Two states have no position: ACCEPT (a whole
# sentence: an ending may follow) and ENDED (the ending was written: only end-of-text may follow).
ACCEPT = "accept"
ENDED = "ended"


class GrammarCursor:
    """Which tokens may come next after a prefix: the on-the-fly subset construction over the
    grammar's positions, memoised per position (the same positions recur across hypotheses and
    commands, so after the first few commands nearly every step is a cache hit)."""

    def __init__(self, grammar: Grammar, memo_size: int = 50_000):
        self.g = grammar
        self._closure = lru_cache(maxsize=None)(self._closure_uncached)
        self._moves = lru_cache(maxsize=None)(self._moves_uncached)
        self._next = lru_cache(maxsize=memo_size)(self._next_uncached)
        self._start = frozenset(s if s == ACCEPT else (s, 0, True) for s in self._closure(((grammar.root, -1, 0),)))

    def start(self) -> frozenset:
        """The states before any token (about 20,000 positions: one per way a sentence can begin)."""
        return self._start

    def _closure_uncached(self, frames: tuple) -> tuple:
        """Positions reachable from `frames` without emitting a word: every word that can come
        next (as frame stacks whose top symbol is that word), or ACCEPT."""
        rule, alt, sym = frames[-1]
        if alt < 0:  # a rule not yet entered: one position per alternative
            out: list = []
            for a in range(len(self.g.rules[rule])):
                out.extend(self._closure(frames[:-1] + ((rule, a, 0),)))
            return tuple(dict.fromkeys(out))
        symbols = self.g.rules[rule][alt]
        if sym == len(symbols):
            if len(frames) == 1:
                return (ACCEPT,)
            parent_rule, parent_alt, parent_sym = frames[-2]
            return self._closure(frames[:-2] + ((parent_rule, parent_alt, parent_sym + 1),))
        symbol = symbols[sym]
        if isinstance(symbol, str):
            return (frames,)
        return self._closure(frames + ((symbol, -1, 0),))

    def _moves_uncached(self, state) -> tuple:
        """(token, next state) pairs out of one state."""
        if state == ENDED:
            return ()
        if state == ACCEPT:
            return tuple((t, ENDED) for t in self.g.end_tokens)
        frames, k, initial = state
        rule, alt, sym = frames[-1]
        word = self.g.rules[rule][alt][sym]
        tokens = self.g.words[word][0 if initial else 1]
        if k + 1 < len(tokens):
            return ((tokens[k], (frames, k + 1, initial)),)
        after = self._closure(frames[:-1] + ((rule, alt, sym + 1),))
        closes = word[-1:] in ENDINGS  # "what can I say?" ends with its own question mark
        return tuple((tokens[k], (ENDED if closes else ACCEPT) if f == ACCEPT else (f, 0, False)) for f in after)

    def next_tokens(self, states: frozenset) -> dict[int, frozenset]:
        """token -> the set of states after it (end-of-text is not a token here: see `can_stop`).
        Memoised on the state set: the same prefixes ("Make the", "Raise her") recur in every
        command, and the start alone has 20,000 states to walk."""
        return self._next(states)

    def _next_uncached(self, states: frozenset) -> dict[int, frozenset]:
        out: dict[int, set] = {}
        for state in states:
            for token, successor in self._moves(state):
                out.setdefault(token, set()).add(successor)
        return {t: frozenset(s) for t, s in out.items()}

    def accepts(self, tokens: list[int]) -> bool:
        """Whether the token sequence (without end-of-text) is a whole sentence of the grammar."""
        states = self.start()
        for token in tokens:
            states = self.next_tokens(states).get(token)
            if not states:
                return False
        return self.can_stop(states)

    @staticmethod
    def can_stop(states: frozenset) -> bool:
        """The prefix is a whole sentence with its ending, so end-of-text may follow."""
        return ENDED in states
