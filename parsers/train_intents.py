"""Build the intent model's weights: `python -m parsers.train_intents` (about 2-4 minutes, one core).

Generates the corpus (`corpus.py` over `corpus.json`), puts every sentence through the same
`canonical` form the parser reads, embeds it with the shipped MiniLM, fits the heads and writes
`parsers/intent_model.safetensors`. A tenth of the generated sentences is held back and scored
first, as a check that the heads learnt the corpus, not as a measure of real accuracy (that is
benchmarks/parser_accuracy.py on commands nobody here wrote).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from .canonical import canonical
from .corpus import CorpusConfig, generate
from .embeddings import SentenceEncoder
from .intent_model import HEADS, MODEL_PATH, NONE, HeadConfig, IntentModel, save_heads, train_heads


def label_arrays(examples, labels: dict[str, list[str]] | None = None):
    values = {h: [getattr(e, h) or NONE for e in examples] for h in HEADS}
    labels = labels or {h: sorted(set(v) | {NONE}) for h, v in values.items()}
    index = {h: {name: i for i, name in enumerate(labels[h])} for h in HEADS}
    return labels, {h: np.array([index[h][v] for v in values[h]]) for h in HEADS}


def embed(encoder: SentenceEncoder, texts: list[str], cache: Path | None) -> np.ndarray:
    """MiniLM embeddings of `texts`, reusing those of sentences already in `cache`."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache) as f:
            known = dict(zip(f["texts"].tolist(), f["vectors"]))
    todo = sorted(set(texts) - set(known))
    if todo:
        known.update(zip(todo, encoder.encode(todo)))
    if cache is not None:
        np.savez(cache, texts=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[t] for t in texts])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--epochs", type=int, default=HeadConfig.epochs)
    ap.add_argument("--cache", type=Path, help="keep sentence embeddings here between runs (.npz)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    corpus = CorpusConfig()
    examples = generate(corpus)
    texts = [canonical(e.text) for e in examples]
    encoder = SentenceEncoder()
    x = embed(encoder, texts, args.cache)
    embed_s = time.perf_counter() - start
    order = list(range(len(examples)))
    random.Random(corpus.seed).shuffle(order)
    cut = len(order) // 10
    check, fit = order[:cut], order[cut:]
    labels, y = label_arrays(examples)
    config = HeadConfig(epochs=args.epochs)
    net = train_heads(x[fit], {h: v[fit] for h, v in y.items()}, labels, config)
    with torch.inference_mode():
        out = net(torch.from_numpy(x[check].astype(np.float32)))
    check_acc = {h: round(float((out[h].argmax(-1).numpy() == y[h][check]).mean()), 4) for h in HEADS}
    net = train_heads(x, y, labels, config)
    about = {"sentences": len(examples), "corpus_seed": corpus.seed, "held_back_check_accuracy": check_acc}
    save_heads(net, labels, config, args.out, about)
    IntentModel(encoder, args.out)
    print(json.dumps({"out": str(args.out), "sentences": len(examples), "embed_s": round(embed_s, 1),
                      "total_s": round(time.perf_counter() - start, 1), "held_back_check_accuracy": check_acc}))


if __name__ == "__main__":
    main()
