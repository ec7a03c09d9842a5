"""The information bottleneck with MINE (Belghazi et al., ICML 2018, §5.3).

A classifier ``X → Z → Y`` with a stochastic encoder is trained on ``H(Y | Z) + β·I(X; Z)`` (Tishby et al.,
1999): cross-entropy plus ``β`` (``mi_weight``) times MINE's estimate of ``I(X; Z)``. The encoder descends the estimate
while MINE's critic ascends it, both through one :class:`~mine_gan.estimators.MIRegularizer` term.

The baselines MINE-IB must beat are the same module: ``mi_weight=0`` is the deterministic network, ``dropout``
adds dropout to it, and ``mi="vib"`` replaces MINE's estimate by deep VIB's analytic upper bound (Alemi et al.,
ICLR 2017), ``E_x KL(q(z | x) ‖ N(0, I))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, get_args

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy
from typing_extensions import override

from mine_gan.estimators import ConcatCritic, MIRegularizer
from mine_gan.estimators.mine import BOUNDS, Bound
from mine_gan.functional import kl_to_standard_normal
from mine_gan.layers import Activation, mlp
from mine_gan.recipe import Clip, LRDecay, check_clip, check_lr_decay, check_mi_weight
from mine_gan.validation import check_choice, check_positive, check_unit_interval

__all__ = ["BottleneckMI", "EncoderKind", "InformationBottleneck", "StochasticEncoder"]

EncoderKind = Literal["gaussian", "additive", "propagated"]
ENCODER_KINDS: tuple[str, ...] = get_args(EncoderKind)
#: How the bottleneck's ``I(X; Z)`` is estimated: MINE's critic, or deep VIB's KL upper bound.
BottleneckMI = Literal["mine", "vib"]

# Deep VIB's parametrization (Alemi et al., 2017): σ = softplus(raw − 5) starts small (≈ 0.007).
_STD_SHIFT = 5.0


class StochasticEncoder(nn.Module):
    r"""The three stochastic encoders of §5.3, each a permutation-invariant MLP with ``ε ~ N(0, I)``.

    ===============  ============================================  =========================
    ``kind``         ``Z`` (stochastic)                            ``Z`` (deterministic)
    ===============  ============================================  =========================
    ``"gaussian"``   ``μ(x) + σ(x) ⊙ ε``, ``σ = softplus(· − 5)``  ``μ(x)``
    ``"additive"``   ``enc(x + s ε)``                              ``enc(x)``
    ``"propagated"`` ``enc([x, s ε])``, ``ε`` of ``noise_dim``     ``enc([x, 0])``
    ===============  ============================================  =========================

    Args:
        input_dim: features of ``x``.
        z_dim: features of ``z``.
        hidden_dims: hidden widths of the MLP.
        kind: the noise model, see the table.
        noise_std: ``s``, the scale of the noise of ``"additive"`` and ``"propagated"`` (unused by
            ``"gaussian"``, whose ``σ(x)`` is learned).
        noise_dim: features of the propagated noise (default: ``input_dim``).
        activation: hidden nonlinearity.
        dropout: dropout probability after each hidden layer (in training mode only).

    Shape:
        ``(N, input_dim)`` → ``(N, z_dim)``.

    Example:
        >>> import torch
        >>> enc = StochasticEncoder(4, z_dim=3, hidden_dims=(8,), kind="propagated", noise_dim=2)
        >>> x = torch.randn(5, 4)
        >>> enc(x).shape, bool(torch.equal(enc(x, stochastic=False), enc(x, stochastic=False)))
        (torch.Size([5, 3]), True)
    """

    def __init__(
        self,
        input_dim: int,
        z_dim: int = 256,
        hidden_dims: Sequence[int] = (1024, 1024),
        kind: EncoderKind = "gaussian",
        noise_std: float = 1.0,
        noise_dim: int | None = None,
        activation: Activation = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice("encoder", kind, ENCODER_KINDS)
        check_positive("noise_std", noise_std, strict=False)
        noise_dim = input_dim if noise_dim is None else noise_dim
        check_positive("noise_dim", noise_dim)
        self.input_dim, self.z_dim, self.kind = input_dim, z_dim, kind
        self.noise_std = noise_std
        self.noise_dim = noise_dim if kind == "propagated" else 0
        out_dim = 2 * z_dim if kind == "gaussian" else z_dim
        self.net = mlp(input_dim + self.noise_dim, list(hidden_dims), out_dim, activation, dropout=dropout)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, noise_std={self.noise_std}, noise_dim={self.noise_dim}"

    def gaussian(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The ``"gaussian"`` encoder's ``(μ(x), σ(x))``, each ``(N, z_dim)``."""
        if self.kind != "gaussian":
            raise ValueError(f"only the 'gaussian' encoder has a mean and a std, this one is {self.kind!r}")
        mean, raw_std = self.net(x).chunk(2, dim=1)
        return mean, F.softplus(raw_std - _STD_SHIFT)

    def forward(self, x: Tensor, stochastic: bool = True) -> Tensor:
        if self.kind == "gaussian":
            mean, std = self.gaussian(x)
            return mean + std * torch.randn_like(mean) if stochastic else mean
        if self.kind == "additive":
            return self.net(x + self.noise_std * torch.randn_like(x) if stochastic else x)
        noise = x.new_zeros(x.shape[0], self.noise_dim)
        if stochastic:
            noise.normal_(0.0, self.noise_std)
        return self.net(torch.cat([x, noise], dim=1))


