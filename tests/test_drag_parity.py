"""The drag loop against the official DragGAN renderer's recorded trajectories (fixtures README)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from draggan_core import DragConfig, DragSession
from draggan_core.official import OfficialDragLoop
from tests.conftest import FIXTURES

CASES = {"nomask": 1e-3, "mask": 1e-3, "nomask_highlr": 5e-3}


@pytest.fixture(scope="module")
def trajectory() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / "drag_trajectory.safetensors"))


def _xy(points_yx: torch.Tensor) -> list[tuple[int, int]]:
    return [(int(p[1]), int(p[0])) for p in points_yx]


@pytest.mark.parametrize(("case", "local_features"), [("nomask", True), ("nomask_highlr", True), ("nomask_highlr", False),
                                                     ("mask", True)])
def test_session_reproduces_official_trajectory(parity_generator, trajectory, case, local_features):
    """Windowed features are the default; the mask term always uses the full map."""
    t = trajectory
    mask = (t["mask.mask"].numpy() == 0) if case == "mask" else None  # official 1 = fixed; ours True = may change
    session = DragSession(parity_generator, t["w0"], DragConfig.official(lr=CASES[case], local_features=local_features))
    session.start_drag(_xy(t[f"{case}.points"][0]), _xy(t[f"{case}.targets"]), mask=mask)
    for i in range(10):
        torch.testing.assert_close(session.ws[0], t[f"{case}.ws_iter"][i], atol=1e-4, rtol=0)
        result = session.step()
        assert result.points == _xy(t[f"{case}.points"][i + 1]), f"iteration {i}"
        assert result.loss == pytest.approx(float(t[f"{case}.loss"][i]), rel=1e-4)
        assert not result.done
    torch.testing.assert_close(session.ws, t[f"{case}.ws_final"], atol=1e-4, rtol=0)
    img = session.render(session.ws)
    torch.testing.assert_close(img, t[f"{case}.img_final"], atol=1e-3, rtol=0)


def test_official_loop_reproduces_fixture(parity_generator, trajectory):
    """The benchmark's baseline is the official loop: hold it to the same record."""
    t = trajectory
    loop = OfficialDragLoop(parity_generator, t["w0"], t["mask.points"][0].tolist(), t["mask.targets"].tolist(),
                            lr=1e-3, fixed_mask=t["mask.mask"])
    for i in range(10):
        it = loop.iterate()
        assert it.points == t["mask.points"][i + 1].tolist()
        assert it.loss == pytest.approx(float(t["mask.loss"][i]), rel=1e-4)
        if i == 0:
            torch.testing.assert_close(it.image, t["img_initial"], atol=1e-4, rtol=0)
    torch.testing.assert_close(loop.ws, t["mask.ws_final"], atol=1e-4, rtol=0)


def test_official_setting_matches_fixture_hyperparameters(parity_generator):
    radii = DragConfig.official().radii(parity_generator.img_resolution)
    assert (radii.motion, radii.tracking, radii.stop) == (2, 6, 2.0)
    assert DragConfig.official().lr == 1e-3 and DragConfig.official().lambda_mask == 20
