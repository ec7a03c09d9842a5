"""``mine-gan fit --seeds``: S seeds trained as one batched model equal S single runs of the same YAML.

The reference is the real thing: ``mine-gan fit --seed_everything=k`` of the same configuration, run
in-process. Float64 (``--trainer.precision=64-true``), so that only the rounding of batched arithmetic
separates the two; every logged value is compared at relative 1e-6, and so are the final samples.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from mine_gan.cli import cli
from mine_gan.models import BiGAN, InfoGAN

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)
ITERATIONS = 50
# The recipe the study runs: R1 on D, two D steps per G step, linear lr decay, a batch-norm generator.
RECIPE = [
    "--model.init_args.d_steps=2",
    "--model.init_args.d_penalty=1.0",
    "--model.init_args.lr_decay=linear",
    "--model.init_args.generator.init_args.batch_norm=true",
    "--model.init_args.generator.init_args.hidden_dims=[16, 16]",
    "--model.init_args.discriminator.init_args.hidden_dims=[16, 16]",
    "--data.init_args.batch_size=32",
    "--data.init_args.num_val_samples=128",
]
MIXTURE = str(ROOT / "experiments" / "gaussians25" / "gan_mine.yaml")
CASES = {
    "infogan_mine_code": [MIXTURE, *RECIPE],
    "infogan_mine_latent": [MIXTURE, *RECIPE, "--model.init_args.mi_target=latent", "--model.init_args.mi_bound=mine"],
    # All-pairs bound: each seed's N² scores within its own rows (nothing pooled across seeds).
    "infogan_infonce": [MIXTURE, *RECIPE, "--model.init_args.mi_bound=infonce"],
    # The data stream follows the run's seed (data.init_args.seed=null): seed k's batches are --seed_everything=k's.
    "infogan_data_follows_seed": [MIXTURE, *RECIPE, "--data.init_args.seed=null"],
    "infogan_q": [str(ROOT / "experiments" / "gaussians25" / "gan_q.yaml"), *RECIPE],
    "bigan_mine": [
        str(ROOT / "experiments" / "bigan_digits" / "bigan_mine.yaml"),
        "--model.init_args.d_steps=2",
        "--model.init_args.lr_decay=linear",
        "--model.init_args.generator.init_args.base_channels=4",
        "--model.init_args.encoder.init_args.base_channels=4",
        "--model.init_args.discriminator.init_args.base_channels=4",
        "--model.init_args.discriminator.init_args.hidden_dim=16",
        # scikit-learn's 8x8 digits at 16x16: the same module on data that loads in milliseconds
        "--data=mine_gan.data.Digits",
        "--data.init_args.image_size=16",
        "--data.init_args.batch_size=8",
    ],
}


def _fit(config: list[str], out: Path, *extra: str) -> object:
    args = [
        "fit",
        "--config",
        config[0],
        *config[1:],
        "--trainer.precision=64-true",
        "--trainer.max_epochs=1",
        # One generator step every `d_steps` batches: 2·ITERATIONS batches are ITERATIONS iterations.
        f"--trainer.limit_train_batches={2 * ITERATIONS}",
        "--trainer.limit_val_batches=2",
        "--trainer.log_every_n_steps=10",
        "--trainer.logger=CSVLogger",
        f"--trainer.logger.init_args.save_dir={out}",
        "--trainer.logger.init_args.name=run",
        "--trainer.callbacks=[]",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        *extra,
    ]
    return cli(args)


def _metrics(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_seeds_batched_equal_separate_single_runs(case, tmp_path):
    config = CASES[case]
    batched = _fit(config, tmp_path / "batched", "--seeds", ",".join(map(str, SEEDS)))
    run_dir = Path(batched.trainer.logger.log_dir)
    for index, seed in enumerate(SEEDS):
        single = _fit(config, tmp_path / f"single_{seed}", f"--seed_everything={seed}")
        expected = _metrics(Path(single.trainer.logger.log_dir) / "metrics.csv")
        got = _metrics(run_dir / f"seed_{seed}" / "metrics.csv")
        assert [row.keys() for row in got] == [row.keys() for row in expected]
        logged = {k for row in expected for k in row}
        assert {"train/d_loss", "train/g_loss", "train/mi"} <= logged
        assert max(row["step"] for row in expected) >= ITERATIONS  # at least 50 iterations were logged
        for row_got, row_expected in zip(got, expected, strict=True):
            assert row_got == pytest.approx(row_expected, rel=1e-6, nan_ok=True)
        # The final generator of seed k is seed k's single-run generator.
        one = batched.model.seed_module(index)
        stream = lambda: torch.Generator().manual_seed(123)  # noqa: E731
        torch.testing.assert_close(
            one.sample(256, rng=stream()), single.model.sample(256, rng=stream()), rtol=1e-6, atol=1e-9
        )


def test_seeds_write_each_seeds_files_and_refuse_sampling_the_stack(tmp_path):
    run = _fit(
        [MIXTURE, "--model.init_args.generator.init_args.hidden_dims=[16]", "--data.init_args.batch_size=32"],
        tmp_path,
        "--seeds",
        "3,5",
        "--trainer.callbacks+=mine_gan.callbacks.ModeHistogram",
    )
    root = Path(run.trainer.logger.log_dir)
    for seed in (3, 5):
        columns = next(csv.reader((root / f"seed_{seed}" / "metrics.csv").open()))
        assert {"train/d_loss", "train/mi", "val/modes", "final/modes"} <= set(columns)
        assert not [c for c in columns if c.startswith("seed_")]
        assert list((root / f"seed_{seed}" / "media").glob("final_mode_histogram_step*.csv"))
    assert run.model.seeds == [3, 5]
    with pytest.raises(ValueError, match="seed_module"):
        run.model.sample(4)


@pytest.mark.parametrize("bad", ["0,0", "a,b", "-1"])
def test_bad_seeds_are_refused_before_training(bad, tmp_path):
    with pytest.raises((ValueError, SystemExit)):
        _fit([MIXTURE], tmp_path, "--seeds", bad)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (
            ["--trainer.callbacks+=mine_gan.callbacks.MutualInformationMonitor", "--trainer.callbacks.pairs=[code]"],
            "cannot run a MutualInformationMonitor",
        ),
        (["--trainer.accelerator=cpu", "--trainer.strategy=ddp", "--trainer.devices=2"], "use one device"),
        (["--model.init_args.mi_source=shared"], "cannot stack a borrowed estimator"),
    ],
    ids=["monitor", "ddp", "borrowed_estimator"],
)
def test_settings_that_would_pool_the_seeds_are_refused_in_one_line(extra, named, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _fit([MIXTURE], tmp_path, "--seeds", "0,1", *extra)
    assert exit_info.value.code == 2
    lines = (capsys.readouterr().err).strip().splitlines()
    assert lines[-1].startswith("error: seeds='0,1': `seeds` ") and named in lines[-1], lines
    assert len(lines) <= 3, lines


def test_a_pooled_value_is_not_copied_to_every_seed(tmp_path):
    run = _fit([MIXTURE, "--data.init_args.batch_size=8"], tmp_path, "--seeds", "0,1", "--trainer.max_steps=1")
    with pytest.raises(RuntimeError, match=r"one per seed, got shapes \{'mi': \(\)\}"):
        run.model._log_values("train", {"mi": torch.tensor(0.5)})


def _checkpointed(config: list[str], out: Path, name: str, *extra: str) -> object:
    """``mine-gan fit`` of ``config`` for 2 epochs of 6 batches, float64, saving ``last.ckpt`` every epoch."""
    return _fit(
        config,
        out,
        "--trainer.max_epochs=2",
        "--trainer.limit_train_batches=6",
        "--trainer.enable_checkpointing=true",
        "--trainer.callbacks+=ModelCheckpoint",
        "--trainer.callbacks.save_last=true",
        f"--trainer.logger.init_args.name={name}",
        *extra,
    )


BIGAN_TINY = CASES["bigan_mine"]


@pytest.mark.parametrize(
    ("config", "module_class"), [([MIXTURE], InfoGAN), (BIGAN_TINY, BiGAN)], ids=["infogan", "bigan"]
)
def test_each_seeds_checkpoint_loads_as_its_single_run(config, module_class, tmp_path):
    batched = _checkpointed(config, tmp_path, "batched", "--seeds", "0,1")
    single = _checkpointed(config, tmp_path, "single", "--seed_everything=1")
    path = Path(batched.trainer.logger.log_dir) / "seed_1" / "checkpoints" / "last.ckpt"
    loaded = module_class.load_from_checkpoint(path)  # a plain single-seed module, rebuilt from the configuration
    assert type(loaded) is module_class and loaded.num_seeds == 1 and loaded.seeds == [1]
    reference = single.model.state_dict()
    assert loaded.state_dict().keys() == reference.keys()
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value.double(), reference[key].double(), rtol=1e-6, atol=1e-9, msg=key)
    # load_from_checkpoint builds the module in float32: the single run's model cast likewise, float32 tolerances.
    stream = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    torch.testing.assert_close(loaded.sample(64, rng=stream()), single.model.float().sample(64, rng=stream()))
    # Where the batched run stood: its random stream and iteration count.
    assert loaded.random_stream.get_state().equal(single.model.random_stream.get_state())


class StopAfterOneEpoch(pl.Callback):
    """Stops the run after its first epoch, as a killed job whose last checkpoint is that epoch's (same schedule)."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


