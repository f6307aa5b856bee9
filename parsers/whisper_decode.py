"""Whisper decoding for short commands: a shortened audio window and greedy decoding.

openai-whisper always encodes a 30-second window; for a two-second command most of that is
padding, and the encoder's cost grows faster than linearly with the window (attention). The
encoder accepts a shorter window if its positional embedding is cut to match, and a window that
still holds several seconds of padding after the speech keeps Whisper's end-of-text behaviour
(with only a second of padding it tends to repeat the command until the token limit).
`whisper.decode` insists on 30-second features, hence the small greedy loop here; it applies
the same token suppression as whisper's defaults.
"""

from __future__ import annotations

import math
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


def greedy_decode(model, tokenizer, features, prompt: str | None, max_tokens: int) -> Decoded:
    """Most likely token at each step until end-of-text, with whisper's default suppression
    (non-speech symbols, special tokens, timestamps; no blank or end-of-text first)."""
    import torch

    context = [tokenizer.sot_prev] + tokenizer.encode(" " + prompt.strip())[-(model.dims.n_text_ctx // 2 - 1):] \
        if prompt else []
    initial = context + list(tokenizer.sot_sequence_including_notimestamps)
    sot_index = len(context)
    suppress = sorted(set(tokenizer.non_speech_tokens) | {tokenizer.transcribe, tokenizer.translate, tokenizer.sot,
                                                         tokenizer.sot_prev, tokenizer.sot_lm, tokenizer.no_speech})
    first_suppress = tokenizer.encode(" ") + [tokenizer.eot]
    max_tokens = min(max_tokens, model.dims.n_text_ctx - len(initial))
    cache, hooks = model.install_kv_cache_hooks()
    out: list[int] = []
    logprob_sum = 0.0
    no_speech = 0.0
    complete = False
    try:
        x = torch.tensor([initial])
        for step in range(max_tokens + 1):
            logits = model.decoder(x, features, kv_cache=cache)
            if step == 0:
                no_speech = float(logits[0, sot_index].float().softmax(-1)[tokenizer.no_speech])
            last = logits[0, -1].float()
            last[suppress] = -math.inf
            last[tokenizer.timestamp_begin:] = -math.inf
            if step == 0:
                last[first_suppress] = -math.inf
            if step == max_tokens:
                last[:] = -math.inf
                last[tokenizer.eot] = 0.0
            logprobs = last.log_softmax(-1)
            token = int(last.argmax())
            logprob_sum += float(logprobs[token])
            if token == tokenizer.eot:
                complete = step < max_tokens
                break
            out.append(token)
            x = torch.tensor([[token]])
    finally:
        for hook in hooks:
            hook.remove()
    return Decoded(tokenizer.decode(out).strip(), no_speech, logprob_sum / (len(out) + 1), len(out), complete)
