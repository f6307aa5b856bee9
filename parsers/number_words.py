"""Spoken numbers -> digits, the way people read out pixel coordinates.

"drag one twenty, eighty to one forty, ninety" is how a person says (120, 80) -> (140, 90):
hundreds are often spoken as two pairs ("one twenty" = 120, "two oh five" = 205), next to the
formal "one hundred and twenty". Runs of number words become one number each; a comma, any other
word or a digit ends a run, and a run that reads as several numbers ("ten twenty") yields several.
Decimals are read digit by digit after "point" ("zero point zero zero two" = 0.002, "two point
five" = 2.5); a "point" that names a handle ("the point at 40, 30") is left alone.
"""

from __future__ import annotations

import re

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: (i + 2) * 10 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
SCALES = {"hundred": 100, "thousand": 1000}
OH = {"oh", "o"}
NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | set(SCALES)

_TOKEN = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*|\d+|\S|\s+")
# After the words are digits: "0 point 0 0 2", "point 0 0 5" (a leading zero says it is a
# fraction), "2 point 5"; each digit after "point" was said on its own.
_DECIMAL = re.compile(r"(?:(?<![\d,.])(\d+) |(?<![\d,.] )(?<![\d,.])(?=point 0))point((?: \d(?![\d,]|\.\d))+)")


def _two_digit(words: list[str], i: int) -> tuple[int, int] | None:
    """tens [unit] | teen | unit, starting at i -> (value, next index)."""
    if i >= len(words):
        return None
    w = words[i]
    if w in TENS:
        if i + 1 < len(words) and words[i + 1] in UNITS and UNITS[words[i + 1]] > 0:
            return TENS[w] + UNITS[words[i + 1]], i + 2
        return TENS[w], i + 1
    if w in TEENS:
        return TEENS[w], i + 1
    if w in UNITS:
        return UNITS[w], i + 1
    return None


def _below_thousand(words: list[str], i: int) -> tuple[int, int] | None:
    """One group under 1000: formal ("three hundred and five"), paired ("one twenty",
    "two oh five") or plain ("forty two")."""
    if i >= len(words):
        return None
    w, nxt = words[i], words[i + 1] if i + 1 < len(words) else ""
    lead = 1 if w == "a" else UNITS.get(w, 0)
    if lead and nxt == "hundred":
        value, j = lead * 100, i + 2
        k = j + 1 if j < len(words) and words[j] == "and" else j
        tail = _two_digit(words, k)
        return (value + tail[0], tail[1]) if tail else (value, j)
    if lead and w != "a" and (nxt in TENS or nxt in TEENS):
        tail = _two_digit(words, i + 1)
        return lead * 100 + tail[0], tail[1]
    if lead and w != "a" and nxt in OH and i + 2 < len(words) and words[i + 2] in UNITS:
        return lead * 100 + UNITS[words[i + 2]], i + 3
    if w == "a":
        return None
    return _two_digit(words, i)


def parse_number(words: list[str], i: int = 0) -> tuple[int, int] | None:
    """The number spoken at words[i:] -> (value, index after it), or None if none starts there."""
    first = _below_thousand(words, i)
    if first is None:
        return None
    value, j = first
    if j < len(words) and words[j] == "thousand" and value > 0:
        value *= 1000
        k = j + 2 if j + 1 < len(words) and words[j + 1] == "and" else j + 1
        rest = _below_thousand(words, k)
        if rest:
            return value + rest[0], rest[1]
        return value, j + 1
    return value, j


def _is_number_word(word: str, prev: str, nxt: str) -> bool:
    """Whether a word can belong to a run; "a", "and" and "oh" only in the spots where they do."""
    if word in NUMBER_WORDS:
        return True
    if word == "a":
        return nxt in SCALES
    if word == "and":
        return prev in SCALES and nxt in NUMBER_WORDS
    if word in OH:
        return prev in UNITS and nxt in UNITS
    return False


