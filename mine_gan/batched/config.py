"""One configuration of a GAN with an MI term, named like :class:`mine_gan.models.InfoGAN`'s arguments."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from mine_gan.nets.codes import ContinuousCode
from mine_gan.nets.losses import ADVERSARIAL_LOSSES, PENALTY_POINTS, AdversarialLoss, PenaltyPoints
from mine_gan.validation import check_choice, check_positive

__all__ = ["GANConfig", "LrDecay", "MIBound", "MIKind", "MITarget"]

MIKind = Literal["mine", "q"]
MITarget = Literal["code", "latent"]
#: The bounds of :class:`mine_gan.estimators.MINE` that score each pair once against one shuffled pair
#: (InfoNCE's N² pairs are left to the estimator module).
MIBound = Literal["mine", "mine_biased", "nwj", "smile", "js"]
LrDecay = Literal["none", "linear"]
MI_KINDS: tuple[str, ...] = get_args(MIKind)
MI_TARGETS: tuple[str, ...] = get_args(MITarget)
MI_BOUNDS: tuple[str, ...] = get_args(MIBound)
LR_DECAYS: tuple[str, ...] = get_args(LrDecay)


@dataclass(frozen=True)
class GANConfig:
    r"""Everything that defines one training run except its seed.

    The generator minimizes :math:`\mathcal{L}_{adv}(G) - \beta\, \hat I`, with :math:`\hat I` the code MI
    :math:`I(G([\varepsilon, c]); c)` (``mi_target="code"``, MINE ICML 2018, §5.1) or the generator's entropy
    through :math:`I(G(z); z)` over the whole latent (``mi_target="latent"``, the ICLR 2018 submission). With
    ``clip="adaptive"`` the MI gradient is rescaled by eq. 21, so ``β`` caps its norm at ``β‖g_u‖``.

    Field names are :class:`mine_gan.models.InfoGAN`'s argument names wherever the module has them.

    Args:
        noise_dim: dimension of the noise ``ε ~ N(0, I)``.
        categorical_dims: categories of each one-hot code group.
        continuous_dim: continuous code dimensions.
        continuous: their distribution.
        mi: ``"mine"`` (a statistics network ``T``) or ``"q"`` (InfoGAN's code head on ``D``).
        mi_weight: ``β``; 0 trains a GAN without MI term (the code is still fed).
        mi_target: ``"code"`` or ``"latent"`` (``mi="mine"`` only).
        mi_bound: the objective ``T`` is trained on (see :class:`mine_gan.estimators.MINE`).
        mi_ema_decay: decay of MINE's moving average (``mi_bound="mine"``).
        smile_tau: SMILE's clipping threshold.
        clip: ``"adaptive"`` (eq. 21) or ``None`` (the raw MI gradient).
        adversarial: adversarial loss.
        d_steps: discriminator steps per generator step, each on a fresh batch.
        d_penalty: ``γ`` of the zero-centred gradient penalty on ``D`` (added as ``γ/2 · penalty``,
            Mescheder et al. 2018, eq. 9); 0 for none.
        d_penalty_points: ``"real"`` (R1) or ``"interpolates"`` (Thanh-Tung et al. 2019).
        mi_penalty: ``γ`` of the same penalty on ``T``, taken at the joint pairs.
        lr_g, lr_d, lr_mi: Adam learning rates of ``G``, ``D`` (and ``Q``), ``T``.
        betas: Adam's betas for all.
        lr_decay: ``"linear"`` decays every learning rate linearly to 0 over ``iterations``.
        hidden_dims: hidden widths of ``G``, ``D`` and ``T``.
        batch_size: samples per step.
        iterations: generator steps.

    Example:
        >>> GANConfig(mi_weight=0.0).mi_weight
        0.0
        >>> GANConfig(mi_bound="infonce")
        Traceback (most recent call last):
        ...
        ValueError: `mi_bound` must be one of ['mine', 'mine_biased', 'nwj', 'smile', 'js'], got 'infonce'
    """

    noise_dim: int = 6
    categorical_dims: Sequence[int] = (10,)
    continuous_dim: int = 0
    continuous: ContinuousCode = "uniform"
    mi: MIKind = "mine"
    mi_weight: float = 1.0
    mi_target: MITarget = "code"
    mi_bound: MIBound = "js"
    mi_ema_decay: float = 0.99
    smile_tau: float = 5.0
    clip: Literal["adaptive"] | None = "adaptive"
    adversarial: AdversarialLoss = "non_saturating"
    d_steps: int = 1
    d_penalty: float = 0.0
    d_penalty_points: PenaltyPoints = "real"
    mi_penalty: float = 0.0
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_mi: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: LrDecay = "linear"
    hidden_dims: Sequence[int] = (256, 256, 256)
    batch_size: int = 256
    iterations: int = 10_000
    #: free-form label carried into results; not part of the recipe
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_choice("mi", self.mi, MI_KINDS)
        check_choice("mi_target", self.mi_target, MI_TARGETS)
        check_choice("mi_bound", self.mi_bound, MI_BOUNDS)
        check_choice("clip", self.clip, ("adaptive", None))
        check_choice("adversarial", self.adversarial, ADVERSARIAL_LOSSES)
        check_choice("d_penalty_points", self.d_penalty_points, PENALTY_POINTS)
        check_choice("lr_decay", self.lr_decay, LR_DECAYS)
        check_choice("continuous", self.continuous, ("uniform", "gaussian"))
        for name in ("noise_dim", "d_steps", "batch_size", "iterations", "lr_g", "lr_d", "lr_mi", "smile_tau"):
            check_positive(name, getattr(self, name))
        for name in ("mi_weight", "d_penalty", "mi_penalty", "continuous_dim"):
            check_positive(name, getattr(self, name), strict=False)
        if not 0.0 <= self.mi_ema_decay < 1.0:
            raise ValueError(f"`mi_ema_decay` must be in [0, 1), got {self.mi_ema_decay}")
        if any(int(k) < 2 for k in self.categorical_dims):
            raise ValueError(f"`categorical_dims` groups need >= 2 categories, got {list(self.categorical_dims)}")
        if not self.hidden_dims:
            raise ValueError("`hidden_dims` must name at least one layer")
        if self.mi == "q" and self.mi_target != "code":
            raise ValueError(
                f"mi='q' estimates the code's MI with Q(c | x): it needs mi_target='code', got {self.mi_target!r}"
            )
        if self.mi == "q" and self.code_dim == 0:
            raise ValueError("mi='q' needs a code: set `categorical_dims` or `continuous_dim`")
        if self.mi_weight > 0 and self.mi_target == "code" and self.code_dim == 0:
            raise ValueError("an MI term on the code needs a code: set `categorical_dims` or `continuous_dim`")
        # Frozen dataclass: normalize sequences to tuples so configs hash and compare by value.
        object.__setattr__(self, "categorical_dims", tuple(int(k) for k in self.categorical_dims))
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @property
    def code_dim(self) -> int:
        """Features of the code ``c``."""
        return sum(self.categorical_dims) + self.continuous_dim

    @property
    def latent_dim(self) -> int:
        """Features of the generator's input ``z = [ε, c]``."""
        return self.noise_dim + self.code_dim

    @property
    def uses_critic(self) -> bool:
        """Whether a statistics network ``T`` is trained (MINE with a non-zero weight)."""
        return self.mi == "mine" and self.mi_weight > 0

    @property
    def uses_q(self) -> bool:
        """Whether ``D`` carries InfoGAN's code head."""
        return self.mi == "q" and self.mi_weight > 0

    def recipe(self) -> dict[str, Any]:
        """The fields that define training (``name`` left out), JSON-ready."""
        out = dataclasses.asdict(self)
        out.pop("name")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def digest(self) -> str:
        """Short hash of :meth:`recipe`, to record which configuration produced a result."""
        return hashlib.sha256(json.dumps(self.recipe(), sort_keys=True).encode()).hexdigest()[:12]
