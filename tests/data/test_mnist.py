"""The real MNIST loader on a tiny MNIST-format file set written here (idx files; no network)."""

import gzip
import struct

import numpy as np
import pytest
import torch

import mine_gan.data.mnist as mnist_module
from mine_gan.data import MNIST, StackedMNIST, mnist_files


def _write_idx(path, array, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def _write_mnist(root, n_train=40, n_test=12, gz=False):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3) % 10,
    }
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in arrays.items():
        _write_idx(raw / (name + (".gz" if gz else "")), array, gz=gz)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_loader_reads_the_idx_files(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz=gz)
    dm = MNIST(root=str(tmp_path), image_size=28, val_size=8, batch_size=4)
    assert dm.dims == (1, 28, 28) and dm.num_classes == 10
    dm.prepare_data()
    dm.setup("fit")
    assert [len(dm.datasets[k]) for k in ("train", "val", "test")] == [32, 8, 12]
    test = dm.datasets["test"]
    for i in (0, 5, 11):
        x, y = test[i]
        expected = torch.as_tensor(arrays["t10k-images-idx3-ubyte"][i], dtype=torch.float32) / 255 * 2 - 1
        torch.testing.assert_close(x[0], expected)
        assert int(y) == int(arrays["t10k-labels-idx1-ubyte"][i])
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 1, 28, 28) and y.shape == (4,)


def test_resized_flat_and_stacked(tmp_path):
    _write_mnist(tmp_path)
    dm = MNIST(root=str(tmp_path), image_size=32, flatten=True, val_size=8, batch_size=4)
    dm.setup("fit")
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 32 * 32) and dm.dims == (32 * 32,) and x.min() >= -1 and x.max() <= 1
    stacked = StackedMNIST(
        root=str(tmp_path), image_size=16, num_samples=30, num_val_samples=6, val_size=8, batch_size=5
    )
    assert stacked.dims == (3, 16, 16) and stacked.num_classes == 1000
    stacked.setup("fit")
    x, y = next(iter(stacked.train_dataloader()))
    assert x.shape == (5, 3, 16, 16) and y.max() < 1000
    assert len(stacked.datasets["test"]) == 6 and stacked.hparams["num_samples"] == 30


@pytest.mark.parametrize("stage", ["prepare_data", "setup"])
def test_missing_files_name_the_expected_path(tmp_path, stage):
    dm = MNIST(root=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as info:
        dm.prepare_data() if stage == "prepare_data" else dm.setup("fit")
    message = str(info.value)
    assert str(mnist_files(tmp_path / "nowhere")[0].parent) in message
    assert "train-images-idx3-ubyte" in message and "download=True" in message


def test_failed_download_is_explained(tmp_path, monkeypatch):
    class NoNetwork:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno route to host")

    monkeypatch.setattr(mnist_module.torchvision.datasets, "MNIST", NoNetwork)
    with pytest.raises(FileNotFoundError, match="downloading failed.*no route|no route"):
        MNIST(root=str(tmp_path), download=True).prepare_data()


def test_partial_file_set_lists_what_is_missing(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="missing: t10k-labels-idx1-ubyte"):
        MNIST(root=str(tmp_path)).prepare_data()


def test_bad_val_size(tmp_path):
    with pytest.raises(ValueError, match="val_size"):
        MNIST(root=str(tmp_path), val_size=-1)
    _write_mnist(tmp_path)
    with pytest.raises(ValueError, match="val_size"):
        MNIST(root=str(tmp_path), val_size=40).setup("fit")
