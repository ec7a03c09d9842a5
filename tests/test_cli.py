"""The ``mine-gan`` command line, run in-process: default run, experiment configs, W&B offline, errors, seeds."""

from __future__ import annotations

import csv
import struct
import time
from pathlib import Path

import pytest
import torch

from mine_gan.cli import DEFAULT_CONFIG, cli
from mine_gan.data import GaussianMixture
from mine_gan.models import InfoGAN

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "experiments").rglob("*.yaml"))
# Small enough for a smoke run here (the MNIST ones need files; see test_missing_mnist_files).
# The mixture variants differ from the default run only in β, clip and mi: the Q variant stands for them
# (gan_mine runs in the W&B test).
SMOKE = [
    "ring8/gan_q.yaml",
    "stacked_digits/gan_mine.yaml",
    "bigan_digits/bigan_mine.yaml",
    "bottleneck/configs/mnist5k.yaml",
]
MIXTURE_VARIANTS = ("gan", "gan_mine", "gan_mine_noclip", "gan_q")
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ and wandb/ land in the test's folder
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # configs set torch_threads; leave the process as it was


def test_default_config_fast_dev_run(tmp_path):
    run = cli(["fit", "--trainer.fast_dev_run=true", *QUIET])
    assert isinstance(run.model, InfoGAN) and isinstance(run.datamodule, GaussianMixture)
    assert run.model.x_shape == (2,) and run.model.generator.latent_dim == 6 + 10  # linked: noise + code
    assert torch.get_num_threads() == 1  # the default config's torch_threads
    assert run.trainer.state.finished
    assert {"val/modes", "val/kl", "val/mi"} <= set(run.trainer.callback_metrics)
    assert not list(tmp_path.rglob("*.png"))  # a smoke run draws the pictures but writes none


def test_experiment_configs_found():
    names = {p.relative_to(ROOT / "experiments").as_posix() for p in CONFIGS}
    expected = {f"{folder}/{variant}.yaml" for folder in ("gaussians25", "ring8") for variant in MIXTURE_VARIANTS}
    expected |= {"stacked_digits/gan.yaml", "stacked_digits/gan_mine.yaml", "stacked_digits/stacked_mnist.yaml"}
    expected |= {"bigan_digits/bigan.yaml", "bigan_digits/bigan_mine.yaml", "bigan_digits/bigan_mnist.yaml"}
    assert expected <= names


@pytest.mark.parametrize("config", [*CONFIGS, DEFAULT_CONFIG], ids=lambda p: p.parent.name + "/" + p.name)
def test_config_prints(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    assert "class_path" in capsys.readouterr().out


@pytest.mark.parametrize("name", SMOKE)
def test_experiment_fast_dev_run(name):
    run = cli(["fit", "--config", str(ROOT / "experiments" / name), "--trainer.fast_dev_run=true", *QUIET])
    assert run.trainer.state.finished
    x_shape = getattr(run.model, "x_shape", None)  # GANs; the bottleneck classifier takes flat input_dim
    assert tuple(run.datamodule.dims) == (tuple(x_shape) if x_shape is not None else (run.model.hparams.input_dim,))


def test_wandb_offline_run_has_metrics_and_images(tmp_path):
    import wandb

    config = ROOT / "experiments" / "gaussians25" / "gan_mine.yaml"
    args = ["fit", "--config", str(config), "--trainer.max_epochs=1", "--trainer.limit_train_batches=3"]
    args += ["--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1", *QUIET]
    wandb.finish()  # a run left open by anything before would otherwise receive this run's metrics
    try:
        cli(args)
    finally:
        wandb.finish()
    runs = list((tmp_path / "runs" / "gaussians25" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    # W&B's service writes the run file in a process of its own: give a busy machine time to flush it.
    for _ in range(60):
        logged = _wandb_history_keys(next(runs[0].glob("run-*.wandb")))
        if logged:
            break
        time.sleep(0.5)
    assert {"train/d_loss", "train/mi", "train/grad_norm_mi_clipped", "val/modes", "val/mi", "final/modes"} <= logged
    files = runs[0] / "files"
    images = {p.name.split("_")[0] for p in (files / "media" / "images").rglob("*.png")}
    assert {"samples", "traversal"} <= images
    assert list((files / "media" / "table").rglob("*.table.json"))  # the final mode histogram


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--model.init_args.not_an_argument=1", "not_an_argument"),
        ("--model.init_args.noise_dim=two", "noise_dim"),
        ("--data.init_args.layout=hexagon", "layout"),
    ],
)
def test_bad_config_fails_before_training(override, message, capsys):
    with pytest.raises(SystemExit):
        cli(["fit", override, "--trainer.fast_dev_run=true", *QUIET])
    assert message in capsys.readouterr().err


def test_mismatched_shape_fails_before_training():
    # MLP networks on unflattened images: x_dim is linked to dims[0] = 1, the data yields (1, 16, 16).
    args = ["fit", "--data=mine_gan.data.Digits", "--data.init_args.image_size=16", "--trainer.fast_dev_run=true"]
    with pytest.raises(ValueError, match=r"dims=\(1, 16, 16\)"):
        cli([*args, *QUIET])


def test_missing_mnist_files(tmp_path):
    config = ROOT / "experiments" / "bigan_digits" / "bigan_mnist.yaml"
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="MNIST files not found") as error:
        cli(["fit", "--config", str(config), f"--data.init_args.root={root}", "--trainer.fast_dev_run=true", *QUIET])
    assert str(root / "MNIST" / "raw") in str(error.value) and "download=True" in str(error.value)


