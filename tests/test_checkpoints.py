"""Checkpoints of the GAN modules as a user meets them through ``mine-gan``: exact resume, loading without
the configuration, ``predict`` and ``test`` from a checkpoint, and the shared estimator left out of the model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from mine_gan.callbacks import MutualInformationMonitor
from mine_gan.cli import cli
from mine_gan.data import GaussianMixture
from mine_gan.estimators import ConcatCritic
from mine_gan.models import BiGAN, InfoGAN
from mine_gan.nets import MLPDiscriminator, MLPGenerator

EPOCHS, BATCHES = 4, 5
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
# The recipe's every stateful piece: MINE's EMA (bound "mine"), three Adams, linear lr decay, the penalty.
RUN = [
    f"--trainer.max_epochs={EPOCHS}",
    f"--trainer.limit_train_batches={BATCHES}",
    "--trainer.limit_val_batches=1",
    "--trainer.log_every_n_steps=1",
    "--trainer.num_sanity_val_steps=0",
    "--data.init_args.num_val_samples=256",
    "--model.init_args.lr_decay=linear",
    "--model.init_args.d_penalty=0.1",
    "--trainer.callbacks=[]",
    "--trainer.callbacks+=ModelCheckpoint",
    "--trainer.callbacks.save_last=true",
    "--trainer.callbacks.save_top_k=-1",
    *QUIET,
]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class _Interrupt(pl.Callback):
    """Stops the run after ``epochs`` epochs, as a killed job whose last checkpoint is that epoch's."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def _rows(run) -> list[dict[str, str]]:
    with (Path(run.trainer.logger.log_dir) / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _by_step(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """Non-empty values of each CSV row, keyed by (step, epoch)."""
    return {(r["step"], r["epoch"]): {k: v for k, v in r.items() if v} for r in rows}


def test_resume_from_a_checkpoint_equals_the_uninterrupted_run():
    whole = cli(["fit", *RUN, "--trainer.logger.init_args.name=whole"])

    killed = cli([*RUN, "--trainer.logger.init_args.name=killed"], run=False)
    killed.trainer.callbacks.append(_Interrupt(epochs=2))
    killed.trainer.fit(killed.model, killed.datamodule)
    assert killed.trainer.current_epoch == 2 and killed.trainer.global_step < whole.trainer.global_step
    checkpoint = Path(killed.trainer.checkpoint_callback.dirpath) / "last.ckpt"

    resumed = cli(["fit", *RUN, "--trainer.logger.init_args.name=resumed", f"--ckpt_path={checkpoint}"])
    assert resumed.trainer.global_step == whole.trainer.global_step
    reference = whole.model.state_dict()
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0, msg=key)
    expected, got = _by_step(_rows(whole)), _by_step(_rows(resumed))
    resumed_epochs = {k: v for k, v in expected.items() if int(k[1]) >= 2}
    assert resumed_epochs and {k: got[k] for k in resumed_epochs} == resumed_epochs


def test_load_from_checkpoint_samples_without_the_configuration():
    run = cli(["fit", *RUN, "--trainer.max_epochs=1", "--trainer.logger.init_args.name=load"])
    checkpoint = Path(run.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    loaded = InfoGAN.load_from_checkpoint(checkpoint)  # the networks are rebuilt from the saved configuration
    code = torch.eye(10)[3]
    samples = loaded.sample(6, code=code, generator=torch.Generator().manual_seed(1))
    expected = run.model.cpu().sample(6, code=code, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(samples, expected, rtol=0, atol=0)
    assert not torch.equal(samples, loaded.sample(6, code=torch.eye(10)[4], generator=torch.Generator().manual_seed(1)))


def test_predict_and_test_subcommands_from_a_checkpoint():
    run = cli(["fit", *RUN, "--trainer.max_epochs=1", "--trainer.logger.init_args.name=fit"])
    checkpoint = str(Path(run.trainer.checkpoint_callback.dirpath) / "last.ckpt")
    predicted = cli(["predict", f"--ckpt_path={checkpoint}", "--data.init_args.num_val_samples=300", *QUIET])
    batches = predicted.trainer.predict_loop.predictions
    assert sum(b.shape[0] for b in batches) == 300 and all(b.shape[1] == 2 for b in batches)
    tested = cli(["test", f"--ckpt_path={checkpoint}", *QUIET])
    assert {"test/modes", "test/high_quality", "test/kl", "test/mi"} <= set(tested.trainer.callback_metrics)


def test_bigan_predict_returns_samples_and_encodings(tmp_path):
    from mine_gan.nets import MLPEncoder

    model = BiGAN(MLPGenerator(3, 2, (16,)), MLPEncoder(2, 3, (16,)), MLPDiscriminator(2, (16,), latent_dim=3))
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    data = GaussianMixture(num_val_samples=40, batch_size=16)
    out = trainer.predict(model, datamodule=data)
    assert [tuple(b["samples"].shape) for b in out] == [(16, 2), (16, 2), (8, 2)]
    assert [tuple(b["encodings"].shape) for b in out] == [(16, 3), (16, 3), (8, 3)]


def test_shared_estimator_with_the_real_monitor_and_checkpoint_without_it(tmp_path):
    """InfoGAN borrows the monitor's estimator end to end; the model's checkpoint holds none of it."""
    pl.seed_everything(0)
    model = InfoGAN(
        MLPGenerator(12, 2, (32,)), MLPDiscriminator(2, (32,)), noise_dim=2, mi_source="shared", mi_pair_name="code"
    )
    monitor = MutualInformationMonitor(pairs=["code"], critic=ConcatCritic(2, 10, hidden_dims=(32,)), every_n_steps=1)
    critic_before = [p.detach().clone() for p in monitor.shared_estimator("code").parameters()]
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=6, limit_val_batches=1, log_every_n_steps=1, default_root_dir=tmp_path,
        logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[monitor],
    )  # fmt: skip
    trainer.fit(model, GaussianMixture(num_samples=6 * 64, batch_size=64, num_val_samples=128))
    assert len(monitor.history["code"]) == 6  # the monitor trained T on every pair the model returned
    assert model.estimator is monitor.shared_estimator("code")
    assert any(not torch.equal(p, b) for p, b in zip(model.estimator.parameters(), critic_before, strict=True))
    assert float(trainer.callback_metrics["train/grad_norm_mi"]) > 0  # and the generator ascended it
    assert not [name for name, _ in model.named_modules() if "estimator" in name or "critic" in name]
    checkpoint = tmp_path / "model.ckpt"
    trainer.save_checkpoint(checkpoint)
    reloaded = InfoGAN.load_from_checkpoint(
        checkpoint, generator=MLPGenerator(12, 2, (32,)), discriminator=MLPDiscriminator(2, (32,)), strict=True
    )
    torch.testing.assert_close(reloaded.generator.state_dict(), model.generator.state_dict())
