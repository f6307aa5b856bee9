"""The trained intent model: what a sentence asks for, read from frozen MiniLM token states.

Three small heads share one layer over the sentence: the intent (an edit, one of the app's
commands or settings, or nothing the app can do), the action and the part. The sentence is
summarised twice: MiniLM's mean-pooled embedding (what the sentence is about) and four learnt
attention poolings over its token states, which can look at the one word that flips a meaning
("too narrow" asks for wider, "narrower" for narrower), which a mean over all tokens blurs.
MiniLM stays frozen, so training fits about 0.4 M parameters per member in a few minutes on one
core (`python -m parsers.train_intents`); the weights ship as `intent_model.safetensors` with their
label lists and sizes in the file's metadata, so a file always carries the labels it was
trained with.

The heads are an ensemble of `members` copies trained from different seeds and sentence orders,
whose probabilities are averaged. One set of heads flipped a few borderline sentences ("the jaw
is too broad", "action = close, part = eyes") every time the corpus grew by a phrase, so each
fix elsewhere cost a command somewhere; averaging removes most of that seed noise, and MiniLM,
which costs nearly all of a parse, still runs once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("intent_model.safetensors")
HEADS = ("intent", "action", "part")
NONE = "-"


@dataclass
class HeadConfig:
    """Size and training schedule of the heads."""

    hidden: int = 256
    queries: int = 4
    dropout: float = 0.2
    epochs: int = 24
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-3
    seed: int = 15
    members: int = 3


@dataclass
class Reading:
    """One head's answer: the label (None for "no action"/"no part") and its probability."""

    label: str | None
    p: float


def pad(states: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, D) float32 states padded with zeros and the (N, T) mask of real tokens."""
    longest = max(len(s) for s in states)
    out = np.zeros((len(states), longest, states[0].shape[1]), np.float32)
    mask = np.zeros((len(states), longest), bool)
    for i, s in enumerate(states):
        out[i, :len(s)] = s
        mask[i, :len(s)] = True
    return out, mask


def build_net(dim: int, sizes: dict[str, int], config: HeadConfig):
    """The ensemble: `members` sets of heads; called, it averages their class probabilities."""
    import torch
    from torch import nn

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Sequential(nn.Linear(dim, config.hidden), nn.GELU(), nn.Dropout(config.dropout / 2))
            self.score = nn.Linear(config.hidden, config.queries)
            self.mix = nn.Sequential(nn.Linear(config.hidden * config.queries + dim, config.hidden), nn.GELU(),
                                     nn.Dropout(config.dropout))
            self.heads = nn.ModuleDict({k: nn.Linear(config.hidden, n) for k, n in sizes.items()})

        def forward(self, states, mask):
            m = mask.unsqueeze(-1).to(states.dtype)
            mean = torch.nn.functional.normalize((states * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)
            h = self.proj(states)
            weights = torch.softmax(self.score(h).masked_fill(~mask.unsqueeze(-1), float("-inf")), dim=1)
            pooled = torch.einsum("btq,bth->bqh", weights, h).flatten(1)
            z = self.mix(torch.cat([pooled, mean], dim=-1))
            return {k: head(z) for k, head in self.heads.items()}

    class Ensemble(nn.Module):
        def __init__(self):
            super().__init__()
            self.members = nn.ModuleList(Heads() for _ in range(config.members))

        def forward(self, states, mask):
            outs = [member(states, mask) for member in self.members]
            return {k: torch.stack([torch.softmax(o[k], dim=-1) for o in outs]).mean(0) for k in outs[0]}

    return Ensemble()


def train_heads(states: list[np.ndarray], targets: dict[str, np.ndarray], labels: dict[str, list[str]],
                config: HeadConfig):
    """Fit each member by cross-entropy (its own seed for the start and the sentence order), each
    head's classes weighted by inverse square-root frequency (so 150 "quit" sentences are not
    drowned by 8000 edits)."""
    import torch

    torch.manual_seed(config.seed)
    net = build_net(states[0].shape[1], {k: len(v) for k, v in labels.items()}, config)
    ys = {k: torch.from_numpy(v.astype(np.int64)) for k, v in targets.items()}
    weights = {}
    for k, v in ys.items():
        inverse = v.numel() / torch.bincount(v, minlength=len(labels[k])).float().clamp(min=1)
        weights[k] = inverse.sqrt() / inverse.sqrt().mean()
    steps = config.epochs * ((len(states) + config.batch - 1) // config.batch)
    for n, member in enumerate(net.members):
        opt = torch.optim.AdamW(member.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
        rng = np.random.default_rng(config.seed + n)
        member.train()
        for _ in range(config.epochs):
            order = rng.permutation(len(states))
            for i in range(0, len(order), config.batch):
                idx = order[i:i + config.batch]
                x, mask = pad([states[j] for j in idx])
                out = member(torch.from_numpy(x), torch.from_numpy(mask))
                loss = sum(torch.nn.functional.cross_entropy(out[k], ys[k][idx], weight=weights[k]) for k in out)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
    return net.eval()


def predict(net, states: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Class probabilities per head (the members' average), (N, classes) each."""
    import torch

    x, mask = pad(states)
    with torch.inference_mode():
        out = net(torch.from_numpy(x), torch.from_numpy(mask))
    return {k: v.numpy() for k, v in out.items()}


def save_heads(net, labels: dict[str, list[str]], config: HeadConfig, path: Path, about: dict) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {"labels": json.dumps(labels), "config": json.dumps(asdict(config)), "about": json.dumps(about)}
    save_file(tensors, str(path), metadata=meta)


class IntentModel:
    """Loads the shipped heads once; `probabilities(texts)` -> per head, (N, classes)."""

    def __init__(self, encoder, path: Path = MODEL_PATH):
        from safetensors import safe_open
        from safetensors.torch import load_file

        self.encoder = encoder
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
        self.labels: dict[str, list[str]] = json.loads(meta["labels"])
        self.config = HeadConfig(**json.loads(meta["config"]))
        self.about = json.loads(meta.get("about", "{}"))
        state = load_file(str(path))
        self.net = build_net(state["members.0.proj.0.weight"].shape[1], {k: len(v) for k, v in self.labels.items()},
                             self.config)
        self.net.load_state_dict(state)
        self.net.eval()

    def probabilities(self, texts: list[str]) -> dict[str, np.ndarray]:
        """On the encoder's threads: a second thread only made these small products wait."""
        with self.encoder.own_threads():
            return predict(self.net, self.encoder.token_states(texts))

    def read(self, texts: list[str]) -> list[dict[str, Reading]]:
        """Per text, each head's most probable label (None for "no action"/"no part")."""
        probs = self.probabilities(texts)
        out = []
        for i in range(len(texts)):
            reading = {}
            for head, p in probs.items():
                k = int(np.argmax(p[i]))
                label = self.labels[head][k]
                reading[head] = Reading(None if label == NONE else label, float(p[i][k]))
            out.append(reading)
        return out