class InformationBottleneck(pl.LightningModule):
    r"""Classifier with a stochastic bottleneck trained on cross-entropy plus ``β`` times MINE's ``I(X; Z)``.

    .. math:: \min_{\text{enc}, \text{dec}}\; \mathbb{E}\big[-\log p_{\text{dec}}(y \mid z)\big]
              + \beta\, \hat I_\theta(X; Z), \qquad z = \text{enc}(x, \varepsilon)

    Belghazi et al. (2018), §5.3, with the permutation-invariant MNIST setting of deep VIB (Alemi et al.,
    2017): an MLP encoder (two hidden layers, ``Z`` of 256 features) and a linear softmax decoder.
    ``I(X; Z)`` is estimated by a :class:`~mine_gan.estimators.MIRegularizer` with
    ``direction="minimize"``: its critic ascends the bound while the encoder descends it (gradient
    reversal), in the same optimizer step.

    ``mi_weight=0`` is the deterministic baseline: no noise (unless ``stochastic=True``) and no MI gradient on
    the encoder; the critic is still trained, so ``train/mi`` is logged for the baseline too. ``dropout > 0`` with
    ``mi_weight=0`` is the dropout baseline.

    ``mi="vib"`` is deep VIB (Alemi et al., 2017): the ``"gaussian"`` encoder descends
    ``β · E_x KL(q(z | x) ‖ N(0, I))``, an analytic upper bound on ``I(X; Z)``, logged as ``train/kl``. MINE's
    critic then only watches (it is trained, and logs ``train/mi``, but sends no gradient to the encoder), so every
    variant reports the same MI estimate.

    Predictions average the softmax over ``eval_samples`` draws of ``Z`` (deep VIB's protocol).

    Logs ``train/ce``, ``train/acc``, ``train/mi`` (MINE's batch estimate of ``I(X; Z)``, nats),
    ``train/kl`` (``mi="vib"``), ``train/loss``, ``val/ce``, ``val/acc``, ``val/mi``, ``test/acc``, ``test/error`` (``1 − acc``).

    Args:
        input_dim: features of ``x``; image batches are flattened (e.g. 64 for 8×8 digits, 784 for MNIST).
        num_classes: classes of ``y``.
        encoder: ``"gaussian"``, ``"additive"`` or ``"propagated"`` (see :class:`StochasticEncoder`).
        hidden_dims: hidden widths of the encoder.
        z_dim: features of the bottleneck ``Z``.
        mi_weight: ``β ≥ 0``, the weight of ``I(X; Z)`` (of its KL upper bound for ``mi="vib"``).
        mi: ``"mine"`` (MINE-IB, §5.3) or ``"vib"`` (deep VIB's KL to ``N(0, I)``; ``"gaussian"`` encoder only).
        noise_std: scale of the input / propagated noise (``"additive"``, ``"propagated"``).
        noise_dim: features of the propagated noise (default ``input_dim``).
        stochastic: draw noise in the encoder; default: ``mi_weight > 0``.
        critic: the statistics network ``T(x, z)``; default
            :class:`~mine_gan.estimators.ConcatCritic` ``(input_dim, z_dim, (512, 512))``.
        mi_bound: MINE's bound (``"mine"``: Donsker–Varadhan with the moving-average gradient, §3.2).
        mi_ema_decay: decay of MINE's moving average.
        clip: ``"adaptive"``: adaptive gradient clipping (eq. 21) of the MI gradient against the
            cross-entropy's on the encoder; ``None``: no clipping.
        lr: Adam's learning rate for encoder and decoder.
        lr_mi: Adam's learning rate for the critic (default ``lr``).
        betas: Adam's betas (deep VIB: ``(0.5, 0.999)``).
        lr_decay: ``"exponential"`` multiplies the learning rates by ``lr_decay_rate`` after every epoch
            (deep VIB: 0.97 every 2 epochs); ``"linear"`` decays them to 0 over
            ``trainer.estimated_stepping_batches``, as the GAN modules do; ``"none"`` keeps them.
        lr_decay_rate: the per-epoch factor of ``lr_decay="exponential"``, in ``(0, 1]``.
        eval_samples: draws of ``Z`` averaged in predictions.
        activation: hidden nonlinearity of the encoder.
        dropout: dropout probability after each hidden layer of the encoder.

    Example:
        >>> model = InformationBottleneck(input_dim=64, hidden_dims=(32,), z_dim=8, mi_weight=1e-3)
        >>> model.predict_proba(torch.randn(5, 64)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        input_dim: int = 64,
        num_classes: int = 10,
        encoder: EncoderKind = "gaussian",
        hidden_dims: Sequence[int] = (1024, 1024),
        z_dim: int = 256,
        mi_weight: float = 1e-3,
        mi: BottleneckMI = "mine",
        noise_std: float = 1.0,
        noise_dim: int | None = None,
        stochastic: bool | None = None,
        critic: nn.Module | None = None,
        mi_bound: Bound = "mine",
        mi_ema_decay: float = 0.99,
        clip: Clip | None = None,
        lr: float = 1e-4,
        lr_mi: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        lr_decay: LRDecay = "exponential",
        lr_decay_rate: float = 0.985,
        eval_samples: int = 12,
        activation: Activation = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("input_dim", input_dim), ("z_dim", z_dim), ("lr", lr), ("eval_samples", eval_samples)):
            check_positive(name, value)
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2, got {num_classes}")
        check_mi_weight(mi_weight)
        check_choice("mi", mi, get_args(BottleneckMI))
        check_choice("mi_bound", mi_bound, BOUNDS)
        check_choice("encoder", encoder, ENCODER_KINDS)
        if mi == "vib" and encoder != "gaussian":
            raise ValueError(
                f"deep VIB's KL needs the Gaussian encoder: mi='vib' needs encoder='gaussian', got {encoder!r}"
            )
        check_clip(clip)
        if mi == "vib" and clip is not None:
            raise ValueError(f"`clip` clips MINE's gradient (eq. 21); with mi='vib' set clip=None, got {clip!r}")
        if lr_mi is not None:
            check_positive("lr_mi", lr_mi)
        check_lr_decay(lr_decay)
        check_unit_interval("lr_decay_rate", lr_decay_rate, closed_right=True)
        check_positive("lr_decay_rate", lr_decay_rate)
        self.save_hyperparameters(ignore=["critic"])
        self.stochastic = mi_weight > 0 if stochastic is None else bool(stochastic)
        self.encoder = StochasticEncoder(
            input_dim, z_dim, hidden_dims, encoder, noise_std, noise_dim, activation, dropout=dropout
        )
        self.decoder = nn.Linear(z_dim, num_classes)
        if critic is None:
            critic = ConcatCritic(input_dim, z_dim, hidden_dims=(512, 512))
        # With mi="vib" MINE only watches: its weight is 0, so the encoder gets the KL's gradient alone.
        self.regularizer = MIRegularizer(
            critic,
            direction="minimize",
            mi_weight=mi_weight if mi == "mine" else 0.0,
            bound=mi_bound,
            ema_decay=mi_ema_decay,
            clip=clip,
        )
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    def encode(self, x: Tensor, stochastic: bool | None = None) -> Tensor:
        """``Z = enc(x)``: ``(N, input_dim)`` or images ``(N, C, H, W)`` → ``(N, z_dim)``.

        ``stochastic`` defaults to the model's own setting (noise iff ``mi_weight > 0`` unless configured).
        """
        return self.encoder(self._flat(x), self.stochastic if stochastic is None else stochastic)

    @torch.no_grad()
    def predict_proba(self, x: Tensor, samples: int | None = None) -> Tensor:
        """Class probabilities ``(N, num_classes)``, averaged over ``samples`` draws of ``Z``."""
        x = self._flat(x)
        samples = (samples or self.hparams.eval_samples) if self.stochastic else 1
        z = self.encoder(x.repeat(samples, 1), self.stochastic)
        return self.decoder(z).softmax(dim=1).view(samples, x.shape[0], -1).mean(dim=0)

    def _flat(self, x: Tensor) -> Tensor:
        x = x.flatten(1) if x.ndim > 2 else x
        if x.ndim != 2 or x.shape[1] != self.hparams.input_dim:
            raise ValueError(
                f"batches must hold {self.hparams.input_dim} features per sample (`input_dim`), got x of shape "
                f"{tuple(x.shape)}; set `input_dim` to the flattened size of the data"
            )
        return x

    @override
    def setup(self, stage: str) -> None:
        # Catch a data/model mismatch before the first step, from what the data module declares.
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        dims = getattr(datamodule, "dims", None)
        if dims is not None and math.prod(dims) != self.hparams.input_dim:
            raise ValueError(
                f"`input_dim`={self.hparams.input_dim} does not match the data: {type(datamodule).__name__}.dims="
                f"{tuple(dims)} ({math.prod(dims)} features)"
            )
        classes = getattr(datamodule, "num_classes", None)
        if classes is not None and classes != self.hparams.num_classes:
            raise ValueError(
                f"`num_classes`={self.hparams.num_classes} does not match {type(datamodule).__name__}."
                f"num_classes={classes}"
            )

    @override
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        x = self._flat(x)
        if self.hparams.mi == "vib":
            mean, std = self.encoder.gaussian(x)
            z = mean + std * torch.randn_like(mean) if self.stochastic else mean
            kl = kl_to_standard_normal(mean, std).mean()
            self.log("train/kl", kl.detach(), on_step=False, on_epoch=True)
        else:
            z = self.encoder(x, self.stochastic)
        logits = self.decoder(z)
        ce = F.cross_entropy(logits, y)
        if self.hparams.clip is not None:
            mi_term = self.regularizer(x, z, main_loss=ce, params=list(self.encoder.parameters()))
        else:
            mi_term = self.regularizer(x, z)
        loss = ce + mi_term
        if self.hparams.mi == "vib":
            loss = loss + self.hparams.mi_weight * kl
        self.train_acc(logits, y)
        # Epoch means: one batch's MINE estimate is too noisy to read.
        self.log("train/ce", ce, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        self.log("train/mi", self.regularizer.last_estimate, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/loss", loss.detach(), on_step=False, on_epoch=True)
        return loss

    @override
    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        x = self._flat(x)
        probs = self.predict_proba(x)
        self.val_acc(probs, y)
        self.log("val/ce", F.nll_loss(probs.clamp_min(1e-12).log(), y), sync_dist=True)
        self.log("val/acc", self.val_acc, prog_bar=True)
        if x.shape[0] >= 2:
            self.log("val/mi", self.regularizer.estimator(x, self.encoder(x, self.stochastic)), sync_dist=True)

    @override
    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        self.test_acc.update(self.predict_proba(x), y)

    @override
    def on_test_epoch_end(self) -> None:
        accuracy = self.test_acc.compute()  # synchronized across processes
        self.log("test/acc", accuracy)
        self.log("test/error", 1.0 - accuracy)
        self.test_acc.reset()

    @override
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        groups = [
            {"params": [*self.encoder.parameters(), *self.decoder.parameters()], "lr": hp.lr},
            {"params": list(self.regularizer.parameters()), "lr": hp.lr_mi or hp.lr},
        ]
        optimizer = torch.optim.Adam(groups, betas=tuple(hp.betas))
        if hp.lr_decay == "none":
            return optimizer
        if hp.lr_decay == "linear":
            total = max(1, int(self.trainer.estimated_stepping_batches))
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=hp.lr_decay_rate)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
