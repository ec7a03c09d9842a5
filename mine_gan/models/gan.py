"""``GANModule``: the Lightning training loop that InfoGAN and BiGAN share, on one process or many.

What lives here is Lightning plumbing, not GAN maths (the losses and codes live with the networks in
:mod:`mine_gan.nets`, the eq. 21 step in :mod:`mine_gan.optim`):

* **One process at batch 2B equals two processes at batch B.** Every random draw of the training step
  (noise, code, encoder noise, MINE's marginal shuffle) comes from one ``torch.Generator`` seeded
  identically on every process (rank 0's seed, broadcast at setup). Each draw is made for the *global*
  batch and each process keeps its own rows. MINE's statistics network sees the global batch (a
  differentiable all-gather), and every gradient is averaged across processes before it is used, so the
  clip of eq. 21 compares global gradients.
* **Manual optimization, DDP's reducer bypassed.** Each backward pass touches one network
  (``toggle_optimizer``), which DDP's reducer, expecting every parameter in every backward, would
  reject. Gradients are taken under ``strategy.block_backward_sync`` and averaged by
  :func:`mine_gan.optim.average_gradients`; no ``find_unused_parameters`` is needed.
* **The training recipe** shared by the GANs: ``d_steps`` discriminator steps per generator step, a
  zero-centred gradient penalty on D (and optionally on MINE's T), a linear learning-rate decay through
  Lightning's ``lr_scheduler_configs``.
* **Exact resume.** The random stream and the iteration counter are saved with the checkpoint; optimizers,
  schedulers and MINE's moving average are saved by Lightning.
* **Random streams follow the module.** A stream is created (or moved) on the module's device when a step
  first draws from it, so a stream restored before Lightning moves the module lands on the training device.
  A saved stream state records its device type: a CPU generator's state (Mersenne Twister, 5,056 bytes)
  cannot become a CUDA generator's (Philox seed and offset, 16 bytes) nor the reverse, so a checkpoint
  resumed on another device type re-seeds its streams and warns once. Sampling never needs them.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.func import vmap
from typing_extensions import override

from mine_gan.estimators import MINE, ConcatCritic, ConvCritic
from mine_gan.estimators.mine import Bound, Streams
from mine_gan.models.seeds import unstack_seed  # the stacking lives beside, not inside, the module
from mine_gan.nets.losses import gradient_penalty
from mine_gan.nets.sync_batch_norm import synchronize_batch_norm
from mine_gan.optim import (
    MIGradientStep,
    average_gradients,
    averaged_backward,
    install_gradients,
    local_gradients,
    loss_scale,
)
from mine_gan.recipe import GAN_LR_DECAYS, GANLRDecay, PenaltyPoints, check_gan_recipe
from mine_gan.seeding import seeded_generator
from mine_gan.validation import check_datamodule_shape, check_positive

__all__ = ["GAN_LR_DECAYS", "GANLRDecay", "GANModule", "default_estimator", "draw_device", "frozen", "infer_x_shape"]

_CHECKPOINT_KEY = "mine_gan_random_stream"
_VALIDATION, _PREDICTION, _RESEEDED = 1, 2, 3  # random streams derived from the run's seed, besides training's
#: bytes of a CPU generator's state; any other size comes from an accelerator's (CUDA's: 16)
_CPU_STATE_BYTES = torch.Generator().get_state().numel()


def draw_device(rng: torch.Generator | None, device: torch.device) -> torch.device:
    """Where a draw from ``rng`` is made: on ``rng``'s own device (torch refuses any other), else on ``device``.

    The public ``rng`` arguments (``sample``, ``latent``, ``code_traversal``, ``encode``) accept a generator on
    any device: the draws are made on its device and moved to the module's, so a CPU generator seeded alike
    gives the same samples on a CPU and on a GPU.

    Example:
        >>> draw_device(torch.Generator(), torch.device("meta")), draw_device(None, torch.device("meta"))
        (device(type='cpu'), device(type='meta'))
    """
    return rng.device if rng is not None else device


def _state_device_type(saved: dict[str, Any]) -> str:
    """The device type the saved stream states come from (checkpoints before it was recorded: from the size)."""
    if "device" in saved:
        return str(saved["device"])
    return "cpu" if saved["states"][0].numel() == _CPU_STATE_BYTES else "cuda"


def infer_x_shape(generator: nn.Module, latent_dim: int) -> tuple[int, ...]:
    """Shape of one generated sample: ``generator.x_shape`` when it says, else from a forward pass."""
    shape = getattr(generator, "x_shape", None)
    if shape is not None:
        return tuple(shape)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        out = generator(torch.zeros(2, latent_dim))
    generator.train(was_training)
    return tuple(out.shape[1:])


def default_estimator(
    critic: nn.Module | None, x_shape: tuple[int, ...], z_dim: int, bound: Bound, ema_decay: float
) -> MINE:
    """MINE on ``(x, z)`` with ``critic``, or by default a ConcatCritic (flat ``x``) or ConvCritic (images)."""
    if critic is None:
        critic = (
            ConcatCritic(x_shape[0], z_dim, hidden_dims=(128, 128))
            if len(x_shape) == 1
            else ConvCritic(x_shape[0], x_shape[-1], z_dim)
        )
    return MINE(critic, bound=bound, ema_decay=ema_decay)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Context in which ``module``'s parameters build no graph (so a borrowed network gets no gradients)."""
    state = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in state:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in state:
            p.requires_grad_(flag)


