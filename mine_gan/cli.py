"""The ``mine-gan`` command line: a :class:`~pytorch_lightning.cli.LightningCLI` over every module of the package.

::

    mine-gan fit                                             # the default run: InfoGAN+MINE on 25 Gaussians, CPU
    mine-gan fit --config experiments/ring8/gan_mine.yaml    # an experiment
    mine-gan fit --config my.yaml --trainer.max_epochs=3     # any value overridden on the command line
    mine-gan fit --print_config                              # the full, resolved configuration
    mine-gan validate --config my.yaml --ckpt_path runs/.../last.ckpt

Model and data are chosen in subclass mode (``class_path``/``init_args``): any ``LightningModule`` and
``LightningDataModule`` of the package, or of the user's own code by import path.

Without ``--config`` the default configuration shipped with the package (:data:`DEFAULT_CONFIG`) is used;
with one, only that file (and the command line) counts, so nothing of the default leaks into an experiment.

Shapes that data and networks share are linked, not repeated (see :meth:`MineGanCLI.add_arguments_to_parser`):
the networks' ``x_dim`` / ``in_channels`` / ``out_channels`` / ``image_size`` come from the data module's
``dims`` once it is built, InfoGAN's generator input is ``noise_dim + code_dim`` and its discriminator's code
head has ``code_dim`` outputs when ``mi="q"``. A link whose target the chosen classes do not have
(e.g. ``x_dim`` of a DCGAN generator) is skipped.

Private APIs the package relies on, and why (the one list of them; ``pyproject.toml`` pins the Lightning
versions they were checked against, and ``tests/test_cli.py``/``tests/test_cli_errors.py`` fail when they change):

* here, Lightning's ``_InstantiatorFn`` (subclassed), ``LightningCLI._add_instantiators`` (overridden),
  ``_dump_config`` and ``config_dump``: Lightning saves as hyperparameters the dumped configuration, which
  drops link targets (``latent_dim``, ``x_dim``), so ``load_from_checkpoint`` could not rebuild the networks;
  no public hook gives the resolved configuration to the instantiator (:class:`_CompleteInstantiator`);
* here, ``LightningCLI._add_configure_optimizers_method_to_model``: ``--seeds`` overrides
  ``instantiate_classes`` (it builds one model per seed and stacks them), and that private step of the parent's
  ``instantiate_classes`` has no public entry point;
* here, the refusal of a configured value walks the traceback's frames (``_refused_argument``): jsonargparse
  wraps a constructor's exception without the key that gave the value; only public hook names are matched;
* :mod:`mine_gan.models.gan` uses no private Lightning API (``toggle_optimizer``, ``all_gather``,
  ``strategy.broadcast``, ``lr_schedulers`` are public); it tests ``isinstance(m, _BatchNorm)``, PyTorch's
  private base of every batch norm, which has no public one;
* :mod:`mine_gan.nets` uses no private Lightning API; :mod:`mine_gan.nets.stack` and
  :mod:`mine_gan.nets.sync_batch_norm` subclass PyTorch's private ``_BatchNorm`` and ``_SpectralNorm`` (the
  parametrization ``torch.nn.utils.parametrizations.spectral_norm`` installs), to compute the same function
  with operations ``vmap`` can batch or with statistics gathered across processes.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI, _InstantiatorFn
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from typing_extensions import override

from mine_gan.callbacks.media import run_directory
from mine_gan.callbacks.mutual_information import MutualInformationMonitor
from mine_gan.callbacks.seed_checkpoints import SeedCheckpoints
from mine_gan.callbacks.seed_logger import SeedCSVLogger
from mine_gan.cli_errors import ConciseArgumentParser
from mine_gan.data.seeds import SeedStackedData
from mine_gan.models.seeds import stack_seeds

__all__ = ["DEFAULT_CONFIG", "MineGanCLI", "cli", "main", "parse_seeds"]

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.yaml"
"""The run of ``mine-gan fit`` without ``--config``: InfoGAN+MINE on the 25-Gaussian grid, on CPU."""

_M = "model.init_args"


def _first(dims: Sequence[int]) -> int:
    return int(dims[0])


def _last(dims: Sequence[int]) -> int:
    return int(dims[-1])


def _numel(dims: Sequence[int]) -> int:
    return math.prod(int(d) for d in dims)


def _infogan_latent_dim(noise_dim: int, categorical_dims: Sequence[int], continuous_dim: int) -> int:
    return int(noise_dim) + sum(int(k) for k in categorical_dims) + int(continuous_dim)


def _infogan_code_head(mi: str, categorical_dims: Sequence[int], continuous_dim: int) -> int:
    # InfoGAN's Q(c | x) shares the discriminator's body: a code head only when the MI is estimated by Q.
    return sum(int(k) for k in categorical_dims) + int(continuous_dim) if mi == "q" else 0


class _CompleteInstantiator(_InstantiatorFn):
    """Lightning's instantiator, saving the complete configuration of the module as its hyperparameters.

    Lightning saves the dumped configuration, from which jsonargparse drops link targets (the networks'
    ``latent_dim``, ``x_dim``): ``load_from_checkpoint`` could not rebuild the networks from it. This one
    saves the resolved configuration, link targets included, and keeps only the instantiation links whose
    target the chosen class accepts (jsonargparse reports a ``generator.out_channels`` link as applied even
    when the generator is an MLP, and Lightning would write it into the hyperparameters).

    ``_InstantiatorFn`` and ``config_dump`` are Lightning internals: ``pyproject.toml`` pins the Lightning
    versions this was checked against, and ``tests/test_cli.py`` fails loudly when they change.
    """

    @override
    def __call__(self, class_type: type, *args: Any, applied_instantiation_links: dict, **kwargs: Any) -> Any:
        self.cli._dump_config()
        config = self.cli.config[self.cli.subcommand] if self.cli.subcommand else self.cli.config
        resolved = config[self.key].as_dict() if hasattr(config[self.key], "as_dict") else config[self.key]
        self.cli.config_dump[self.key] = resolved
        kept = {key: value for key, value in applied_instantiation_links.items() if _accepts(resolved, key)}
        return super().__call__(class_type, *args, applied_instantiation_links=kept, **kwargs)


def _accepts(config: Any, link_target: str) -> bool:
    """Whether the class configured at the parent of ``link_target`` (``model.init_args.generator.init_args.x_dim``)
    takes that argument."""
    *parents, leaf = link_target.split(".")[1:]  # drop the leading "model"/"data"
    node: Any = config
    for part in parents[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get("class_path"), str) or parents[-1:] != ["init_args"]:
        return False
    module, _, name = node["class_path"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return leaf in inspect.signature(cls).parameters


class MineGanCLI(LightningCLI):
    """LightningCLI with the package's shape links and a report of where the results are."""

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--torch_threads",
            type=int | None,
            default=None,
            help="torch.set_num_threads before anything is built (None: torch's default). Small networks on "
            "CPU run faster on one thread: intra-op threads only add synchronization, worst on a busy machine.",
        )
        parser.add_argument(
            "--seeds",
            type=list[int] | str | None,
            default=None,
            help="Train these seeds (e.g. 0,1,2) as one batched model in one process: a GAN module only, one "
            "device. Seed k gets the results of --seed_everything=k, written under <run dir>/seed_k/.",
        )
        # Data shape -> networks, once the data module exists (its ``dims`` is known after construction).
        for net in ("generator", "discriminator", "encoder"):
            parser.link_arguments("data.dims", f"{_M}.{net}.init_args.x_dim", compute_fn=_first, apply_on="instantiate")
            parser.link_arguments(
                "data.dims", f"{_M}.{net}.init_args.image_size", compute_fn=_last, apply_on="instantiate"
            )
        parser.link_arguments(
            "data.dims", f"{_M}.generator.init_args.out_channels", compute_fn=_first, apply_on="instantiate"
        )
        for net in ("discriminator", "encoder"):
            parser.link_arguments(
                "data.dims", f"{_M}.{net}.init_args.in_channels", compute_fn=_first, apply_on="instantiate"
            )
        # Information bottleneck: flat input and classes from the data.
        parser.link_arguments("data.dims", f"{_M}.input_dim", compute_fn=_numel, apply_on="instantiate")
        parser.link_arguments("data.num_classes", f"{_M}.num_classes", apply_on="instantiate")
        # InfoGAN: the generator takes [noise, code]; with mi="q" the discriminator has a code head.
        parser.link_arguments(
            (f"{_M}.noise_dim", f"{_M}.categorical_dims", f"{_M}.continuous_dim"),
            f"{_M}.generator.init_args.latent_dim",
            compute_fn=_infogan_latent_dim,
        )
        parser.link_arguments(
            (f"{_M}.mi", f"{_M}.categorical_dims", f"{_M}.continuous_dim"),
            f"{_M}.discriminator.init_args.code_dim",
            compute_fn=_infogan_code_head,
        )
        # BiGAN's generator, encoder and joint discriminator share z: jsonargparse links cannot chain from the
        # generator's latent_dim (a link target above), so BiGAN configs name it once with a YAML anchor.

    def _subcommand_config(self, config: Any) -> Any:
        """The part of ``config`` (parsed or instantiated) for the subcommand being run, or all of it."""
        return config[self.subcommand] if self.subcommand else config

    @override
    def before_instantiate_classes(self) -> None:
        config = self._subcommand_config(self.config)
        threads = config.get("torch_threads")
        if threads is not None:
            if threads < 1:
                raise ValueError(f"`torch_threads` must be >= 1 or null, got {threads}")
            torch.set_num_threads(threads)

    @override
    def instantiate_classes(self) -> None:
        seeds = parse_seeds(self._subcommand_config(self.config).get("seeds"))
        if seeds is None:
            super().instantiate_classes()
            return
        # Each seed's model and data are built as its single run builds them: right after seed_everything(k).
        models, datamodules = [], []
        for seed in seeds:
            pl.seed_everything(seed, workers=True, verbose=False)
            self.config_init = self.parser.instantiate_classes(self.config)
            models.append(self._subcommand_config(self.config_init)["model"])
            datamodules.append(self._subcommand_config(self.config_init)["data"])
        self.model = stack_seeds(models, seeds)
        self.datamodule = SeedStackedData(datamodules)
        self._add_configure_optimizers_method_to_model(self.subcommand)
        self.trainer = self.instantiate_trainer()
        _check_seeds_trainer(self.trainer)
        trainer = self.trainer
        trainer.loggers = [*trainer.loggers, SeedCSVLogger(lambda: run_directory(trainer), seeds)]
        trainer.callbacks.append(SeedCheckpoints(lambda: run_directory(trainer)))  # each seed's loadable checkpoint

    @override
    def _add_instantiators(self) -> None:
        self.parser.add_instantiator(
            _CompleteInstantiator(cli=self, key="model"), pl.LightningModule, subclasses=self.subclass_mode_model
        )
        self.parser.add_instantiator(
            _CompleteInstantiator(cli=self, key="data"), pl.LightningDataModule, subclasses=self.subclass_mode_data
        )

    @override
    def after_fit(self) -> None:
        self._report("fit")

    @override
    def after_validate(self) -> None:
        self._report("validate")

    @override
    def after_test(self) -> None:
        self._report("test")

    def _report(self, stage: str) -> None:
        """Print the run directory, the checkpoints and the last metrics (rank 0)."""
        trainer = self.trainer
        if not trainer.is_global_zero:
            return
        lines = [f"mine-gan {stage}: results in {run_directory(trainer)}"]
        checkpoint = trainer.checkpoint_callback
        if stage == "fit" and checkpoint is not None and getattr(checkpoint, "dirpath", None):
            lines.append(f"  checkpoints: {checkpoint.dirpath}")
            if getattr(checkpoint, "best_model_path", ""):
                lines.append(f"  best: {checkpoint.best_model_path}")
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
        if metrics:
            lines.append("  " + "  ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
        print("\n".join(lines), flush=True)


def _check_seeds_trainer(trainer: pl.Trainer) -> None:
    """Refuse, before training, what ``--seeds`` cannot run per seed: several processes, a pooled monitor."""
    if trainer.world_size > 1:
        raise ValueError(
            f"`seeds` trains the seeds in one process: use one device (or --seed_everything per process), got "
            f"world size {trainer.world_size}"
        )
    monitors = [type(c).__name__ for c in trainer.callbacks if isinstance(c, MutualInformationMonitor)]
    if monitors:
        raise ValueError(
            f"`seeds` cannot run a {monitors[0]}: its one estimator would pool every seed's pairs; run the seeds "
            "separately with --seed_everything, or drop the callback"
        )


def parse_seeds(value: Sequence[int] | str | None) -> list[int] | None:
    """``--seeds``: ``"0,1,2"`` or ``[0, 1, 2]`` -> ``[0, 1, 2]``; ``None`` for a single run.

    Example:
        >>> parse_seeds("0, 1,2"), parse_seeds([3]), parse_seeds(None)
        ([0, 1, 2], [3], None)
    """
    if value is None:
        return None
    try:
        seeds = [int(s) for s in value.split(",")] if isinstance(value, str) else [int(s) for s in value]
    except ValueError:
        raise ValueError(f"`seeds` must be comma-separated integers such as 0,1,2, got {value!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"`seeds` must be distinct integers >= 0, got {value!r}")
    return seeds


def _with_default_config(args: list[str]) -> list[str]:
    """Insert ``--config DEFAULT_CONFIG`` after the subcommand when no ``--config`` is given."""
    if any(a in ("-c", "--config") or a.startswith("--config=") for a in args):
        return args
    if args and args[0] in LightningCLI.subcommands():
        return [args[0], "--config", str(DEFAULT_CONFIG), *args[1:]]
    return args


def main() -> None:
    """Entry point of ``mine-gan`` and ``python -m mine_gan`` (arguments from ``sys.argv``)."""
    cli()


def cli(args: Sequence[str] | None = None, run: bool = True) -> MineGanCLI:
    """Build (and run) the command line in-process; returns it, with ``.model``, ``.datamodule``, ``.trainer``.

    Args:
        args: command-line arguments (default: ``sys.argv[1:]``), e.g. ``["fit", "--trainer.fast_dev_run=true"]``.
        run: run the subcommand; ``False`` only builds model, data and trainer (then ``args`` has no subcommand).
    """
    if args is None:  # from the console: LightningCLI reads sys.argv itself (and warns if given both)
        sys.argv[1:] = _with_default_config(sys.argv[1:])
        argv = None
    else:
        argv = _with_default_config(list(args))
        if not run and not any(a in ("-c", "--config") or a.startswith("--config=") for a in argv):
            argv = ["--config", str(DEFAULT_CONFIG), *argv]
    try:
        return MineGanCLI(
            pl.LightningModule,
            pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            parser_class=ConciseArgumentParser,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={
                "prog": "mine-gan",
                "description": "Train MINE-regularized GANs and other mine_gan modules.",
            },
            run=run,
            args=argv,
        )
    except Exception as error:
        # jsonargparse buries a constructor's refusal in a traceback and a dump of the whole namespace: end with
        # one line naming the key instead, as for a wrong key. JSONARGPARSE_DEBUG=true keeps the traceback.
        refused = _refused_argument(error)
        if refused is None or os.environ.get("JSONARGPARSE_DEBUG", "").lower() == "true":
            raise
        _exit_with_bad_value(*refused)


# ----------------------------------------------------------------- bad values
# What a constructor raises when it refuses a value (Lightning's Trainer raises its own kind).
_REFUSALS = (ValueError, TypeError, MisconfigurationException)
# The package's errors name the refused argument in backticks: "`mi_weight` must be >= 0, got -1.0".
_NAMED_ARGUMENT = re.compile(r"`([A-Za-z_]\w*)`")
# LightningCLI's hooks that build what the configuration describes; errors raised later (in fit) are not refusals.
_BUILDING = ("before_instantiate_classes", "instantiate_classes", "instantiate_trainer")


def _refused_argument(error: BaseException) -> tuple[str, Any, str] | None:
    """``(key, value, message)`` when ``error`` is a configured value refused while the CLI builds, else ``None``.

    A refusal is a ValueError, TypeError or MisconfigurationException raised while the CLI builds model, data
    and trainer, whose message names in backticks an argument the configuration gives: to the class whose
    ``__init__`` raised it (the innermost such class first) or, raised by the CLI itself, at the top level
    (``torch_threads``). Anything else is a bug and keeps its traceback.

    Args:
        error: what building the CLI raised (jsonargparse chains a constructor's exception to its own).
    """
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    built = [
        f.f_locals["self"]
        for f in frames
        if f.f_code.co_name in _BUILDING and isinstance(f.f_locals.get("self"), LightningCLI)
    ]
    if not built:
        return None
    command = built[0]
    config = (command.config[command.subcommand] if command.subcommand else command.config).as_dict()
    chain: list[BaseException] = []
    while error is not None and all(error is not seen for seen in chain):
        chain.append(error)
        error = error.__cause__ or error.__context__
    for refusal in reversed(chain):  # the constructor's own exception first, then jsonargparse's wrappers
        if not isinstance(refusal, _REFUSALS):
            continue
        message = str(refusal)
        owners = [
            frame.f_locals
            for frame, _ in traceback.walk_tb(refusal.__traceback__)
            if isinstance(frame.f_locals.get("self"), LightningCLI)
            or (frame.f_code.co_name == "__init__" and "self" in frame.f_locals)
        ]
        for name in _NAMED_ARGUMENT.findall(message):
            for arguments in reversed(owners):  # innermost first: a network's own check before its model's
                if isinstance(arguments["self"], LightningCLI):
                    places = [(name, config[name])] if name in config else []
                else:
                    places = _configured(config, type(arguments["self"]), name, command.trainer_class)
                # The same class built twice (two callbacks): the place that gave the value it received.
                received = [(key, value) for key, value in places if _same(value, arguments.get(name))]
                if places:
                    return (*(received or places)[0], message)
    return None


def _configured(config: dict, cls: type, name: str, trainer_class: type) -> list[tuple[str, Any]]:
    """``(key, value)`` of each place where ``config`` gives class ``cls`` the argument ``name``."""
    found: list[tuple[str, Any]] = []

    def visit(node: Any, path: str) -> None:
        if isinstance(node, dict):
            init_args = node.get("init_args")
            if isinstance(init_args, dict) and name in init_args:
                module, _, attribute = str(node.get("class_path", "")).rpartition(".")
                try:
                    configured = getattr(importlib.import_module(module), attribute) if module else None
                except (ImportError, AttributeError):
                    configured = None
                if configured is cls:
                    found.append((f"{path}.init_args.{name}", init_args[name]))
            for key, value in node.items():
                visit(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, f"{path}[{i}]")

    visit(config, "")
    trainer = config.get("trainer")
    if cls is trainer_class and isinstance(trainer, dict) and name in trainer:  # the one group without class_path
        found.append((f"trainer.{name}", trainer[name]))
    return found


def _same(configured: Any, received: Any) -> bool:
    if isinstance(configured, (list, tuple)) and isinstance(received, (list, tuple)):
        configured, received = list(configured), list(received)
    try:
        return bool(configured == received)
    except Exception:  # no plain truth value of ==, e.g. a tensor
        return False


def _exit_with_bad_value(key: str, value: Any, message: str) -> None:
    """Report a refused value as the parser reports a wrong key: one line naming the key, exit status 2."""
    named = key if str(value) in message else f"{key}={value!r}"  # the package's messages name the value
    sys.stdout.flush()
    sys.stderr.write(f"error: {named}: {message}\n")
    sys.exit(2)


if __name__ == "__main__":
    main()
