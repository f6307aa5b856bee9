"""DragSession behaviour: validation, run/stop reasons, history, persistence (tiny generators)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from draggan_core import DragConfig, DragInputError, DragSession, stalled
from stylegan2 import default_model_path, load_generator
from tests.conftest import tiny_generator

HANDLE, TARGET = (10, 12), (16, 12)


@pytest.fixture()
def session() -> DragSession:
    G = tiny_generator(32)
    return DragSession(G, G.ws_from_seed(0))


def _state(s: DragSession):
    return s.ws.clone(), s.history.to_json(), s.dragging


@pytest.mark.parametrize(("handles", "targets", "mask", "words"), [
    ([(40, 3)], [(3, 3)], None, "outside"),
    ([(3, 3)], [(3, -1)], None, "outside"),
    ([(3, 3), (5, 5)], [(3, 8)], None, "2 handle(s) but 1 target"),
    ([], [], None, "no handles"),
    ([(3, 3)], [(8, 3)], np.zeros((32, 32), bool), "empty"),
    ([(3, 3)], [(8, 3)], np.ones((16, 16), bool), "32x32"),
    ([(3, 3)], [(8, 3)], np.full((32, 32), 0.5), "boolean"),
    ([(3, float("nan"))], [(8, 3)], None, "outside"),
    ([(3,)], [(8, 3)], None, "(x, y)"),
    ([(3, 3)], [(4.5, 3)], None, "nothing to drag"),
    ([(3, 3), (20, 20)], [(4, 4), (21, 20)], None, "nothing to drag"),
    ([(3, 3)], [(8, 3)], np.pad(np.ones((8, 8), bool), ((20, 4), (20, 4))), "outside the mask"),
])
def test_bad_input_raises_one_clear_error_and_changes_nothing(session, handles, targets, mask, words):
    session.start_drag([(5, 5)], [(9, 5)], label="first")
    session.step()
    before = _state(session)
    with pytest.raises(DragInputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        session.start_drag(handles, targets, mask=mask)
    after = _state(session)
    assert torch.equal(before[0], after[0]) and before[1:] == after[1:]


def test_run_converges_reports_progress_and_commits(session):
    seen = []
    session.start_drag([HANDLE], [TARGET], label="move right")
    result = session.run(max_steps=60, progress=seen.append, preview_every=0)
    assert result.status == "converged", result.message
    assert result.distances[0] <= session.radii.stop
    assert [r.step for r in seen] == list(range(result.steps))
    assert all(r.image is not None and r.image.shape == (1, 3, 32, 32) for r in seen)
    assert seen[-1].done and not any(r.done for r in seen[:-1])
    (edit,) = session.history.edits
    assert (edit.label, edit.status, edit.steps, edit.final_points) == ("move right", "converged", result.steps,
                                                                         [tuple(map(float, result.points[0]))])
    assert torch.equal(edit.ws, session.ws) and not torch.equal(session.ws, session.history.ws0)


def test_budget_and_previews_are_throttled(session):
    seen = []
    session.start_drag([HANDLE], [(25, 20)])
    result = session.run(max_steps=4, progress=seen.append, preview_every=3600)
    assert result.status == "budget" and result.steps == 4
    assert seen[0].image is not None and all(r.image is None for r in seen[1:])


def test_cancel_keeps_an_undoable_edit(session):
    stop = threading.Event()
    session.start_drag([HANDLE], [(25, 20)])
    result = session.run(max_steps=50, progress=lambda r: stop.set() if r.step == 2 else None, cancel=stop)
    assert result.status == "cancelled" and result.steps == 3
    assert session.history.edits[-1].status == "cancelled"
    edited = session.ws.clone()
    assert session.undo() and torch.equal(session.ws, session.history.ws0)
    assert not session.undo()
    assert session.redo() and torch.equal(session.ws, edited)
    assert not session.redo()


def test_nonfinite_loss_rolls_back_to_the_last_good_step(session):
    # An absurd step size: the first update sends the latent to ~1e38, where synthesis gives NaN.
    session.start_drag([HANDLE], [(25, 20)], config=DragConfig(lr=3e37))
    result = session.run(max_steps=20)
    assert result.status == "nonfinite" and "smaller step size" in result.message
    assert result.steps == 2 and result.points == [HANDLE]
    assert torch.equal(session.ws, session.history.ws0)  # back to the last latent with a finite loss
    assert torch.isfinite(session.image()).all()


def test_history_undo_redo_reset_and_branching(session):
    images = [session.image()]
    for target in ((16, 12), (10, 20)):
        session.start_drag([HANDLE], [target])
        session.run(max_steps=5)
        images.append(session.image())
    assert session.image() is images[-1]  # cached
    assert session.undo() and torch.equal(session.image(), images[1])
    session.start_drag([(20, 20)], [(20, 26)], label="branch")
    session.run(max_steps=3)
    assert [e.label for e in session.history.edits] == ["", "branch"]  # the undone edit is gone
    assert session.reset() and torch.equal(session.image(), images[0])
    assert not session.reset()
    assert session.redo() and session.history.position == 1


def test_history_ops_refused_while_dragging(session):
    session.start_drag([HANDLE], [TARGET])
    with pytest.raises(DragInputError, match="in progress"):
        session.undo()


def test_optimised_rows_w_plus_and_w(session):
    session.start_drag([HANDLE], [(25, 20)], config=DragConfig(num_optimized_layers=3))
    session.run(max_steps=3)
    delta = session.ws - session.history.ws0
    assert delta[:, :3].abs().sum() > 0 and delta[:, 3:].abs().sum() == 0
    session.reset()
    session.start_drag([HANDLE], [(25, 20)], config=DragConfig(w_plus=False, num_optimized_layers=4))
    session.run(max_steps=3)
    delta = session.ws - session.history.ws0
    assert delta[0, 0].abs().sum() > 0 and torch.allclose(delta[0, :4], delta[0, :1].expand(4, -1))
    assert delta[:, 4:].abs().sum() == 0


def test_mask_keeps_the_fixed_region(session):
    mask = np.zeros((32, 32), bool)
    mask[6:18, 6:22] = True
    session.start_drag([HANDLE], [TARGET], mask=mask, config=DragConfig(lambda_mask=200))
    free = session.run(max_steps=15)
    assert free.steps > 0
    img0 = session.render(session.history.ws0)
    change = (session.image() - img0).abs().mean(1)[0]
    assert change[torch.from_numpy(~mask)].mean() < change[torch.from_numpy(mask)].mean()


def test_windows_and_full_map_give_the_same_drag():
    G = tiny_generator(64, seed=3)
    runs = []
    for local in (True, False):
        s = DragSession(G, G.ws_from_seed(2), DragConfig(local_features=local))
        s.start_drag([(20, 30), (45, 40)], [(26, 30), (45, 34)])
        runs.append([(r.points, round(r.loss, 4)) for r in (s.step() for _ in range(6))])
    assert runs[0] == runs[1]


def test_save_and_load_round_trip(session, tmp_path):
    mask = np.zeros((32, 32), bool)
    mask[:, :20] = True
    session.start_drag([HANDLE], [TARGET], mask=mask, label="with mask")
    session.run(max_steps=3)
    session.start_drag([HANDLE], [(10, 18)], label="second")
    session.run(max_steps=3)
    session.undo()
    session.save(tmp_path)
    loaded = DragSession.load(tmp_path, session.G)
    assert loaded.history.to_json() == session.history.to_json()
    assert torch.equal(loaded.ws, session.ws)
    assert np.array_equal(loaded.history.edits[0].mask, mask) and loaded.history.edits[1].mask is None
    assert loaded.redo() and torch.equal(loaded.ws, session.history.edits[1].ws)
    with pytest.raises(DragInputError, match="64px"):
        DragSession.load(tmp_path, tiny_generator(64))


def test_load_rejects_missing_folder(tmp_path):
    with pytest.raises(DragInputError, match="cannot read"):
        DragSession.load(tmp_path / "nothing", tiny_generator(32))


@pytest.mark.skipif(not default_model_path().is_file(), reason="the embedded model is not built yet")
def test_drag_on_the_embedded_model():
    G = load_generator().eval()
    session = DragSession(G, G.ws_from_seed(0), DragConfig(stall_patience=None))  # the engine, not the stop test
    h = G.img_resolution
    session.start_drag([(h // 2, h // 2)], [(h // 2 + h // 10, h // 2)])
    result = session.run(max_steps=80)
    assert result.status in ("converged", "budget")
    assert result.distances[0] < h // 10


@pytest.mark.parametrize(("farthest", "patience", "expected"), [
    ([6.0, 5.0, 4.0, 3.0], 2, False),  # getting closer every step
    ([6.0, 6.0, 6.0], 3, False),  # not enough steps to judge
    ([7.3] * 10, 4, True),  # stuck at one distance
    ([6.0, 4.0, 4.2, 4.1, 4.0, 4.3], 2, True),  # wobbling around its best
    ([4.0, 11.2, 11.2, 9.1, 8.0, 6.0], 2, False),  # knocked away, coming back: still getting closer
    ([8.0, 7.0, 6.8, 6.7, 6.6], 2, True),  # closer, but by less than the minimum improvement
])
def test_stall_test_compares_the_best_of_two_windows(farthest, patience, expected):
    assert stalled(farthest, patience, 0.5) is expected


def test_a_drag_that_stops_getting_closer_ends_as_stalled():
    G = tiny_generator(32)
    stuck = DragConfig(lr=1e-7, stall_patience=5, stall_min_improvement=0.5, max_steps=300)
    session = DragSession(G, G.ws_from_seed(0), stuck)
    session.start_drag([HANDLE], [TARGET])
    result = session.run()
    assert result.status == "stalled" and result.steps == 6
    assert "stalled after 6 steps" in result.message and f"{result.distances[0]:.1f} px" in result.message
    assert session.history.applied[-1].status == "stalled"


def test_the_official_setting_has_no_stall_test():
    assert DragConfig.official().stall_patience is None and DragConfig().stall_patience is not None
    G = tiny_generator(32)
    session = DragSession(G, G.ws_from_seed(0), DragConfig.official(lr=1e-7, feature_block=2))
    session.start_drag([HANDLE], [TARGET])
    assert session.run(max_steps=12).status == "budget"