class GANModule(pl.LightningModule):
    """Base of the GAN modules: random streams, gradient steps, the training recipe, sampling and evaluation.

    Subclasses call :meth:`_configure_training` in their constructor, build ``self.mine`` (or ``None``)
    and implement ``training_step``, :meth:`_generate` and :meth:`_evaluate`.

    Note:
        With manual optimization Lightning counts ``global_step`` (and ``max_steps``) per optimizer step:
        a training iteration of InfoGAN+MINE is three steps, of a plain GAN two. Budget iterations with
        epochs or ``limit_train_batches`` to compare methods.
    """

    #: shape of one sample x, set by subclasses
    x_shape: tuple[int, ...]
    #: MINE's estimator owned (and trained) by the module, or ``None``
    mine: MINE | None

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.mode_coverage: nn.Module | None = None  # one ModeCoverage, or a ModuleList of one per seed
        #: seeds trained together (``mine-gan fit --seeds``, see :func:`mine_gan.models.stack_seeds`)
        self.num_seeds = 1
        self._seeds: list[int] | None = None
        self._streams: list[torch.Generator] | None = None
        self._saved_streams: tuple[str, list[Tensor]] | None = None  # restored states, until a step draws
        self._iteration = 0  # training batches done, the resumed ones included
        self._evaluation_generator: torch.Generator | None = None

    def _configure_training(
        self,
        *,
        clip: str | None,
        adversarial: str,
        mi_weight: float,
        mi_ema_decay: float,
        d_steps: int,
        d_penalty: float,
        d_penalty_points: str,
        mi_penalty: float,
        lr_decay: str,
        **learning_rates: float,
    ) -> None:
        """Check (:func:`mine_gan.recipe.check_gan_recipe`) and keep the arguments every GAN module has."""
        check_gan_recipe(
            clip=clip,
            adversarial=adversarial,
            mi_weight=mi_weight,
            mi_ema_decay=mi_ema_decay,
            d_steps=d_steps,
            d_penalty=d_penalty,
            d_penalty_points=d_penalty_points,
            mi_penalty=mi_penalty,
            lr_decay=lr_decay,
            **learning_rates,
        )
        self.mi_weight, self.clip, self.adversarial = mi_weight, clip, adversarial
        self.d_steps, self.d_penalty, self.mi_penalty = d_steps, d_penalty, mi_penalty
        self.d_penalty_points: PenaltyPoints = d_penalty_points  # type: ignore[assignment]
        self.lr_decay = lr_decay
        self.mi_step = MIGradientStep(mi_weight, clip)  # type: ignore[arg-type]

    def _save_hyperparameters(self, *networks: str) -> None:
        """Save every constructor argument (call from the subclass's ``__init__``).

        Networks built by the CLI are saved as their configuration, so ``load_from_checkpoint(path)``
        rebuilds them; network objects passed directly are not pickled into the checkpoint: pass them to
        ``load_from_checkpoint`` again.
        """
        frame = inspect.currentframe().f_back  # the subclass's __init__, whose arguments are saved
        self.save_hyperparameters(ignore=list(networks), frame=frame)
        if "_instantiator" in self.hparams:  # built by LightningCLI: the hparams are the configuration, networks too
            self.save_hyperparameters(frame=frame)

    # ----------------------------------------------------------------- processes and random streams
    def _rank_and_world(self) -> tuple[int, int]:
        try:
            trainer = self.trainer
        except RuntimeError:  # not attached to a Trainer: sampling from a loaded checkpoint
            return 0, 1
        return trainer.global_rank, trainer.world_size

    @property
    def seeds(self) -> list[int]:
        """The run's seeds: one, or those trained together as one batched model."""
        return self._run_seeds()

    @property
    def random_stream(self) -> Streams:
        """The training step's random stream: identical on every process, saved with checkpoints.

        With several seeds, one stream per seed (a list): each seed's rows of a seed-major batch are drawn
        from its own stream, exactly as that seed's single run draws them.

        The streams live on the module's device: they are created (or restored from a checkpoint) when first
        drawn from, and moved when the module has moved since; see :meth:`_streams_on`.
        """
        if self._streams is None or self._streams[0].device != self.device:
            self._streams = self._streams_on(self.device)
        return self._streams[0] if self.num_seeds == 1 else self._streams

    def _streams_on(self, device: torch.device) -> list[torch.Generator]:
        """The training streams on ``device``: fresh, restored, or moved, exactly where the device type allows.

        A state moves exactly between devices of one type (``cuda:0`` to ``cuda:1``). Between types it
        cannot, so the streams restart from seeds derived from the run's seeds and the iteration, the same
        on every process, with one warning (from rank 0).
        """
        self._seeds = self._run_seeds()
        if self._streams is not None:
            source, states = self._streams[0].device.type, [stream.get_state() for stream in self._streams]
        elif self._saved_streams is not None:
            source, states = self._saved_streams
        else:
            return [torch.Generator(device=device).manual_seed(seed) for seed in self._seeds]
        self._saved_streams = None
        if source == device.type:
            return [torch.Generator(device=device).set_state(state) for state in states]
        rank_zero_warn(
            f"the random streams of this {type(self).__name__} were saved on {source} and it now runs on "
            f"{device.type}; a generator's state cannot move between device types, so its training streams "
            f"restart at iteration {self._iteration} from seeds derived from {self._seeds}: networks, optimizers "
            f"and MINE's moving average carry on exactly, the noise drawn from here on differs from a run that "
            f"stayed on {source}, and sampling with your own `rng` is unaffected",
            category=UserWarning,
        )
        return [seeded_generator(seed, _RESEEDED, self._iteration, device=device) for seed in self._seeds]

    def _run_seeds(self) -> list[int]:
        """The run's seeds: those set at setup (or restored), else torch's initial seed (``seed_everything``)."""
        return self._seeds if self._seeds is not None else [int(torch.initial_seed()) % 2**63]

    def _derived_stream(self, *words: int) -> Streams:
        """A stream of its own for ``words`` (validation epoch, prediction batch), from the run's seed(s)."""
        streams = [seeded_generator(seed, *words, device=self.device) for seed in self._run_seeds()]
        return streams[0] if self.num_seeds == 1 else streams

    def _randn(self, *shape: int, rng: torch.Generator | None) -> Tensor:
        """Standard normal ``shape`` in the module's dtype on its device, drawn on ``rng``'s (:func:`draw_device`)."""
        return torch.randn(shape, device=draw_device(rng, self.device), dtype=self.dtype, generator=rng).to(self.device)

    def _local_rows(self, global_batch: Tensor) -> Tensor:
        """This process's rows of a batch drawn for all processes: rank ``r`` keeps block ``r``."""
        rank, world = self._rank_and_world()
        if world == 1:
            return global_batch
        n = global_batch.shape[0] // world
        return global_batch[rank * n : (rank + 1) * n]

    def _draw(self, n: int, draw: Any, rng: Streams) -> Tensor:
        """``draw(global_n, rng)`` for the global batch of ``n`` rows per process; this process's rows.

        With one stream per seed, ``n`` rows are ``S`` seed-major blocks, each drawn from its seed's stream.
        """
        _, world = self._rank_and_world()
        if isinstance(rng, list):
            rows = n // len(rng)
            return torch.cat([self._local_rows(draw(rows * world, g)) for g in rng])
        return self._local_rows(draw(n * world, rng))

    # ----------------------------------------------------------------- seeds
    def _per_seed(self, fn: Any, *tensors: Tensor, **kwargs: Any) -> Tensor:
        """``fn(*tensors, **kwargs)``, a batch reduction, for each seed's rows: a scalar, or ``(S,)``."""
        if self.num_seeds == 1:
            return fn(*tensors, **kwargs)
        blocks = [t.view(self.num_seeds, -1, *t.shape[1:]) for t in tensors]
        return vmap(partial(fn, **kwargs))(*blocks)

    def _seed_mean(self, values: Tensor) -> Tensor:
        """The batch mean of per-row ``values`` ``(N,)``: a scalar, or each seed's ``(S,)``."""
        return values.mean() if self.num_seeds == 1 else values.view(self.num_seeds, -1).mean(dim=1)

    def _log_values(self, stage: str, values: dict[str, Tensor], **kwargs: Any) -> None:
        """Log ``<stage>/<name>``; with several seeds, seed ``k``'s entry of each value as ``seed_k/<stage>/<name>``."""
        if self.num_seeds == 1:
            self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, **kwargs)
            return
        seeds = self._run_seeds()
        # Every value must be each seed's own: a pooled value copied to every seed would hide a coupling bug.
        pooled = {k: tuple(v.shape) for k, v in values.items() if tuple(v.shape) != (len(seeds),)}
        if pooled:
            raise RuntimeError(f"with {len(seeds)} seeds every logged value must be one per seed, got shapes {pooled}")
        self.log_dict(
            {f"seed_{seed}/{stage}/{k}": v[i] for k, v in values.items() for i, seed in enumerate(seeds)}, **kwargs
        )

    def seed_module(self, index: int) -> GANModule:
        """Seed number ``index`` of a multi-seed module as a module of its own (copies); ``self`` for one seed.

        It holds that seed's networks, MINE moving average, random stream and iteration count: what the
        seed's single run would hold at this point. Callbacks draw pictures and mode histograms from it.
        """
        if self.num_seeds == 1:
            return self
        return unstack_seed(self, index)

    def _gather(self, tensor: Tensor) -> Tensor:
        """The global batch ``[rank 0 rows; rank 1 rows; ...]``, differentiable in this process's rows."""
        _, world = self._rank_and_world()
        if world == 1:
            return tensor
        return self.all_gather(tensor, sync_grads=tensor.requires_grad).flatten(0, 1)

    @override
    def setup(self, stage: str) -> None:
        check_datamodule_shape(getattr(self.trainer, "datamodule", None), self.x_shape, type(self).__name__)
        self._setup_mode_coverage()
        if self._seeds is None:
            # Rank 0's seed, so that processes seeded differently (or not at all) still draw alike.
            self._seeds = [int(s) for s in self.trainer.strategy.broadcast(self._run_seeds(), src=0)]
        self._synchronize_batch_norm()

    def _synchronize_batch_norm(self) -> None:
        """On several processes, batch norm in the networks that see this process's rows uses the global batch.

        Without it each process would normalize its own B rows, and two processes at B would not train like
        one at 2B (see :class:`~mine_gan.nets.sync_batch_norm.GlobalBatchNorm`; ``torch.nn.SyncBatchNorm``
        refuses CPU processes). MINE's statistics network is left alone: it already sees the all-gathered
        global batch. A discriminator with batch norm and a gradient penalty is refused: the penalty would
        differentiate twice through the collective that gathers the statistics, which nothing here supports
        or tests.
        """
        _, world = self._rank_and_world()
        if world == 1:
            return
        penalties = {"discriminator": ("d_penalty", self.d_penalty)}
        for name, network in self.named_children():
            if name == "mine" or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules()):
                continue
            argument, gamma = penalties.get(name, (None, 0.0))
            if gamma > 0:
                raise ValueError(
                    f"the {name} ({type(network).__name__}) has batch norm and `{argument}` is {gamma}: on "
                    f"{world} processes its gradient penalty would differentiate twice through batch statistics "
                    f"gathered across processes, which is not supported; use a {name} without batch norm, "
                    f"`{argument}=0`, or one process"
                )
            synchronize_batch_norm(network)

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The streams as they are (a module saved after Lightning moved it to the CPU keeps its CUDA streams).
        if self._streams is not None:
            device, states = self._streams[0].device.type, [stream.get_state() for stream in self._streams]
        elif self._saved_streams is not None:  # restored and saved again before any step drew from them
            device, states = self._saved_streams
        else:
            device, states = self.device.type, [stream.get_state() for stream in self._streams_on(self.device)]
        checkpoint[_CHECKPOINT_KEY] = {
            "seeds": self._run_seeds(),
            "states": states,
            "device": device,
            "iteration": self._iteration,
        }

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get(_CHECKPOINT_KEY)
        if saved is None:
            return
        if "seed" in saved:  # written before multi-seed runs: one seed, one stream
            saved = {"seeds": [saved["seed"]], "states": [saved["state"]], "iteration": saved["iteration"]}
        if len(saved["states"]) != len(saved["seeds"]):
            raise ValueError(
                f"the checkpoint has {len(saved['states'])} random stream states for seeds {saved['seeds']}"
            )
        # Lightning restores before it moves the module: the streams are made on the training device when drawn.
        self._seeds, self._streams, self._iteration = list(saved["seeds"]), None, int(saved["iteration"])
        self._saved_streams = (_state_device_type(saved), [state.cpu() for state in saved["states"]])

    # ----------------------------------------------------------------- optimization
    def _optimizer_parts(self) -> tuple[Any, Any, Any]:
        """``(discriminator, generator, critic-or-None)`` optimizers."""
        optimizers = self.optimizers()
        return optimizers[0], optimizers[1], optimizers[2] if len(optimizers) > 2 else None

    def _adam(self, params: Any, lr: float) -> torch.optim.Adam:
        # Adam's eps of 1e-8 rounds to 0 in float16 (`precision="16-true"`), and a zero gradient then steps by
        # 0/0 = NaN; the smallest normal float16 keeps the step finite. Other dtypes keep PyTorch's 1e-8.
        eps = max(1e-8, torch.finfo(self.dtype).tiny)
        return torch.optim.Adam(params, lr=lr, betas=tuple(self.hparams.betas), eps=eps)

    def _with_schedules(self, optimizers: list[torch.optim.Optimizer]) -> Any:
        """``optimizers`` with one linear-decay scheduler each for ``lr_decay="linear"``."""
        if self.lr_decay == "none":
            return optimizers
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        schedulers = [
            {
                "scheduler": torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1.0 - i / total)),
                "interval": "step",
            }
            for opt in optimizers
        ]
        return optimizers, schedulers

    def _gradients(self, loss: Tensor, params: Sequence[Tensor], retain_graph: bool = False) -> list[Tensor]:
        return local_gradients(self, loss, params, retain_graph)

    @staticmethod
    def _params(optimizer: Any) -> list[Tensor]:
        return [p for group in optimizer.param_groups for p in group["params"]]

    @staticmethod
    def _step_and_clear(optimizer: Any) -> None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def _step_discriminator(self, optimizer: Any, loss: Tensor) -> None:
        """One step of ``optimizer`` on ``loss``, gradients averaged (between the ``toggle_optimizer`` calls)."""
        averaged_backward(self, loss.sum(), self._params(optimizer))
        self._step_and_clear(optimizer)

    def _penalty(
        self,
        critic: Any,
        weight: float,
        x: Tensor | tuple[Tensor, ...],
        *context: Tensor,
        points: str = "real",
        fake: Tensor | tuple[Tensor, ...] | None = None,
    ) -> Tensor:
        """``(γ/2)·E‖∇_x critic‖²`` (Mescheder et al., ICML 2018, eq. 9) at real samples or interpolates (per seed).

        ``x`` is one input or a tuple differentiated jointly (a joint ``D(x, z)``); see
        :func:`~mine_gan.nets.losses.gradient_penalty`.
        """
        mix, first = None, x[0] if isinstance(x, tuple) else x
        if points == "interpolates":  # this process's rows of the global batch's weights
            mix = self._draw(
                first.shape[0],
                lambda m, g: torch.rand(m, device=first.device, dtype=first.dtype, generator=g),
                self.random_stream,
            )
        squared_norms = gradient_penalty(
            critic, x, *context, fake=fake, points=points, mix=mix, reduction="none", scale=loss_scale(self, first)
        )
        return 0.5 * weight * self._seed_mean(squared_norms)

    def _step_critic(self, optimizer: Any, loss: Tensor, mi_params: Sequence[Tensor]) -> list[Tensor]:
        """Step MINE's statistics network on ``loss`` and return ``loss``'s gradient w.r.t. ``mi_params``.

        T ascends MINE's bound and the generator (or encoder) ascends the same estimate, so one backward
        pass of T's loss on the *non-detached* global batch gives T's step and the generator's ``g_m``
        (averaged across processes). T's loss is computed identically on every process, so T, its
        optimizer and its moving average stay identical. Call outside ``toggle_optimizer``.
        """
        t_params = self._params(optimizer)
        grads = average_gradients(
            self._gradients(loss.sum(), [*t_params, *mi_params], retain_graph=True), self.trainer.strategy
        )
        install_gradients(t_params, grads[: len(t_params)], loss_scale(self, loss))
        self._step_and_clear(optimizer)
        return grads[len(t_params) :]

    def _step_generator(
        self,
        optimizer: Any,
        main_loss: Tensor,
        mi_grads: Sequence[Tensor | None] | None,
    ) -> dict[str, Tensor]:
        """Step on ``g_u + β g_a`` (eq. 21) through :meth:`~mine_gan.optim.MIGradientStep.backward`, the call a
        user's own GAN makes; ``mi_grads`` come from the critic's backward. Returns the norms."""
        norms = self.mi_step.backward(self, main_loss.sum(), mi_grads, self._params(optimizer), self.num_seeds > 1)
        self._step_and_clear(optimizer)
        return norms

    def _generator_step_due(self) -> bool:
        """The generator (and MINE's T) step once every ``d_steps`` batches, after the discriminator's."""
        return (self._iteration + 1) % self.d_steps == 0

    @override
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._iteration += 1
        if self.lr_decay != "none":
            schedulers = self.lr_schedulers()
            for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
                scheduler.step()

    def _log_train(self, values: dict[str, Tensor]) -> None:
        """Log ``train/<name>`` for each entry on the steps Lightning writes (every ``log_every_n_steps``).

        Values logged in between would never be written, so they are not logged (nor computed, when a
        subclass checks :meth:`_is_logging_step` first).
        """
        if self._is_logging_step():
            self._log_values("train", values)

    def _is_logging_step(self) -> bool:
        every = self.trainer.log_every_n_steps
        return every > 0 and ((self._iteration + 1) % every == 0 or self.trainer.should_stop)

    # ----------------------------------------------------------------- data
    @staticmethod
    def _real(batch: Any) -> Tensor:
        """``x`` from a batch that is ``x`` or ``(x, y, ...)``."""
        return batch[0] if isinstance(batch, (list, tuple)) else batch

    def _setup_mode_coverage(self) -> None:
        """Track mode coverage when the data module is a mixture: :func:`mine_gan.metrics.mode_metric`'s metric,
        the one :class:`~mine_gan.callbacks.ModeHistogram` ends the run with; one per seed."""
        if self.mode_coverage is not None:
            return
        from mine_gan.metrics import mode_metric  # metrics are optional for a GAN; imported at setup only

        datamodule = getattr(self.trainer, "datamodule", None)
        # Stacked digits are scored at the end of fit only (ModeHistogram): no digit classifier at every validation.
        found = [mode_metric(datamodule, self.x_shape, stacked=False) for _ in range(self.num_seeds)]
        if found[0] is None:
            return
        # As many generated samples as the validation set holds (2,500 for the VEEGAN/PacGAN protocol).
        coverages = [each.metric.to(self.device) for each in found]
        self.mode_coverage = coverages[0] if self.num_seeds == 1 else nn.ModuleList(coverages)

    def _mode_coverages(self) -> list[nn.Module]:
        if self.mode_coverage is None:
            return []
        return list(self.mode_coverage) if isinstance(self.mode_coverage, nn.ModuleList) else [self.mode_coverage]

    def _update_mode_coverage(self, samples: Tensor) -> None:
        """Feed generated samples (seed-major with several seeds) to each seed's mode coverage."""
        coverages = self._mode_coverages()
        for coverage, block in zip(coverages, samples.chunk(len(coverages)) if coverages else [], strict=True):
            coverage.update(block)

    # ----------------------------------------------------------------- evaluation
    def _evaluate(self, batch: Any, stage: str, rng: torch.Generator) -> Any:
        """Log ``<stage>/...`` for one validation or test batch (generated samples feed mode coverage);
        returns the step's outputs."""
        raise NotImplementedError

    def _evaluation_stream(self, stage: str) -> torch.Generator:
        # One stream per evaluation pass, drawn over the global batch: the samples scored do not depend on
        # how many processes score them, nor on where the training stream is.
        if self._evaluation_generator is None:
            self._evaluation_generator = self._derived_stream(_VALIDATION, self.current_epoch, stage == "test")
        return self._evaluation_generator

    def _reset_evaluation(self) -> None:
        self._evaluation_generator = None
        for coverage in self._mode_coverages():
            coverage.reset()

    def _log_mode_coverage(self, stage: str) -> None:
        coverages = self._mode_coverages()
        if not coverages or not coverages[0].update_count:
            return
        results = [coverage.compute() for coverage in coverages]  # a collective: every process calls it
        values = {
            name: torch.stack([torch.as_tensor(r[name], dtype=torch.float32) for r in results]) for name in results[0]
        }
        self._log_values(stage, {k: v[0] if self.num_seeds == 1 else v for k, v in values.items()}, sync_dist=False)
        for coverage in coverages:
            coverage.reset()

    @override
    def on_validation_epoch_start(self) -> None:
        self._reset_evaluation()

    @override
    def on_test_epoch_start(self) -> None:
        self._reset_evaluation()

    @override
    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self._evaluate(batch, "val", self._evaluation_stream("val"))

    @override
    def test_step(self, batch: Any, batch_idx: int) -> Any:
        return self._evaluate(batch, "test", self._evaluation_stream("test"))

    @override
    def on_validation_epoch_end(self) -> None:
        self._log_mode_coverage("val")

    @override
    def on_test_epoch_end(self) -> None:
        self._log_mode_coverage("test")

    # ----------------------------------------------------------------- sampling
    def _generate(self, n: int, rng: torch.Generator | None, **latent: Any) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator | None = None, **latent: Any) -> Tensor:
        """``n`` generated samples ``(n, *x_shape)``, the networks in eval mode.

        Args:
            n: number of samples.
            rng: random stream of the latents (default: the global one), to fix the samples; on any device: the
                latents are drawn on its device and moved to the module's (:func:`draw_device`).
            latent: parts of the latent to fix (InfoGAN: ``code``).
        """
        check_positive("n", n)
        if "generator" in latent:  # the G network is `generator`; a random stream is `rng` everywhere
            raise TypeError("sample() got an unexpected keyword argument 'generator'; pass the random stream as `rng`")
        if self.num_seeds > 1:
            raise ValueError(
                f"this module trains {self.num_seeds} seeds as one model; sample one seed's: `module.seed_module(k)`"
            )
        was_training = self.training
        self.eval()
        try:
            return self._generate(n, rng, **latent)
        finally:
            self.train(was_training)

    @override
    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        """As many samples as the batch has rows, from a stream of this batch's own (reproducible)."""
        rank, _ = self._rank_and_world()
        return self.sample(self._real(batch).shape[0], rng=self._derived_stream(_PREDICTION, batch_idx, rank))
