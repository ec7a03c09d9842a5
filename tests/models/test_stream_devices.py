"""Random streams across devices: a checkpoint saved on a GPU loads on a CPU, and ``rng`` may live anywhere.

A CUDA run saves 16-byte generator states; a CPU generator's is 5,056 bytes, and torch refuses to load one
into the other. These tests fabricate the CUDA-sized states (``_device_rules``) and check what a user on a
laptop gets: ``load_from_checkpoint`` and sampling work without a warning (sampling never needs the training
streams), and resuming works with one warning that the streams were re-seeded; a CPU checkpoint's streams
follow the module to another device type. (Resuming on the same device type is exact:
``tests/test_checkpoints.py``.) Public ``rng`` arguments accept a generator on another device than the
module's. The ``meta`` device stands for the GPU, with torch's draws made as strict as CUDA's.
"""

from __future__ import annotations

import warnings

import pytest
import pytorch_lightning as pl
import torch
from _device_rules import cuda_sized_states, meta_generators, strict_draws

from mine_gan.data import GaussianMixture
from mine_gan.models import BiGAN, InfoGAN
from mine_gan.models.gan import _CHECKPOINT_KEY
from mine_gan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator

RESEEDED = "saved on cuda and it now runs on cpu"


def _infogan() -> InfoGAN:
    return InfoGAN(MLPGenerator(5, 2, (16,)), MLPDiscriminator(2, (16,)), noise_dim=2, categorical_dims=(3,))


def _networks() -> dict[str, torch.nn.Module]:
    return {"generator": MLPGenerator(5, 2, (16,)), "discriminator": MLPDiscriminator(2, (16,))}


