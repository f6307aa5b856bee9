"""The official DragGAN drag iteration, reimplemented as the renderer runs it.

This is the baseline that `benchmarks/drag_speed.py` times and that the parity tests hold to the
official fixtures: every iteration synthesises the whole image with all block features, resizes
the chosen block's map to the full image size, tracks on it and samples it with `grid_sample`.
Points are [y, x] here, as in the official code; `DragSession` is the project's API.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylegan2 import Generator

OFFICIAL_TRAINABLE_ROWS = 6


@dataclass
class OfficialIteration:
    points: list[list[int]]  # [y, x] after tracking
    loss: float
    stop: bool
    image: torch.Tensor  # from this iteration's forward, before the update


class OfficialDragLoop:
    """`Renderer._render_drag_impl(is_drag=True)` driven the way `visualizer_drag.py` drives it."""

    def __init__(self, G: Generator, w0: torch.Tensor, points_yx: list[list[int]], targets_yx: list[list[int]],
                 lr: float = 1e-3, fixed_mask: torch.Tensor | None = None, lambda_mask: float = 20.0,
                 r1: float = 3, r2: float = 12, feature_idx: int = 5):
        self.G = G
        self.w0 = w0.detach().clone()
        self.w = w0.detach().clone().requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.w], lr=lr)
        self.points = [list(p) for p in points_yx]
        self.targets = [list(t) for t in targets_yx]
        self.fixed_mask = fixed_mask
        self.lambda_mask = lambda_mask
        self.r1, self.r2, self.feature_idx = r1, r2, feature_idx
        self.feat_refs: list[torch.Tensor] | None = None
        self.feat0_resize: torch.Tensor | None = None

    def iterate(self) -> OfficialIteration:
        G = self.G
        h = w = G.img_resolution
        ws = torch.cat([self.w[:, :OFFICIAL_TRAINABLE_ROWS], self.w0[:, OFFICIAL_TRAINABLE_ROWS:]], dim=1)
        img, feats = G.synthesis(ws, noise_mode="const", return_features=True)
        xx, yy = torch.meshgrid(torch.linspace(0, h, h), torch.linspace(0, w, w), indexing="ij")
        feat_resize = F.interpolate(feats[self.feature_idx], [h, w], mode="bilinear")
        if self.feat_refs is None:
            self.feat0_resize = feat_resize.detach().clone()
            self.feat_refs = [self.feat0_resize[:, :, round(p[0]), round(p[1])] for p in self.points]
        r = round(self.r2 / 512 * h)
        with torch.no_grad():
            for j, (y, x) in enumerate(self.points):
                up, down = max(y - r, 0), min(y + r + 1, h)
                left, right = max(x - r, 0), min(x + r + 1, w)
                patch = feat_resize[:, :, up:down, left:right]
                dist = torch.linalg.norm(patch - self.feat_refs[j].reshape(1, -1, 1, 1), dim=1)
                _, idx = torch.min(dist.view(1, -1), -1)
                width = right - left
                self.points[j] = [idx.item() // width + up, idx.item() % width + left]
        stop = True
        loss = 0
        for (y, x), (ty, tx) in zip(self.points, self.targets):
            direction = torch.Tensor([tx - x, ty - y])
            if torch.linalg.norm(direction) > max(2 / 512 * h, 2):
                stop = False
            if torch.linalg.norm(direction) > 1:
                distance = ((xx - y) ** 2 + (yy - x) ** 2) ** 0.5
                relis, reljs = torch.where(distance < round(self.r1 / 512 * h))
                direction = direction / (torch.linalg.norm(direction) + 1e-7)
                gridh = (relis + direction[1]) / (h - 1) * 2 - 1
                gridw = (reljs + direction[0]) / (w - 1) * 2 - 1
                grid = torch.stack([gridw, gridh], dim=-1).unsqueeze(0).unsqueeze(0)
                target = F.grid_sample(feat_resize.float(), grid, align_corners=True).squeeze(2)
                loss = loss + F.l1_loss(feat_resize[:, :, relis, reljs].detach(), target)
        if self.fixed_mask is not None and self.fixed_mask.min() == 0 and self.fixed_mask.max() == 1:
            m = self.fixed_mask.reshape(1, 1, h, w)
            loss = loss + self.lambda_mask * F.l1_loss(feat_resize * m, self.feat0_resize * m)
        loss_value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        if not stop:
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return OfficialIteration(points=[list(p) for p in self.points], loss=loss_value, stop=stop,
                                 image=img.detach())

    @property
    def ws(self) -> torch.Tensor:
        return torch.cat([self.w[:, :OFFICIAL_TRAINABLE_ROWS], self.w0[:, OFFICIAL_TRAINABLE_ROWS:]], dim=1).detach()