def _wandb_history_keys(path: Path) -> set[str]:
    """Keys of the history records of an offline W&B run file (LevelDB log format of protobuf records)."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos = path.read_bytes(), 32768, 7  # a 7-byte W&B header, then records in 32 KiB blocks
    records, pending = [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer too small for a record header: zero padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 1:  # full record
            records.append(chunk)
        elif kind == 2:  # first fragment
            pending = chunk
        elif kind == 3:  # middle
            pending += chunk
        elif kind == 4:  # last
            records.append(pending + chunk)
    keys = set()
    for raw in records:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            keys |= {item.key or "/".join(item.nested_key) for item in record.history.item}
    return keys


def _metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def test_same_seed_same_metrics(tmp_path):
    args = ["fit", "--trainer.max_epochs=1", "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1"]
    args += ["--trainer.log_every_n_steps=1", "--data.init_args.num_val_samples=512", "--trainer.callbacks=[]"]
    args += ["--trainer.enable_checkpointing=false", "--trainer.num_sanity_val_steps=0", *QUIET]
    first, second = (cli([*args, f"--trainer.logger.init_args.name=run{i}"]) for i in range(2))
    rows = [_metrics(Path(run.trainer.logger.log_dir)) for run in (first, second)]
    assert rows[0] and rows[0] == rows[1]
    assert any(row.get("train/mi") for row in rows[0]) and any(row.get("val/kl") for row in rows[0])
    other_seed = cli([*args, "--seed_everything=1", "--trainer.logger.init_args.name=seed1"])
    assert _metrics(Path(other_seed.trainer.logger.log_dir)) != rows[0]


def test_lightning_internals_the_cli_relies_on_are_still_there():
    """``mine_gan.cli`` subclasses Lightning's private ``_InstantiatorFn`` (no public way to save the complete
    configuration, link targets included, as hyperparameters). pyproject pins the versions checked; this
    fails loudly when a Lightning release changes what it relies on, or when the pin is lifted untested."""
    import inspect

    import pytorch_lightning as pl
    from packaging.version import Version
    from pytorch_lightning.cli import LightningCLI, _InstantiatorFn

    assert Version("2.4") <= Version(pl.__version__) < Version("2.7"), (
        f"Lightning {pl.__version__} is outside the range mine_gan.cli was checked against: re-check "
        "_CompleteInstantiator (mine_gan/cli.py) against pytorch_lightning.cli._InstantiatorFn, then widen the pin"
    )
    assert "applied_instantiation_links" in inspect.signature(_InstantiatorFn.__call__).parameters
    assert callable(getattr(LightningCLI, "_dump_config", None))
