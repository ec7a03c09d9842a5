import pytest
import torch
from sklearn.datasets import load_digits

from mine_gan.data import IMAGE_SIZES, Digits, StackedDigits, digit_splits, stack_labels, to_tanh_range
from mine_gan.data.images import split_indices


@pytest.mark.parametrize("image_size", IMAGE_SIZES)
def test_digit_batches_have_the_contract_shape_and_range(image_size):
    dm = Digits(image_size=image_size, batch_size=16)
    assert dm.dims == (1, image_size, image_size) and dm.num_classes == 10
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 1, image_size, image_size) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1  # the background is black
    assert y.dtype == torch.long and 0 <= y.min() and y.max() <= 9


def test_native_size_is_the_sklearn_pixels_rescaled():
    dm = Digits(image_size=8)
    dm.setup("fit")
    bunch = load_digits()
    train_index = split_indices(len(bunch.images), 0.1, 0.2, seed=0)["train"]
    data = dm.datasets["train"]
    for i in (0, 17, 400):
        x, y = data[i]
        pixels = torch.as_tensor(bunch.images[int(train_index[i])], dtype=torch.float32)
        torch.testing.assert_close(x[0], pixels / 16 * 2 - 1)
        assert int(y) == int(bunch.target[int(train_index[i])])


def test_upsampling_is_bilinear():
    image = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])
    expected = torch.nn.functional.interpolate(image, size=(4, 4), mode="bilinear", align_corners=False) * 2 - 1
    torch.testing.assert_close(to_tanh_range(image, 4), expected)
    # Bilinear (half-pixel) weights at the corners of a 2->4 upsampling: 3/4 of the nearest pixel.
    assert float(to_tanh_range(image, 4)[0, 0, 0, 1]) == pytest.approx(2 * 0.25 - 1)


def test_flatten_for_mlps():
    dm = Digits(image_size=16, flatten=True, batch_size=8)
    assert dm.dims == (256,)
    dm.setup("fit")
    x, _ = next(iter(dm.val_dataloader()))
    assert x.shape == (8, 256)


def test_splits_are_seeded_disjoint_and_cover_the_data():
    parts = split_indices(1797, 0.1, 0.2, seed=0)
    joined = torch.cat([parts["train"], parts["val"], parts["test"]])
    assert torch.equal(joined.sort().values, torch.arange(1797))
    assert [len(parts[k]) for k in ("train", "val", "test")] == [1258, 180, 359]
    assert torch.equal(split_indices(1797, 0.1, 0.2, seed=0)["test"], parts["test"])
    assert not torch.equal(split_indices(1797, 0.1, 0.2, seed=1)["test"], parts["test"])


def _two_epochs(seed: int) -> tuple[Digits, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A fresh data module's training loader, iterated twice (as Lightning reuses it across epochs)."""
    dm = Digits(image_size=8, batch_size=32, seed=seed)
    dm.setup("fit")
    loader = dm.train_dataloader()
    return dm, [tuple(torch.cat(parts) for parts in zip(*loader, strict=True)) for _ in range(2)]


def test_training_order_is_seeded():
    dm, (first, second) = _two_epochs(0)
    _, (first_again, second_again) = _two_epochs(0)
    _, (other, _) = _two_epochs(1)
    # The same seed gives the same images in the same order, epoch after epoch.
    for got, expected in ((first_again, first), (second_again, second)):
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    # Another seed gives other batches from the first one on.
    assert not torch.equal(other[0][:32], first[0][:32])
    # An epoch is a shuffle of the training images: each is one of them, not in the stored order, and the next
    # epoch is shuffled anew.
    data = dm.datasets["train"]
    stored = torch.stack([data[i][0] for i in range(len(data))]).flatten(1)
    assert first[0].shape[0] == len(data) // 32 * 32  # full batches only (drop_last)
    distances = torch.cdist(first[0].flatten(1), stored, compute_mode="donot_use_mm_for_euclid_dist")
    assert distances.min(dim=1).values.max() == 0
    assert not torch.equal(first[0].flatten(1), stored[: first[0].shape[0]])
    assert not torch.equal(second[0], first[0])


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"image_size": 30}, "image_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"val_fraction": 1.5}, "val_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "test_fraction"),
        ({"num_workers": -1}, "num_workers"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, named):
    with pytest.raises(ValueError, match=named):
        Digits(**kwargs)
    with pytest.raises(ValueError, match=named):
        StackedDigits(**kwargs)


def test_stacked_digits_are_three_digits_with_their_label():
    dm = StackedDigits(image_size=16, num_samples=500, num_val_samples=200, batch_size=50)
    assert dm.dims == (3, 16, 16) and dm.num_classes == 1000
    dm.setup("fit")
    data = dm.datasets["train"]
    assert len(data) == 500 and len(dm.datasets["val"]) == 200 and len(dm.datasets["test"]) == 200
    for i in range(5):
        x, y = data[i]
        digits = data.labels[data.stacks[i]]
        assert int(y) == int(stack_labels(digits))
        for channel in range(3):
            single = to_tanh_range(data.images[data.stacks[i, channel]][None], 16)[0, 0]
            torch.testing.assert_close(x[channel], single)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (50, 3, 16, 16) and x.min() >= -1 and x.max() <= 1 and y.max() < 1000


def test_held_out_stacks_use_held_out_digits_only():
    dm = StackedDigits(image_size=8, num_samples=100, num_val_samples=300)
    dm.setup("test")
    test_pool = digit_splits()["test"][0]
    assert torch.equal(dm.datasets["test"].images, test_pool)
    assert int(dm.datasets["test"].stacks.max()) < len(test_pool)


def test_stacked_labels_cover_the_thousand_modes_about_uniformly():
    dm = StackedDigits(image_size=8, num_samples=20_000, num_val_samples=10)
    dm.setup("fit")
    data = dm.datasets["train"]
    labels = stack_labels(data.labels[data.stacks])
    counts = torch.bincount(labels, minlength=1000)
    assert int((counts > 0).sum()) == 1000  # 20 expected per mode: an empty one has probability ~2e-9 each
    assert counts.sum() == 20_000
