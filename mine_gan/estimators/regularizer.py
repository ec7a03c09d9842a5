"""``MIRegularizer``: MINE as a loss term that raises or lowers ``I(A; B)`` between two tensors of any model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from mine_gan.estimators.mine import MINE, Bound, Marginal
from mine_gan.optim import clip_mi_gradients
from mine_gan.recipe import Clip, check_clip, check_mi_weight
from mine_gan.validation import check_choice, check_paired

__all__ = ["Direction", "MIRegularizer", "check_critic_training"]

Direction = Literal["maximize", "minimize"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)


def check_critic_training(lr_mi: float | None, mi_steps: int, mi_betas: tuple[float, float]) -> None:
    """``ValueError`` naming the argument unless the critic's own training is well defined.

    Example:
        >>> check_critic_training(None, 2, (0.9, 0.999))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: `mi_steps`=2 needs the critic's own optimizer: set `lr_mi` (with lr_mi=None the model's ...
    """
    if lr_mi is not None and (isinstance(lr_mi, bool) or not isinstance(lr_mi, (int, float)) or not lr_mi > 0):
        raise ValueError(f"`lr_mi` must be a number > 0 or None, got {lr_mi!r}")
    if isinstance(mi_steps, bool) or not isinstance(mi_steps, int) or mi_steps < 1:
        raise ValueError(f"`mi_steps` must be an integer >= 1, got {mi_steps!r}")
    if mi_steps > 1 and lr_mi is None:
        raise ValueError(
            f"`mi_steps`={mi_steps} needs the critic's own optimizer: set `lr_mi` (with lr_mi=None the model's "
            "optimizer takes one step of the critic per model step)"
        )
    if len(tuple(mi_betas)) != 2 or not all(0.0 <= beta < 1.0 for beta in mi_betas):
        raise ValueError(f"`mi_betas` must be two numbers in [0, 1), got {mi_betas!r}")


class MIRegularizer(nn.Module):
    r"""A loss term that pushes the mutual information between two tensors of a model up or down.

    ``term = regularizer(a, b)`` returns one scalar to add to the model's loss. Back-propagating it does
    two things at once:

    - the critic ``T`` **ascends** the bound ``Î(A; B)`` (unit weight, whatever ``mi_weight`` and
      ``direction``), so the estimate keeps tightening;
    - whatever produced ``a`` and ``b`` gets ``mi_weight · ∇Î`` to **ascend** (``"maximize"``) or
      ``mi_weight · ∇Î`` to **descend** (``"minimize"``) the estimate.

    .. math:: \mathcal{L}_{\text{model}} = \mathcal{L}_{\text{main}} \mp \beta\, \hat I_\theta(A; B),
              \qquad \theta^\star = \arg\max_\theta \hat I_\theta(A; B)

    For ``"minimize"`` the two players want opposite things (the information-bottleneck game of
    Belghazi et al. 2018, §5.3). They are decoupled by **gradient reversal on the inputs** (Ganin &
    Lempitsky 2015): the bound is computed on detached copies of ``a`` and ``b``, its gradient with respect to
    them is taken, sign-flipped for ``"minimize"`` and scaled by ``mi_weight``, and handed to the model
    through a linear surrogate. One forward pass, one ``backward()``, one optimizer step update both
    players, with no second critic step and no extra optimizer. ``"maximize"`` goes through the same
    path without the flip.

    **Who trains the critic.** By default (``lr_mi=None``) your optimizer does: the regularizer is an
    ``nn.Module``; make it an attribute of your model (then ``model.parameters()`` contains the critic) or pass
    ``regularizer.parameters()`` to your optimizer, and both players take one simultaneous step per batch (the
    paper's Algorithm 1 inside the model's update). With ``lr_mi`` set, the critic has **its own** Adam
    (learning rate ``lr_mi``, betas ``mi_betas``, :attr:`critic_optimizer`): every call with gradients enabled
    first takes ``mi_steps`` steps of it on the detached batch, each with fresh shuffles, and only then computes
    the model's gradient against the updated critic. The returned term then sends no gradient to the critic
    (its ``.grad`` stays ``None``, so your optimizer skips it even if it holds the critic's parameters), and
    your learning-rate schedule does not touch ``lr_mi``. The optimizer's state is in ``state_dict()``.

    The trade-off: a minimized *lower* bound is only a penalty on ``I`` while the critic stays near its
    optimum ``θ*`` (eq. 2 of Belghazi et al. 2018 is a sup over ``θ``). Each of ``mi_steps``, a larger
    ``lr_mi``, a wider critic and more ``shuffles`` keeps it closer, at a cost per model step of about
    ``mi_steps · (shuffles + 1)`` critic passes of the batch instead of 2 (the GANs' ``d_steps`` is the same
    trade for the discriminator). Too large an ``lr_mi`` makes the critic's own estimate noisy.

    **Adaptive clipping** (``clip="adaptive"``, paper eq. 21): call ``regularizer(a, b, main_loss=loss,
    params=encoder.parameters())``. With ``g_u = ∇_params main_loss`` and ``g_m`` the MI gradient in the
    chosen direction, the term then gives ``params`` the gradient ``mi_weight · min(‖g_u‖, ‖g_m‖) g_m / ‖g_m‖``
    (:func:`mine_gan.optim.clip_mi_gradients`, the same eq. 21 step the GAN modules take), so the MI term
    moves ``params`` by at most ``mi_weight · ‖g_u‖``; add
    ``main_loss`` to the term yourself as usual. With clipping the MI gradient reaches ``params`` only:
    pass every parameter upstream of ``a`` and ``b`` that the main loss also trains.

    Minimizing a *lower* bound is a game, not a descent: a model that outruns its critic can drive the
    estimate far below zero (a sign the critic lags, not that ``I`` is small, since ``I ≥ 0``). Keep
    ``mi_weight`` small, give the critic a learning rate at least the model's, or use ``clip="adaptive"``.

    The returned value is the regularizer's contribution to the objective, ``−mi_weight · Î`` for
    ``"maximize"`` and ``+mi_weight · Î`` for ``"minimize"``. Its gradient is the one described above, not
    the gradient of that value (as in MINE's own bias-corrected surrogate). The batch estimate ``Î`` is
    kept in :attr:`last_estimate` for logging. Under ``torch.no_grad()`` (validation) the call only
    returns the value.

    Args:
        critic: the statistics network ``T(a, b) -> (N,)``, e.g.
            :class:`~mine_gan.estimators.ConcatCritic` ``(a_dim, b_dim)``.
        direction: ``"maximize"`` or ``"minimize"`` the mutual information.
        mi_weight: ``β ≥ 0``, the weight of the MI term on the model's gradient. ``0`` keeps training
            the critic (a monitor) without touching the model.
        bound: the bound the critic is trained on and the model's gradient comes from (see :class:`MINE`).
        ema_decay: decay of MINE's moving average (``bound="mine"``).
        marginal: how product-of-marginals samples are formed (see :class:`MINE`).
        shuffles: permutations of ``b`` per batch for the ``"shuffle"`` marginal (see :class:`MINE`): the
            partition term averages over ``shuffles · N`` pairs.
        lr_mi: the learning rate of the critic's own Adam; ``None``: no own optimizer, your optimizer trains the
            critic in the model's step (``mi_steps`` must then be 1).
        mi_steps: critic steps per call (per model step), with ``lr_mi`` only.
        mi_betas: the betas of the critic's own Adam.
        clip: ``"adaptive"`` for adaptive gradient clipping against ``main_loss`` (requires ``main_loss``
            and ``params`` in every call made with gradients enabled), ``None`` for none.

    Shape:
        ``a``: ``(N, D_a)``, ``b``: ``(N, D_b)`` (whatever the critic accepts, same ``N``) → scalar.

    Example:
        >>> import torch
        >>> from mine_gan.estimators import ConcatCritic
        >>> _ = torch.manual_seed(0)
        >>> encoder = torch.nn.Linear(2, 2)
        >>> reg = MIRegularizer(ConcatCritic(2, 2, hidden_dims=(16,)), direction="minimize", mi_weight=0.1)
        >>> optimizer = torch.optim.Adam([*encoder.parameters(), *reg.parameters()], lr=1e-3)
        >>> x = torch.randn(64, 2)
        >>> z = encoder(x) + 0.1 * torch.randn(64, 2)
        >>> loss = z.pow(2).mean() + reg(x, z)
        >>> loss.backward(); optimizer.step()
        >>> reg.last_estimate.shape
        torch.Size([])
    """

    last_estimate: Tensor | None

    def __init__(
        self,
        critic: nn.Module,
        direction: Direction = "maximize",
        mi_weight: float = 1.0,
        bound: Bound = "mine",
        ema_decay: float = 0.99,
        marginal: Marginal | None = None,
        clip: Clip | None = None,
        shuffles: int = 1,
        lr_mi: float | None = None,
        mi_steps: int = 1,
        mi_betas: tuple[float, float] = (0.9, 0.999),
    ) -> None:
        super().__init__()
        check_choice("direction", direction, DIRECTIONS)
        check_mi_weight(mi_weight)
        check_clip(clip)
        check_critic_training(lr_mi, mi_steps, mi_betas)
        self.estimator = MINE(critic, bound=bound, ema_decay=ema_decay, marginal=marginal, shuffles=shuffles)
        self.direction: str = direction
        self.mi_weight = float(mi_weight)
        self.clip: Clip | None = clip
        self.mi_steps = mi_steps
        self.last_estimate = None
        #: The critic's own Adam (``lr_mi`` set), else ``None``: the caller's optimizer trains the critic.
        self.critic_optimizer: torch.optim.Optimizer | None = None
        if lr_mi is not None:
            self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr_mi, betas=tuple(mi_betas))

    @property
    def critic(self) -> nn.Module:
        return self.estimator.critic

    def extra_repr(self) -> str:
        own = "" if self.critic_optimizer is None else f", lr_mi={self.critic_optimizer.defaults['lr']}"
        steps = f", mi_steps={self.mi_steps}" if self.critic_optimizer is not None else ""
        return f"direction={self.direction!r}, mi_weight={self.mi_weight}, clip={self.clip!r}{own}{steps}"

    def get_extra_state(self) -> dict:
        # The critic's own optimizer resumes with the model (its moments matter for a lagging critic).
        return {} if self.critic_optimizer is None else {"critic_optimizer": self.critic_optimizer.state_dict()}

    def set_extra_state(self, state: dict) -> None:
        if self.critic_optimizer is not None and "critic_optimizer" in state:
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])

    def train_critic(self, a: Tensor, b: Tensor, rng: torch.Generator | None = None) -> Tensor:
        """``mi_steps`` steps of the critic's own optimizer on the detached pairs; returns the last loss.

        Called by :meth:`forward` (with gradients enabled) when ``lr_mi`` is set; each step draws fresh shuffles.
        """
        if self.critic_optimizer is None:
            raise RuntimeError("train_critic needs the critic's own optimizer: construct with `lr_mi`")
        a, b = a.detach(), b.detach()
        loss = a.new_zeros(())
        with torch.enable_grad():
            for _ in range(self.mi_steps):
                self.critic_optimizer.zero_grad(set_to_none=True)
                loss = self.estimator.loss(a, b, rng=rng)
                loss.backward()
                self.critic_optimizer.step()
        # None, not zero: the caller's optimizer (which may hold these parameters) then skips them.
        self.critic_optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def forward(
        self,
        a: Tensor,
        b: Tensor,
        *,
        main_loss: Tensor | None = None,
        params: Iterable[Tensor] | None = None,
        rng: torch.Generator | None = None,
    ) -> Tensor:
        """The term to add to the loss (see the class docstring for what its gradient does).

        Args:
            a, b: ``(N, ...)`` paired tensors; either or both may carry gradients back to the model.
            main_loss: the model's main loss, for ``clip="adaptive"`` only.
            params: the parameters ``g_u`` and ``g_m`` are compared over, for ``clip="adaptive"`` only.
            rng: random stream (``torch.Generator``) for the ``"shuffle"`` marginal.

        Returns:
            Scalar with value ``∓ mi_weight · Î(a; b)``.
        """
        self._check_inputs(a, b, main_loss, params)
        own = self.critic_optimizer is not None and torch.is_grad_enabled()
        if own:
            self.train_critic(a, b, rng=rng)
        # Detached leaves cut the model out of the critic's gradient: the critic always ascends the bound.
        leaves = [t.detach().requires_grad_(t.requires_grad and torch.is_grad_enabled()) for t in (a, b)]
        # After its own steps the critic only reads this batch: its moving average has already seen it.
        critic_loss = self.estimator.loss(leaves[0], leaves[1], rng=rng, update_ema=not own)
        estimate = -critic_loss.detach()
        self.last_estimate = estimate
        sign = 1.0 if self.direction == "maximize" else -1.0
        value = -sign * self.mi_weight * estimate
        if critic_loss.grad_fn is None:  # no_grad, or a critic without parameters and constant inputs
            return value

        model_term = critic_loss.new_zeros(())
        upstream = [(t, leaf) for t, leaf in zip((a, b), leaves, strict=True) if leaf.requires_grad]
        if upstream and self.mi_weight > 0:
            # d(critic_loss)/d(input) = -dÎ/d(input); descending <input, sign * that> moves Î the chosen way.
            grads = torch.autograd.grad(critic_loss, [leaf for _, leaf in upstream], retain_graph=True)
            surrogate = sum((t * (sign * g)).sum() for (t, _), g in zip(upstream, grads, strict=True))
            if self.clip is not None:
                model_term = self._clipped(surrogate, main_loss, params)
            else:
                model_term = surrogate
        model_term = self.mi_weight * model_term
        critic_term = critic_loss.new_zeros(()) if own else critic_loss - critic_loss.detach()
        return critic_term + (model_term - model_term.detach()) + value

    def _clipped(self, surrogate: Tensor, main_loss: Tensor | None, params: Iterable[Tensor] | None) -> Tensor:
        """A term whose gradient on ``params`` is eq. 21's clipped MI gradient."""
        assert main_loss is not None and params is not None  # checked in _check_inputs
        params = [p for p in params if p.requires_grad]
        mi_grads = torch.autograd.grad(surrogate, params, retain_graph=True, allow_unused=True)
        main_grads = torch.autograd.grad(main_loss, params, retain_graph=True, allow_unused=True)
        main_grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, main_grads, strict=True)]
        _, clipped, _ = clip_mi_gradients(main_grads, mi_grads, clip=self.clip)
        terms = [(p * g).sum() for p, g in zip(params, clipped, strict=True) if g is not None]
        return sum(terms, surrogate.new_zeros(()))

    def _check_inputs(self, a: Tensor, b: Tensor, main_loss: Tensor | None, params: Iterable[Tensor] | None) -> None:
        for name, t in (("a", a), ("b", b)):
            if not isinstance(t, Tensor):
                raise TypeError(f"`{name}` must be a torch.Tensor, got {type(t).__name__}")
        check_paired(a, b, names=("a", "b"), check_finite=False)
        critic = self.estimator.critic
        for name, t, attr in (("a", a, "x_dim"), ("b", b, "z_dim")):
            expected = getattr(critic, attr, None)
            if not isinstance(expected, int):
                continue  # a critic that does not declare its input size checks its inputs itself
            features = 1 if t.ndim == 1 else t.shape[1]
            if t.ndim > 2 or features != expected:
                raise ValueError(
                    f"`{name}` must be (N, {expected}) for this critic ({type(critic).__name__} with "
                    f"{attr}={expected}), got shape {tuple(t.shape)}"
                )
        if self.clip is not None and torch.is_grad_enabled():
            if main_loss is None or params is None:
                raise ValueError(
                    "clip='adaptive' needs `main_loss` (the model's main loss) and `params` (the parameters to "
                    "clip over) in each call with gradients enabled: "
                    "regularizer(a, b, main_loss=loss, params=model.parameters())"
                )
            if not isinstance(main_loss, Tensor) or main_loss.ndim != 0:
                raise ValueError(f"`main_loss` must be a scalar tensor, got {main_loss!r:.80}")
        elif self.clip is None and (main_loss is not None or params is not None):
            raise ValueError(
                "`main_loss` and `params` are used only with clip='adaptive'; construct with clip='adaptive'"
            )
