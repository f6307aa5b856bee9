"""Whisper decoding for short commands: a shortened audio window and greedy decoding.

openai-whisper always encodes a 30-second window; for a two-second command most of that is
padding, and the encoder's cost grows faster than linearly with the window (attention). The
encoder accepts a shorter window if its positional embedding is cut to match, and a window that
still holds several seconds of padding after the speech keeps Whisper's end-of-text behaviour
(with only a second of padding it tends to repeat the command until the token limit).
`whisper.decode` insists on 30-second features, hence the small greedy loop here; it applies
the same token suppression as whisper's defaults. The same decoder also scores given transcripts
(`score_texts`) and searches only the sentences a grammar allows (`grammar_beam`), all from one
run of the prompt per clip (`prime`).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

FRAMES_PER_SECOND = 100  # log-mel frames; the encoder halves them
MAX_WINDOW_SECONDS = 30.0


@dataclass
class Decoded:
    text: str
    no_speech_prob: float
    avg_logprob: float
    tokens: int
    complete: bool  # ended with end-of-text rather than at the token limit


def window_seconds(audio_seconds: float, min_window: float, padding: float) -> float:
    """Encoder window for a clip: at least `min_window`, at least the audio plus `padding`, at most
    Whisper's 30 s, in whole seconds."""
    return float(min(MAX_WINDOW_SECONDS, max(min_window, math.ceil(audio_seconds + padding))))


def encode(model, samples: np.ndarray, window: float):
    """Audio features of `samples` padded/cut to `window` seconds (30 = whisper's own)."""
    import torch
    import torch.nn.functional as F
    import whisper

    audio = whisper.pad_or_trim(torch.from_numpy(samples), int(window * whisper.audio.SAMPLE_RATE))
    mel = whisper.log_mel_spectrogram(audio, model.dims.n_mels)[None]
    if window >= MAX_WINDOW_SECONDS:
        return model.encoder(mel[..., :whisper.audio.N_FRAMES])
    enc = model.encoder
    x = F.gelu(enc.conv2(F.gelu(enc.conv1(mel)))).permute(0, 2, 1)
    x = x + enc.positional_embedding[: x.shape[1]]
    for block in enc.blocks:
        x = block(x)
    return enc.ln_post(x)


def tokenizer_for(model):
    import whisper.tokenizer

    return whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages,
                                           language="en", task="transcribe")


_BF16_EMBEDDINGS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _bf16_embedding(model):
    """The vocabulary projection in bfloat16, made once per model (see `_logits`)."""
    if model not in _BF16_EMBEDDINGS:
        _BF16_EMBEDDINGS[model] = model.decoder.token_embedding.weight.detach().bfloat16()
    return _BF16_EMBEDDINGS[model]


def _logits(model, tokens, features, cache: dict, rows: list[int], bf16_projection: bool = False):
    """Decoder logits (batch, rows, vocab) at `rows` only. whisper's TextDecoder projects every
    position onto the 51,864-token vocabulary; in the first pass over the 54-token command prompt
    that was a third or more of the time (0.07-0.09 s instead of 0.12-0.13 s on one busy core),
    and only two rows are ever read.

    The projection reads an 80 MB matrix per call, so with several rows (beam search) it is bound
    by memory: 43 ms for 8 rows on one busy core. `bf16_projection` reads half as much and took
    13 ms; the logits move by a few hundredths, well inside the margins they are compared with.
    """
    dec = model.decoder
    offset = next(iter(cache.values())).shape[1] if cache else 0
    x = dec.token_embedding(tokens) + dec.positional_embedding[offset: offset + tokens.shape[-1]]
    x = x.to(features.dtype)
    for block in dec.blocks:
        x = block(x, features, mask=dec.mask, kv_cache=cache)
    x = dec.ln(x[:, rows])
    if bf16_projection:
        return (x.bfloat16() @ _bf16_embedding(model).T).float()
    return (x @ dec.token_embedding.weight.to(x.dtype).T).float()


@dataclass
class Primed:
    """The decoder's state after the prompt on one clip: its kv-cache and the logits at the
    start-of-transcript row and the last row. Greedy decoding, scoring and the grammar beam all
    start from the same 54 prompt tokens on the same audio; running them once instead of in
    every decoding saved 0.05 s of CPU per pass on one busy core."""

    prompt: str | None
    cache: dict
    logits: object  # (2, vocab): rows sot_index and -1


