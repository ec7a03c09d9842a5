"""Checkpoints of the GAN modules as a user meets them through ``mine-gan``: exact resume, loading without
the configuration, ``predict`` and ``test`` from a checkpoint, and the shared estimator left out of the model."""

from __future__ import annotations

import contextlib
import csv
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from mine_gan.callbacks import MutualInformationMonitor
from mine_gan.cli import cli
from mine_gan.data import GaussianMixture
from mine_gan.estimators import ConcatCritic
from mine_gan.models import BiGAN, InfoGAN
from mine_gan.models.gan import _PREDICTION
from mine_gan.nets import MLPDiscriminator, MLPGenerator
from mine_gan.seeding import seeded_generator

EPOCHS, BATCHES = 4, 5
SEED = 0  # the default configuration's seed_everything, which a run keeps in its checkpoints
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
    samples = loaded.sample(6, code=code, rng=torch.Generator().manual_seed(1))
    expected = run.model.cpu().sample(6, code=code, rng=torch.Generator().manual_seed(1))
    torch.testing.assert_close(samples, expected, rtol=0, atol=0)
    assert not torch.equal(samples, loaded.sample(6, code=torch.eye(10)[4], rng=torch.Generator().manual_seed(1)))


@contextlib.contextmanager
def _evaluation_calls(module_type: type[torch.nn.Module]):
    """``(inputs, output)`` of every forward of a ``module_type`` made in inference mode (test and predict
    loops) while the context is open, whoever built the module."""
    calls: list[tuple[tuple[torch.Tensor, ...], torch.Tensor]] = []

    def record(module, inputs, output):
        if isinstance(module, module_type) and torch.is_inference_mode_enabled():
            calls.append((tuple(t.clone() for t in inputs), output.clone()))

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        yield calls
    finally:
        handle.remove()


def test_predict_and_test_subcommands_from_a_checkpoint():
    run = cli(["fit", *RUN, "--trainer.max_epochs=1", "--trainer.logger.init_args.name=fit"])
    checkpoint = str(Path(run.trainer.checkpoint_callback.dirpath) / "last.ckpt")
    predict = ["predict", f"--ckpt_path={checkpoint}", "--data.init_args.num_val_samples=300", *QUIET]
    batches = cli(predict).trainer.predict_loop.predictions
    assert [tuple(b.shape) for b in batches] == [(256, 2), (44, 2)]  # the test set's batches, one sample per row
    # Batch i is `sample` of the checkpoint's model from the batch's own stream: (run seed, prediction, i, rank).
    loaded = InfoGAN.load_from_checkpoint(checkpoint)
    for i, batch in enumerate(batches):
        expected = loaded.sample(batch.shape[0], rng=seeded_generator(SEED, _PREDICTION, i, 0))
        torch.testing.assert_close(batch, expected, rtol=0, atol=0)
    again = cli(predict).trainer.predict_loop.predictions  # reproducible
    assert all(torch.equal(a, b) for a, b in zip(again, batches, strict=True))

    # A wider std makes most generated points high quality, so the mode metrics below are not all zero.
    test = ["test", f"--ckpt_path={checkpoint}", "--data.init_args.std=0.5", *QUIET]
    with _evaluation_calls(MLPGenerator) as generated, _evaluation_calls(ConcatCritic) as scored:
        tested = cli(test)
    logged, data = tested.trainer.callback_metrics, tested.datamodule
    samples = torch.cat([out for _, out in generated])
    assert samples.shape == (data.num_val_samples, 2)  # one sample per test point, nothing else generated
    # PacGAN's rule by its definition: nearest centre, high quality within 3 std, KL of the histogram to uniform.
    distance, nearest = torch.cdist(samples, data.centers).min(dim=1)
    counts = torch.bincount(nearest[distance <= 3 * data.std], minlength=len(data.centers)).double()
    p = counts[counts > 0] / counts.sum()
    assert float(logged["test/modes"]) == int((counts > 0).sum()) >= 1
    assert float(logged["test/high_quality"]) == pytest.approx(float(counts.sum()) / samples.shape[0])
    assert float(logged["test/kl"]) == pytest.approx(float((p * torch.log(p * len(counts))).sum()), abs=1e-6)
    # test/mi: the Donsker-Varadhan value of T's scores (the critic is trained on JS, reports DV), one batch at a
    # time (joint pairs, then the shuffled ones), averaged over batches weighted by their size.
    values, sizes = [], []
    for _, scores in scored:
        n = scores.shape[0] // 2
        joint, product = scores[:n], scores[n:]
        values.append(joint.mean() - (torch.logsumexp(product, 0) - math.log(n)))
        sizes.append(n)
    assert sum(sizes) == data.num_val_samples
    expected_mi = sum(v * n for v, n in zip(values, sizes, strict=True)) / sum(sizes)
    torch.testing.assert_close(logged["test/mi"], expected_mi, rtol=1e-5, atol=1e-6)


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
