"""StyleGAN2 losses: non-saturating logistic GAN loss, lazy R1 penalty, style mixing.

Pure functions of logits / tensors, so tests can check the maths directly and the training
loop stays a sequence of calls.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .networks import Generator


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating loss -log(sigmoid(D(G(z)))): strong gradients while D wins (early training)."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic loss: -log(sigmoid(D(x))) - log(1 - sigmoid(D(G(z))))."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Per-sample squared norm of dD/dx on real images (Mescheder et al. 2018).

    `real_images` must require grad and `real_logits` must come from them. create_graph=True
    because the penalty itself is minimised w.r.t. D's weights."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().square().sum(dim=[1, 2, 3])


def r1_weight(gamma: float, interval: int) -> float:
    """Lazy regularisation: apply R1 every `interval` D steps with its weight scaled up by the
    interval, so its average strength equals gamma/2 per step at 1/interval of the cost."""
    return gamma / 2 * interval


def lazy_adam_params(lr: float, betas: tuple[float, float], interval: int) -> tuple[float, tuple[float, float]]:
    """Learning rate and betas for a network with lazy regularisation: the optimiser takes
    interval+1 steps per `interval` minibatches, so lr and beta are rescaled to keep the
    effective step size and momentum horizon the same (StyleGAN2 paper, appendix B)."""
    if interval <= 0:
        return lr, betas
    ratio = interval / (interval + 1)
    return lr * ratio, (betas[0] ** ratio, betas[1] ** ratio)


def mapped_ws(G: Generator, z: torch.Tensor, mixing_prob: float, update_w_avg: bool = False) -> torch.Tensor:
    """ws for a training batch with style mixing regularisation: with probability `mixing_prob`
    the rows from a random cutoff onward come from a second latent, so G cannot rely on
    adjacent layers' styles being correlated."""
    ws = G.mapping(z, None, update_emas=update_w_avg)
    if mixing_prob > 0 and torch.rand([]).item() < mixing_prob:
        cutoff = int(torch.randint(1, ws.shape[1], []).item())
        z2 = torch.randn(z.shape, device=z.device)
        ws2 = G.mapping(z2, None, update_emas=False)
        ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
    return ws
