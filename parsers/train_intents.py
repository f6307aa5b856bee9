"""Build the intent model's weights: `python -m parsers.train_intents` (a few minutes, one core).

Generates the corpus (`corpus.py` over `corpus.json`), puts every sentence through the same
`canonical` form the parser reads, runs it through the shipped MiniLM (int8, as the parser does),
fits the heads and writes `parsers/intent_model.safetensors`. With `--check`, a tenth of the
generated sentences is first held back and scored, as a check that the heads learnt the corpus,
not as a measure of real accuracy (that is benchmarks/parser_accuracy.py on commands nobody here
wrote); it doubles the training time.
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
from .intent_model import HEADS, MODEL_PATH, NONE, HeadConfig, IntentModel, predict, save_heads, train_heads


def label_arrays(examples) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    values = {h: [getattr(e, h) or NONE for e in examples] for h in HEADS}
    labels = {h: sorted(set(v) | {NONE}) for h, v in values.items()}
    index = {h: {name: i for i, name in enumerate(labels[h])} for h in HEADS}
    return labels, {h: np.array([index[h][v] for v in values[h]]) for h in HEADS}


def token_states(encoder: SentenceEncoder, texts: list[str], cache: Path | None) -> list[np.ndarray]:
    """MiniLM token states of `texts`, reusing those of sentences already in `cache` (.npz)."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache) as f:
            splits = np.split(f["states"], f["offsets"][1:-1])
            known = dict(zip(f["texts"].tolist(), splits))
    todo = sorted(set(texts) - set(known))
    if todo:
        known.update(zip(todo, (s.astype(np.float16) for s in encoder.token_states(todo))))
    if cache is not None:
        arrays = list(known.values())
        offsets = np.cumsum([0] + [len(a) for a in arrays])
        np.savez(cache, texts=np.array(list(known)), states=np.concatenate(arrays), offsets=offsets)
    return [known[t].astype(np.float32) for t in texts]


def held_back_check(states, y, labels, config: HeadConfig, seed: int) -> dict[str, float]:
    order = list(range(len(states)))
    random.Random(seed).shuffle(order)
    check, fit = order[:len(order) // 10], order[len(order) // 10:]
    net = train_heads([states[i] for i in fit], {h: v[fit] for h, v in y.items()}, labels, config)
    probs = predict(net, [states[i] for i in check])
    return {h: round(float((probs[h].argmax(-1) == y[h][check]).mean()), 4) for h in HEADS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--epochs", type=int, default=HeadConfig.epochs)
    ap.add_argument("--cache", type=Path, help="keep MiniLM token states here between runs (.npz)")
    ap.add_argument("--check", action="store_true", help="first train on 90%% and score the other 10%%")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    corpus = CorpusConfig()
    examples = generate(corpus)
    texts = [canonical(e.text) for e in examples]
    encoder = SentenceEncoder(quantized=True)
    states = token_states(encoder, texts, args.cache)
    embed_s = time.perf_counter() - start
    labels, y = label_arrays(examples)
    config = HeadConfig(epochs=args.epochs)
    check_acc = held_back_check(states, y, labels, config, corpus.seed) if args.check else None
    net = train_heads(states, y, labels, config)
    about = {"sentences": len(examples), "corpus_seed": corpus.seed, "held_back_check_accuracy": check_acc,
             "encoder": "all-MiniLM-L6-v2, int8 dynamic quantisation"}
    save_heads(net, labels, config, args.out, about)
    IntentModel(encoder, args.out)
    print(json.dumps({"out": str(args.out), "sentences": len(examples), "embed_s": round(embed_s, 1),
                      "total_s": round(time.perf_counter() - start, 1), "held_back_check_accuracy": check_acc}))


if __name__ == "__main__":
    main()
