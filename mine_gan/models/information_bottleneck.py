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

from mine_gan.estimators import ConcatCritic, MIRegularizer, estimate_mi, heldout_estimate
from mine_gan.estimators.mine import BOUNDS, Bound
from mine_gan.estimators.regularizer import check_critic_training
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

    **The critic's own training.** By default the critic takes one step per encoder step in the encoder's Adam,
    at the encoder's (decayed) learning rate: the paper's recipe, under which a fast encoder can outrun its
    critic and fool it (a minimized lower bound then stops measuring ``I``). ``lr_mi`` gives the critic its own
    Adam (betas ``betas``), which takes ``mi_steps`` steps per encoder step and keeps its learning rate unless
    ``mi_lr_decay``; ``mi_shuffles`` pairs each ``x`` with that many shuffled codes; ``critic_hidden_dims`` sets
    the default critic's width. Each buys a critic nearer its optimum (eq. 2 of Belghazi et al. 2018, the sup
    over ``θ``) for more critic passes per step: about ``mi_steps · (mi_shuffles + 1)`` instead of 2. See
    :class:`~mine_gan.estimators.MIRegularizer`.

    **Health figure** (``mi_check_steps > 0``): at the end of every ``mi_check_every_n_epochs``-th validation
    epoch (and the last), the validation pairs ``(x, z ~ enc(x))`` are split in halves; a fresh critic is fitted
    by :func:`~mine_gan.estimate_mi` on the first (``mi_check_steps`` Adam steps of 128 pairs) and both it and the
    model's critic are read on the second (:func:`~mine_gan.estimators.heldout_estimate`). ``val/mi_gap`` is the
    model's critic's reading minus the fresh one's: near 0 when the critic keeps up, clearly negative when the
    encoder has outrun it. Its cost is ``mi_check_steps`` critic steps per check, nothing during training steps.

    Logs ``train/ce``, ``train/acc``, ``train/mi`` (MINE's batch estimate of ``I(X; Z)``, nats),
    ``train/kl`` (``mi="vib"``), ``train/loss``, ``val/ce``, ``val/acc``, ``val/mi``,
    ``val/mi_own``, ``val/mi_check``, ``val/mi_gap`` (the health figure), ``test/acc``, ``test/error``.

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
            :class:`~mine_gan.estimators.ConcatCritic` ``(input_dim, z_dim, critic_hidden_dims)``.
        critic_hidden_dims: hidden widths of the default critic (default ``(512, 512)``); not with ``critic``.
        mi_bound: MINE's bound (``"mine"``: Donsker–Varadhan with the moving-average gradient, §3.2).
        mi_ema_decay: decay of MINE's moving average.
        clip: ``"adaptive"``: adaptive gradient clipping (eq. 21) of the MI gradient against the
            cross-entropy's on the encoder; ``None``: no clipping.
        lr: Adam's learning rate for encoder and decoder.
        lr_mi: learning rate of the critic's own Adam, not decayed unless ``mi_lr_decay``; ``None``: the critic
            is a parameter group of the encoder's Adam at ``lr``, decayed with it, one step per encoder step.
        mi_steps: critic steps per encoder step (needs ``lr_mi``), like the GANs' ``d_steps``.
        mi_shuffles: shuffled codes per ``x`` in MINE's marginal term (the marginal pool is ``mi_shuffles · N``).
        mi_lr_decay: decay ``lr_mi`` with the encoder's schedule (``lr_decay``).
        mi_check_steps: critic steps of the health figure's fresh estimator; ``0`` turns the figure off.
        mi_check_every_n_epochs: validation epochs between health checks (the last epoch is always checked).
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
        mi_steps: int = 1,
        mi_shuffles: int = 1,
        mi_lr_decay: bool = False,
        critic_hidden_dims: Sequence[int] | None = None,
        mi_check_steps: int = 0,
        mi_check_every_n_epochs: int = 1,
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
        check_critic_training(lr_mi, mi_steps, betas)
        if mi_lr_decay and lr_mi is None:
            raise ValueError("`mi_lr_decay`=True decays the critic's own learning rate: set `lr_mi` too")
        if critic is not None and critic_hidden_dims is not None:
            raise ValueError(
                f"`critic_hidden_dims`={list(critic_hidden_dims)} sizes the default critic: pass it or `critic`, "
                "not both"
            )
        if critic_hidden_dims is not None and (not critic_hidden_dims or min(critic_hidden_dims) < 1):
            raise ValueError(f"`critic_hidden_dims` must be positive widths, got {list(critic_hidden_dims)}")
        for name, value in (("mi_check_steps", mi_check_steps), ("mi_check_every_n_epochs", mi_check_every_n_epochs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "mi_check_steps" else 1):
                low = 0 if name == "mi_check_steps" else 1
                raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}")
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
            critic = ConcatCritic(input_dim, z_dim, hidden_dims=tuple(critic_hidden_dims or (512, 512)))
        # With mi="vib" MINE only watches: its weight is 0, so the encoder gets the KL's gradient alone.
        self.regularizer = MIRegularizer(
            critic,
            direction="minimize",
            mi_weight=mi_weight if mi == "mine" else 0.0,
            bound=mi_bound,
            ema_decay=mi_ema_decay,
            clip=clip,
            shuffles=mi_shuffles,
            lr_mi=lr_mi,
            mi_steps=mi_steps,
            mi_betas=betas,
        )
        self._check_pairs: list[tuple[Tensor, Tensor]] = []
        self._critic_schedule: torch.optim.lr_scheduler.LRScheduler | None = None
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
        z = self.encoder(x, self.stochastic)
        if x.shape[0] >= 2:
            self.log("val/mi", self.regularizer.estimator(x, z), sync_dist=True)
        if self._check_due():
            self._check_pairs.append((x.detach(), z.detach()))

    def _check_due(self) -> bool:
        if self.hparams.mi_check_steps == 0 or self._trainer is None or self.trainer.sanity_checking:
            return False
        epoch, every = self.current_epoch + 1, self.hparams.mi_check_every_n_epochs
        return epoch % every == 0 or epoch == self.trainer.max_epochs

    @override
    def on_validation_epoch_end(self) -> None:
        if not self._check_pairs:
            return
        x, z = (torch.cat(parts) for parts in zip(*self._check_pairs, strict=True))
        self._check_pairs = []
        own, check = self.mi_check(x, z, steps=self.hparams.mi_check_steps, seed=self.current_epoch)
        self.log("val/mi_own", own, sync_dist=True)
        self.log("val/mi_check", check, sync_dist=True)
        self.log("val/mi_gap", own - check, sync_dist=True)

    @torch.no_grad()
    def mi_check(self, x: Tensor, z: Tensor, steps: int, seed: int = 0) -> tuple[float, float]:
        """The health figure's two readings of ``I(X; Z)`` on pairs ``(x, z)``: ``(model's critic, fresh critic)``.

        A fresh :class:`~mine_gan.estimators.ConcatCritic` (256-256) is fitted by :func:`~mine_gan.estimate_mi` on
        the first half of the pairs for ``steps`` steps; both critics are read on the second half by
        :func:`~mine_gan.estimators.heldout_estimate` with the same partners. Needs at least 32 pairs.
        """
        if x.shape[0] < 32:
            raise ValueError(f"the MI check (`mi_check_steps`) needs at least 32 validation pairs, got {x.shape[0]}")
        half = x.shape[0] // 2
        with torch.enable_grad():
            fresh = estimate_mi(
                x[:half], z[:half], critic=ConcatCritic(x.shape[1], z.shape[1]), steps=steps,
                batch_size=min(128, half // 2), seed=seed, device=x.device,
            )  # fmt: skip
        x_tf, z_tf = fresh.transform
        held_x, held_z = x[half:], z[half:]
        check, _ = heldout_estimate(
            fresh.estimator, x_tf.transform(held_x).to(x.device), z_tf.transform(held_z).to(x.device),
            rng=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        own, _ = heldout_estimate(self.regularizer.estimator, held_x, held_z, rng=torch.Generator().manual_seed(seed))
        return own, check

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
        groups = [{"params": [*self.encoder.parameters(), *self.decoder.parameters()], "lr": hp.lr}]
        own = self.regularizer.critic_optimizer
        if own is None:  # the critic is a group of the encoder's Adam, decayed with it
            groups.append({"params": list(self.regularizer.parameters()), "lr": hp.lr})
        optimizer = torch.optim.Adam(groups, betas=tuple(hp.betas))
        self._critic_schedule = self._schedule(own) if own is not None and hp.mi_lr_decay else None
        scheduler = self._schedule(optimizer)
        if scheduler is None:
            return optimizer
        interval = "step" if hp.lr_decay == "linear" else "epoch"
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}

    def _schedule(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
        """``lr_decay``'s schedule on ``optimizer`` (the encoder's, or the critic's own with ``mi_lr_decay``)."""
        hp = self.hparams
        if hp.lr_decay == "none":
            return None
        if hp.lr_decay == "linear":
            total = max(1, int(self.trainer.estimated_stepping_batches))
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=hp.lr_decay_rate)

    @override
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._critic_schedule is not None and self.hparams.lr_decay == "linear":
            self._critic_schedule.step()

    @override
    def on_train_epoch_end(self) -> None:
        if self._critic_schedule is not None and self.hparams.lr_decay == "exponential":
            self._critic_schedule.step()
