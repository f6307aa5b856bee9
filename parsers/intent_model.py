"""The trained intent model: what a sentence asks for, read from frozen MiniLM embeddings.

Three small heads share one hidden layer over the sentence embedding: the intent (an edit, one
of the app's commands or settings, or nothing the app can do), the action and the part. MiniLM
stays frozen, so training only fits about 0.1 M parameters and takes about a minute on one core
(`python -m parsers.train_intents`); the weights ship as `intent_model.safetensors` with their
label lists in the file's metadata, so a file always carries the labels it was trained with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("intent_model.safetensors")
HEADS = ("intent", "action", "part")
NONE = "-"


@dataclass
class HeadConfig:
    """Size and training schedule of the heads."""

    hidden: int = 256
    dropout: float = 0.2
    epochs: int = 40
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 15


@dataclass
class Reading:
    """One head's answer: the label (None for "no action"/"no part") and its probability."""

    label: str | None
    p: float


def build_net(dim: int, sizes: dict[str, int], config: HeadConfig):
    import torch

    class Heads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Sequential(torch.nn.Linear(dim, config.hidden), torch.nn.GELU(),
                                              torch.nn.Dropout(config.dropout))
            self.heads = torch.nn.ModuleDict({k: torch.nn.Linear(config.hidden, n) for k, n in sizes.items()})

        def forward(self, x):
            h = self.hidden(x)
            return {k: head(h) for k, head in self.heads.items()}

    return Heads()


def train_heads(x: np.ndarray, targets: dict[str, np.ndarray], labels: dict[str, list[str]], config: HeadConfig):
    """Fit the heads by cross-entropy, each head's classes weighted by inverse square-root frequency
    (so 100 "quit" sentences are not drowned by 8000 edits)."""
    import torch

    torch.manual_seed(config.seed)
    net = build_net(x.shape[1], {k: len(v) for k, v in labels.items()}, config)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    xs = torch.from_numpy(x.astype(np.float32))
    ys = {k: torch.from_numpy(v.astype(np.int64)) for k, v in targets.items()}
    weights = {}
    for k, v in ys.items():
        counts = torch.bincount(v, minlength=len(labels[k])).float().clamp(min=1)
        weights[k] = (counts.sum() / counts).sqrt() / (counts.sum() / counts).sqrt().mean()
    steps = config.epochs * ((len(xs) + config.batch - 1) // config.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(config.seed)
    net.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), config.batch):
            idx = order[i:i + config.batch]
            out = net(xs[idx])
            loss = sum(torch.nn.functional.cross_entropy(out[k], ys[k][idx], weight=weights[k]) for k in out)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def save_heads(net, labels: dict[str, list[str]], config: HeadConfig, path: Path, about: dict) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {"labels": json.dumps(labels), "config": json.dumps(config.__dict__), "about": json.dumps(about)}
    save_file(tensors, str(path), metadata=meta)


class IntentModel:
    """Loads the shipped heads once; `read(texts)` -> per text, a `Reading` per head."""

    def __init__(self, encoder, path: Path = MODEL_PATH):
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file

        self.encoder = encoder
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
        self.labels: dict[str, list[str]] = json.loads(meta["labels"])
        self.config = HeadConfig(**json.loads(meta["config"]))
        state = load_file(str(path))
        self.net = build_net(state["hidden.0.weight"].shape[1], {k: len(v) for k, v in self.labels.items()},
                             self.config)
        self.net.load_state_dict(state)
        self.net.eval()
        self._torch = torch

    def probabilities(self, texts: list[str]) -> dict[str, np.ndarray]:
        x = self._torch.from_numpy(self.encoder.encode(texts).astype(np.float32))
        with self._torch.inference_mode():
            out = self.net(x)
        return {k: self._torch.softmax(v, dim=-1).numpy() for k, v in out.items()}

    def read(self, text: str) -> dict[str, Reading]:
        probs = self.probabilities([text])
        out = {}
        for head, p in probs.items():
            i = int(np.argmax(p[0]))
            label = self.labels[head][i]
            out[head] = Reading(None if label == NONE else label, float(p[0][i]))
        return out