_STOP = f"{__name__}.StopAfterOneEpoch"


def test_a_batched_run_resumes_from_its_own_checkpoint(tmp_path):
    # float32, as tests/test_checkpoints.py resumes single runs exactly (at 64-true a single run's resume drifts by
    # ~1e-8 too, batched or not).
    run = ["--seeds", "0,1", "--trainer.precision=32-true"]
    whole = _checkpointed([MIXTURE], tmp_path, "whole", *run)
    killed = _checkpointed([MIXTURE], tmp_path, "killed", *run, "--trainer.callbacks+=" + _STOP)
    assert killed.trainer.current_epoch == 1 and killed.trainer.global_step < whole.trainer.global_step
    checkpoint = Path(killed.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    resumed = _checkpointed([MIXTURE], tmp_path, "resumed", *run, f"--ckpt_path={checkpoint}")
    assert resumed.trainer.global_step == whole.trainer.global_step
    reference = whole.model.state_dict()
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0, msg=key)


def _first_batches(tmp_path: Path, *data_args: str) -> list[torch.Tensor]:
    """Each seed's first training batch, as ``mine-gan fit --seeds 0,1`` builds its data."""
    run = cli(["--config", MIXTURE, "--seeds", "0,1", "--data.init_args.batch_size=8", *data_args], run=False)
    run.datamodule.setup("fit")
    return [next(iter(datamodule.train_dataloader())) for datamodule in run.datamodule.datamodules]


def test_data_follows_the_seed_when_its_seed_is_null(tmp_path):
    """``data.init_args.seed: null``: seed k draws its data from k; a fixed seed (the shipped YAMLs'): one stream."""
    following = _first_batches(tmp_path, "--data.init_args.seed=null")
    assert not torch.equal(following[0], following[1])
    fixed = _first_batches(tmp_path, "--data.init_args.seed=0")
    torch.testing.assert_close(fixed[0], fixed[1], rtol=0, atol=0)
    # What seed 1 sees is what the single run --seed_everything=1 sees.
    single = cli(["--config", MIXTURE, "--seed_everything=1", "--data.init_args.batch_size=8",
                  "--data.init_args.seed=null"], run=False)  # fmt: skip
    single.datamodule.setup("fit")
    torch.testing.assert_close(next(iter(single.datamodule.train_dataloader())), following[1], rtol=0, atol=0)