def _trainer(tmp_path, **kwargs) -> pl.Trainer:
    options = dict(
        max_epochs=1, limit_train_batches=3, limit_val_batches=0, default_root_dir=tmp_path, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    return pl.Trainer(**{**options, **kwargs})


def _data() -> GaussianMixture:
    return GaussianMixture(num_samples=256, batch_size=32, num_val_samples=64)


@pytest.fixture
def gpu_checkpoint(tmp_path, request):
    """A CPU run's checkpoint with its stream states replaced by CUDA-sized ones (with the device recorded, or
    without, as checkpoints written before it was)."""
    pl.seed_everything(0)
    model = _infogan()
    trainer = _trainer(tmp_path)
    trainer.fit(model, _data())
    path = tmp_path / "cpu.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=False)
    saved = checkpoint[_CHECKPOINT_KEY]
    assert saved["states"][0].numel() == torch.Generator().get_state().numel()  # a CPU state, 5,056 bytes
    saved["states"] = cuda_sized_states(len(saved["states"]))
    if request.param == "device recorded":
        saved["device"] = "cuda"
    else:
        saved.pop("device", None)
    torch.save(checkpoint, tmp_path / "gpu.ckpt")
    return model, tmp_path / "gpu.ckpt"


@pytest.mark.parametrize("gpu_checkpoint", ["device recorded", "older checkpoint"], indirect=True)
def test_a_gpu_checkpoint_loads_and_samples_on_the_cpu_without_warning(gpu_checkpoint):
    trained, path = gpu_checkpoint
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither loading nor sampling touches the training streams
        loaded = InfoGAN.load_from_checkpoint(path, **_networks())
        samples = loaded.sample(8, rng=torch.Generator().manual_seed(3))
    torch.testing.assert_close(samples, trained.sample(8, rng=torch.Generator().manual_seed(3)), rtol=0, atol=0)


@pytest.mark.parametrize("gpu_checkpoint", ["device recorded", "older checkpoint"], indirect=True)
def test_a_gpu_checkpoint_resumes_on_the_cpu_with_one_warning_and_reseeded_streams(gpu_checkpoint, tmp_path):
    _, path = gpu_checkpoint
    model = _infogan()
    trainer = _trainer(tmp_path, max_epochs=2)
    with pytest.warns(UserWarning, match=RESEEDED) as caught:
        trainer.fit(model, _data(), ckpt_path=path)
    assert len([w for w in caught if RESEEDED in str(w.message)]) == 1
    assert trainer.global_step > 0 and model._iteration == 6  # three resumed batches, then three more
    stream = model.random_stream
    assert stream.device.type == "cpu"  # the stream lives on the module's device now
    # Saved again, the state is a CPU one and says so: it resumes exactly on a CPU.
    again = tmp_path / "again.ckpt"
    trainer.save_checkpoint(again)
    saved = torch.load(again, weights_only=False)[_CHECKPOINT_KEY]
    assert saved["device"] == "cpu" and torch.equal(saved["states"][0], stream.get_state())


def test_cpu_streams_follow_the_module_to_another_device_type(tmp_path, monkeypatch):
    """A CPU checkpoint resumed on a GPU: the restored streams must not stay on the CPU (``meta`` stands for
    the GPU); they are re-seeded there with one warning, and the training step's draws are made there."""
    pl.seed_everything(0)
    model = _infogan()
    trainer = _trainer(tmp_path)
    trainer.fit(model, _data())
    trainer.save_checkpoint(tmp_path / "cpu.ckpt")
    loaded = InfoGAN.load_from_checkpoint(tmp_path / "cpu.ckpt", **_networks())
    with meta_generators(monkeypatch):
        loaded.to("meta")  # what Lightning does after restoring, before the first step
        with pytest.warns(UserWarning, match="saved on cpu and it now runs on meta") as caught:
            stream = loaded.random_stream
            assert loaded.random_stream is stream  # moved once, then kept
        assert len(caught) == 1 and stream.device.type == "meta"
        with strict_draws(monkeypatch) as draws:
            z, _ = loaded._latent(8, loaded.random_stream)  # the training step's draw
        assert draws and all(drawn == generator == "meta" for drawn, generator in draws)
        assert z.device.type == "meta"


def _bigan() -> BiGAN:
    return BiGAN(MLPGenerator(3, 2, (16,)), MLPEncoder(2, 3, (16,)), MLPDiscriminator(2, (16,), latent_dim=3))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda m, g: m.sample(4, rng=g), id="InfoGAN.sample"),
        pytest.param(lambda m, g: m.latent(4, rng=g)[0], id="InfoGAN.latent"),
        pytest.param(lambda m, g: m.code_traversal(5, rng=g), id="InfoGAN.code_traversal"),
    ],
)
def test_a_cpu_rng_on_a_module_elsewhere_draws_on_the_cpu_and_moves_the_result(monkeypatch, call):
    model = _infogan()
    expected = call(model, torch.Generator().manual_seed(0))  # the module on the CPU
    model.to("meta")  # stands for the GPU: torch's draws below are as strict as CUDA's
    with strict_draws(monkeypatch) as draws:
        out = call(model, torch.Generator().manual_seed(0))
    assert draws and all(generator == drawn == "cpu" for drawn, generator in draws)
    assert out.device.type == "meta" and out.shape == expected.shape


@pytest.mark.parametrize(
    ("call", "shape"),
    [
        pytest.param(lambda m, g: m.sample(4, rng=g), (4, 2), id="BiGAN.sample"),
        pytest.param(lambda m, g: m.encode(torch.zeros(4, 2, device=m.device), rng=g), (4, 3), id="BiGAN.encode"),
    ],
)
def test_bigan_accepts_a_cpu_rng_on_a_module_elsewhere(monkeypatch, call, shape):
    model = _bigan().to("meta")
    with strict_draws(monkeypatch) as draws:
        out = call(model, torch.Generator().manual_seed(0))
    assert draws and all(generator == drawn == "cpu" for drawn, generator in draws)
    assert out.device.type == "meta" and tuple(out.shape) == shape