def prime(model, tokenizer, features, prompt: str | None) -> Primed:
    """Run the prompt once on `features`, for the decodings of that clip (see `Primed`)."""
    import torch

    with _Session(model, tokenizer, prompt) as s:
        logits = _logits(model, torch.tensor([s.initial]), features, s.cache, [s.sot_index, -1])[0]
        return Primed(prompt, dict(s.cache), logits)


class _Session:
    """The prompt, the token suppression whisper applies by default, and a kv-cache for one
    decoding (greedy or scoring), started from a `Primed` state when there is one."""

    def __init__(self, model, tokenizer, prompt: str | None, primed: Primed | None = None):
        if primed is not None and primed.prompt != prompt:
            raise ValueError("the primed state was made with another prompt")
        self.primed = primed
        self.model, self.tok = model, tokenizer
        context = []
        if prompt:
            context = [tokenizer.sot_prev] + tokenizer.encode(" " + prompt.strip())[-(model.dims.n_text_ctx // 2 - 1):]
        self.initial = context + list(tokenizer.sot_sequence_including_notimestamps)
        self.sot_index = len(context)
        self.suppress = sorted(set(tokenizer.non_speech_tokens) | {
            tokenizer.transcribe, tokenizer.translate, tokenizer.sot, tokenizer.sot_prev, tokenizer.sot_lm,
            tokenizer.no_speech})
        self.first_suppress = tokenizer.encode(" ") + [tokenizer.eot]

    def __enter__(self):
        self.cache, self.hooks = self.model.install_kv_cache_hooks()
        if self.primed is not None:
            self.cache.update(self.primed.cache)
        return self

    def first_logits(self, features):
        """Logits (2, vocab) at the start-of-transcript row and after the prompt's last token."""
        import torch

        if self.primed is not None:
            return self.primed.logits
        return _logits(self.model, torch.tensor([self.initial]), features, self.cache, [self.sot_index, -1])[0]

    def __exit__(self, *exc):
        for hook in self.hooks:
            hook.remove()

    def log_probs(self, logits, step: int):
        """Log-probabilities after suppression: non-speech symbols, special tokens, timestamps;
        at the first step also a blank and an immediate end-of-text."""
        logits = logits.clone()
        logits[..., self.suppress] = -math.inf
        logits[..., self.tok.timestamp_begin:] = -math.inf
        if step == 0:
            logits[..., self.first_suppress] = -math.inf
        return logits.log_softmax(-1)


def greedy_decode(model, tokenizer, features, prompt: str | None, max_tokens: int,
                  primed: Primed | None = None) -> Decoded:
    """Most likely token at each step until end-of-text (or `max_tokens`)."""
    import torch

    out: list[int] = []
    logprob_sum, no_speech, complete = 0.0, 0.0, False
    with _Session(model, tokenizer, prompt, primed) as s:
        max_tokens = min(max_tokens, model.dims.n_text_ctx - len(s.initial))
        x = None
        for step in range(max_tokens + 1):
            logits = s.first_logits(features) if step == 0 else _logits(model, x, features, s.cache, [-1])[0]
            if step == 0:
                no_speech = float(logits[0].softmax(-1)[tokenizer.no_speech])
            logprobs = s.log_probs(logits[-1], step)
            token = int(logprobs.argmax()) if step < max_tokens else tokenizer.eot
            logprob_sum += float(logprobs[token])
            if token == tokenizer.eot:
                complete = step < max_tokens
                break
            out.append(token)
            x = torch.tensor([[token]])
    return Decoded(tokenizer.decode(out).strip(), no_speech, logprob_sum / (len(out) + 1), len(out), complete)


def score_texts(model, tokenizer, features, prompt: str | None, texts: list[str],
                primed: Primed | None = None) -> list[float]:
    """Total log-probability (end-of-text included) of each text as the transcript, under the
    same prompt and suppression as `greedy_decode`, so the two are comparable.

    The prompt is run once; the candidates then advance together one token per step, as a
    batch sharing the prompt's cache (whisper's attention masks only support one new token per
    call once a cache holds a prefix).
    """
    import torch

    seqs = [tokenizer.encode(" " + t.strip()) + [tokenizer.eot] for t in texts]
    longest = max(len(q) for q in seqs)
    padded = torch.tensor([q + [tokenizer.eot] * (longest - len(q)) for q in seqs])
    scores = torch.zeros(len(seqs))
    with _Session(model, tokenizer, prompt, primed) as s:
        logprobs = s.log_probs(s.first_logits(features)[-1], 0)
        logprobs = logprobs.expand(len(seqs), -1)
        for key, value in s.cache.items():
            s.cache[key] = value.expand(len(seqs), *value.shape[1:])
        batch_features = features.expand(len(seqs), *features.shape[1:])
        for step in range(longest):
            live = torch.tensor([step < len(q) for q in seqs])
            scores += torch.where(live, logprobs.gather(1, padded[:, step:step + 1])[:, 0], torch.zeros(()))
            if step + 1 < longest:
                logits = _logits(model, padded[:, step:step + 1], batch_features, s.cache, [-1])[:, -1]
                logprobs = s.log_probs(logits, step + 1)
    return [float(v) for v in scores]


@dataclass
class Hypothesis:
    """One sentence the grammar beam found."""

    text: str
    score: float  # total log-probability, end-of-text included, comparable with `score_texts`
    tokens: int


def grammar_beam(model, tokenizer, features, prompt: str | None, cursor, beam: int, max_tokens: int,
                 min_score: float = -math.inf, primed: Primed | None = None) -> list[Hypothesis]:
    """The most likely transcripts that the grammar (`command_grammar.GrammarCursor`) allows,
    best first: beam search where each hypothesis may only continue with a token the grammar
    permits after its prefix. Log-probabilities are over the whole vocabulary (after the same
    suppression as `greedy_decode`), so a grammar sentence's score says how well it explains the
    audio compared with the free greedy transcript, not only compared with other sentences.

    The prompt is run once; the live hypotheses then advance as one batch, the kv-cache rows
    reordered after each step to follow the surviving hypotheses (as whisper's own beam search).
    A prefix below `min_score` is dropped (scores only fall), so a caller that would reject
    anything below it stops paying as soon as nothing can reach it.
    """
    import torch

    finished: list[Hypothesis] = []
    cross = {m for block in model.decoder.blocks if block.cross_attn is not None
             for m in (block.cross_attn.key, block.cross_attn.value)}
    with _Session(model, tokenizer, prompt, primed) as s:
        logprobs = s.log_probs(s.first_logits(features)[-1], 0)[None]
        live: list[tuple[list[int], float, frozenset]] = [([], 0.0, cursor.start())]
        for step in range(max_tokens):
            expansions = []
            for row, (tokens, score, states) in enumerate(live):
                ending = score + float(logprobs[row, tokenizer.eot])
                if cursor.can_stop(states) and ending >= min_score:
                    finished.append(Hypothesis(tokenizer.decode(tokens).strip(), ending, len(tokens)))
                allowed = cursor.next_tokens(states)
                if not allowed:
                    continue
                ids = torch.tensor(list(allowed))
                values = logprobs[row, ids]
                top = values.topk(min(beam, len(ids)))
                for value, index in zip(top.values.tolist(), top.indices.tolist()):
                    token = int(ids[index])
                    if score + value >= min_score:
                        expansions.append((score + value, row, token, allowed[token]))
            expansions.sort(key=lambda e: -e[0])
            expansions = expansions[:beam]
            best_finished = max((h.score for h in finished), default=-math.inf)
            if not expansions or expansions[0][0] < best_finished:
                break  # scores only fall: no live prefix can still beat the best sentence
            rows = torch.tensor([e[1] for e in expansions])
            for key, value in s.cache.items():
                if key in cross:  # the audio's keys and values: one copy, viewed once per row
                    s.cache[key] = value[:1].expand(len(rows), *value.shape[1:])
                else:
                    s.cache[key] = value[rows]
            live = [(live[r][0] + [t], v, st) for v, r, t, st in expansions]
            batch_features = features.expand(len(live), *features.shape[1:])
            logits = _logits(model, torch.tensor([[t] for _, _, t, _ in expansions]), batch_features, s.cache, [-1],
                             bf16_projection=True)
            logprobs = s.log_probs(logits[:, -1], step + 1)
    finished.sort(key=lambda h: -h.score)
    return finished
