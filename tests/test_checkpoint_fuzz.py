"""Checkpoint mutation fuzzing: every corrupt or hostile variant of a valid checkpoint (each
format) either loads the tensors the damaged file holds or is refused with one CheckpointError
line, and no payload ever runs. The mutations and their oracle are in tests/checkpoint_mutations.py;
benchmarks/checkpoint_fuzz.py runs more of them (docs/robustness.md has its figures).
"""

from __future__ import annotations

import contextlib
import pickle

import pytest

from tests.checkpoint_mutations import FAILURES, build_corpus, run
from tests.hostile_pickles import payloads, standalone

MUTATIONS = 1200
SEED = 16


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("fuzz"), SEED)


def test_payloads_marked_real_run_code_under_plain_pickle(tmp_path):
    """So that their refusal below is not a vacuous pass."""
    marker = tmp_path / "marker"
    real = [p for p in payloads(marker) if p.real]
    assert len(real) >= 15
    for p in real:
        with contextlib.suppress(Exception):
            pickle.loads(standalone(p))
        assert marker.exists(), p.name
        marker.unlink()


def test_stored_module_source_would_create_the_marker(corpus):
    exec(corpus.module_src)  # what NVIDIA's unpickling does with it; the loader never may
    assert corpus.marker.exists()
    corpus.marker.unlink()


# torch's own warnings about some mutated files (their pickle protocol, storages they rebuild)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol", "ignore:TypedStorage is deprecated")
def test_mutated_checkpoints_load_what_they_hold_or_fail_in_one_line(corpus, tmp_path, one_thread):
    report = run(corpus, tmp_path, MUTATIONS, SEED)
    outcomes = report.outcomes()
    assert report.total >= 1000
    assert not report.failures, report.failures[:5]
    assert sum(outcomes[f] for f in FAILURES) == 0 and not corpus.marker.exists()
    assert set(report.by_format) == {"safetensors", "torch-zip", "torch-legacy", "nvidia-pickle"}
    assert {kind.split(":")[0] for kind in report.by_kind} == {"bytes", "structure", "config", "hostile", "confusion"}
    assert outcomes["loaded-correct"] >= 100 and outcomes["checkpoint-error"] >= 500