def _near_number(tokens: list[str], t: int) -> bool:
    """Whether token t sits next to another number (through spaces or one comma): a lone "one"
    is a pronoun ("the left one") unless it is part of a coordinate list."""
    for step in (-1, 1):
        j = t + step
        while 0 <= j < len(tokens) and (tokens[j].isspace() or tokens[j] == ","):
            j += step
        if 0 <= j < len(tokens) and (tokens[j][0].isdigit() or tokens[j].lower().split("-")[0] in NUMBER_WORDS):
            return True
    return False


def _beside(tokens: list[str], t: int, step: int) -> int:
    """The index of the nearest token to tokens[t] that is not a space, going `step` (-1 or 1);
    -1 or len(tokens) past the ends."""
    j = t + step
    while 0 <= j < len(tokens) and tokens[j].isspace():
        j += step
    return j


def _digit_by_digit(flat: list[str], tokens: list[str], first: int, last: int) -> bool:
    """Digits said one by one make one number, as a dictating user reads "128" out: three or more
    ("one two eight", "one one zero"), or two beside a spoken comma ("one two eight comma nine
    six"). Two alone stay two numbers ("drag one two to three four"), and digits after the "point"
    of a decimal stay digits ("two point five", "2 point one two five", "point zero zero five";
    not "move point one two eight")."""
    if len(flat) < 2 or not all(w in UNITS for w in flat):
        return False
    prev = _beside(tokens, first, -1)
    if prev >= 0 and tokens[prev].lower() == "point":
        number = _beside(tokens, prev, -1)
        said = tokens[number].lower() if number >= 0 else ""
        if flat[0] == "zero" or said[:1].isdigit() or said in NUMBER_WORDS:
            return False
    if len(flat) >= 3:
        return True
    nxt = _beside(tokens, last, 1)
    return (prev >= 0 and tokens[prev] == ",") or (nxt < len(tokens) and tokens[nxt] == ",")


def _read_run(flat: list[str], digits: bool) -> list[str]:
    """The numbers a run of number words says, as digit strings; [] if it does not read as numbers."""
    if digits:
        return [str(int("".join(str(UNITS[w]) for w in flat)))]
    numbers, i = [], 0
    while i < len(flat):
        parsed = parse_number(flat, i)
        if parsed is None:
            return []
        numbers.append(str(parsed[0]))
        i = parsed[1]
    return numbers


def words_to_numbers(text: str) -> str:
    """Replace every run of spoken number words in `text` by digits; everything else is kept."""
    tokens = _TOKEN.findall(text)
    words: list[tuple[int, str]] = []  # (token index, lower-case word) for word tokens
    for t, tok in enumerate(tokens):
        if tok[0].isalpha():
            words.append((t, tok.lower()))
    out = list(tokens)
    w = 0
    while w < len(words):
        run: list[int] = []
        k = w
        while k < len(words):
            t, word = words[k]
            if run and not all(s.isspace() for s in tokens[words[k - 1][0] + 1:t]):
                break
            parts = word.split("-")
            prev = words[k - 1][1] if k > 0 else ""
            nxt = words[k + 1][1] if k + 1 < len(words) else ""
            if not all(_is_number_word(p, prev if n == 0 else parts[n - 1],
                                       nxt if n == len(parts) - 1 else parts[n + 1]) for n, p in enumerate(parts)):
                break
            run.append(k)
            k += 1
        if not run:
            w += 1
            continue
        flat = [p for r in run for p in words[r][1].split("-")]
        if flat == ["one"] and not _near_number(tokens, words[run[0]][0]):
            w = run[-1] + 1
            continue
        first, last = words[run[0]][0], words[run[-1]][0]
        numbers = _read_run(flat, _digit_by_digit(flat, tokens, first, last))
        if numbers:
            out[first] = " ".join(numbers)
            for t in range(first + 1, last + 1):
                out[t] = ""
        w = run[-1] + 1
    return _DECIMAL.sub(lambda m: f"{m.group(1) or '0'}.{m.group(2).replace(' ', '')}", "".join(out))
