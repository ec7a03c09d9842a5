"""The pieces of ``mine-gan fit --seeds``, each against ``S`` separate single-seed objects: ``stack_seeds`` /
``unstack_seed``, ``SeedStackedData`` and ``SeedCSVLogger`` (``SeedStack`` itself: tests/nets/test_stack.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from mine_gan.callbacks.seed_logger import SeedCSVLogger
from mine_gan.data import GaussianMixture
from mine_gan.data.seeds import SeedStackedData
from mine_gan.models import InfoGAN
from mine_gan.models.seeds import stack_seeds, unstack_seed
from mine_gan.nets import MLPDiscriminator, MLPGenerator, SeedStack

SEEDS = [3, 5, 8]


def _infogan(seed: int, **kwargs) -> InfoGAN:
    torch.manual_seed(seed)
    return InfoGAN(
        MLPGenerator(6, 2, hidden_dims=(8,), batch_norm=True),
        MLPDiscriminator(2, hidden_dims=(8,)),
        noise_dim=2,
        categorical_dims=[4],
        **kwargs,
    )


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_unstacking_each_seed_gives_back_its_module():
    modules = [_infogan(seed) for seed in SEEDS]
    before = [_state(m) for m in modules]
    stacked = stack_seeds(modules, SEEDS)
    assert stacked.num_seeds == len(SEEDS) and stacked.seeds == SEEDS
    assert isinstance(stacked.generator, SeedStack) and isinstance(stacked.mine.critic, SeedStack)
    assert stacked.mine.log_ema.shape == (len(SEEDS),)
    for index, (seed, module, state) in enumerate(zip(SEEDS, modules, before, strict=True)):
        single = unstack_seed(stacked, index)
        assert type(single) is InfoGAN and single.num_seeds == 1 and single.seeds == [seed]
        assert single.state_dict().keys() == state.keys()
        for key, value in single.state_dict().items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)
        # The seed's random stream starts where --seed_everything=k's does.
        assert torch.equal(single.random_stream.get_state(), torch.Generator().manual_seed(seed).get_state())
        # The given modules are left as they were built: single-seed, their own networks.
        assert module.num_seeds == 1 and isinstance(module.generator, MLPGenerator)
        for key, value in module.state_dict().items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)
    assert stacked.seed_module(1).seeds == [SEEDS[1]]
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        unstack_seed(stacked, 3)


def test_a_stacked_generator_draws_each_seeds_rows():
    modules = [_infogan(seed) for seed in SEEDS]
    stacked = stack_seeds(modules, SEEDS).eval()
    z = torch.randn(len(SEEDS) * 4, 6)
    out = stacked.generator(z)
    for index, module in enumerate(modules):
        rows = slice(4 * index, 4 * (index + 1))
        torch.testing.assert_close(out[rows], module.eval().generator(z[rows]))


@pytest.mark.parametrize(
    ("modules", "seeds", "error", "match"),
    [
        (lambda: [_infogan(0)], [0, 1], ValueError, "one module per seed"),
        (lambda: [_infogan(0), _infogan(1)], [2, 2], ValueError, "distinct"),
        (lambda: [_infogan(0), torch.nn.Linear(1, 1)], [0, 1], TypeError, "GAN modules of one class"),
    ],
    ids=["count", "duplicate", "classes"],
)
def test_stack_seeds_refuses_what_it_cannot_stack(modules, seeds, error, match):
    with pytest.raises(error, match=match):
        stack_seeds(modules(), seeds)


def test_stack_seeds_refuses_a_trained_or_stacked_module():
    trained = _infogan(1)
    trained._iteration = 5
    with pytest.raises(ValueError, match="fresh single-seed modules"):
        stack_seeds([_infogan(0), trained], [0, 1])


def _loader(seed: int, n: int, batch: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, 2, generator=g), torch.arange(n) + 100 * seed), batch_size=batch)


def _mixture(run_seed: int) -> GaussianMixture:
    torch.manual_seed(run_seed)  # seed=None: the module's stream is the run's seed at construction
    module = GaussianMixture(batch_size=4, num_samples=32, num_val_samples=8, seed=None)
    module.setup("fit")
    return module


def test_seed_stacked_data_concatenates_each_seeds_batches_seed_major():
    data = SeedStackedData([_mixture(0), _mixture(1)])
    data.setup("fit")
    batches = list(data.train_dataloader())
    singles = [list(_mixture(seed).train_dataloader()) for seed in (0, 1)]  # fresh modules: epoch 0 of each
    assert len(batches) == len(singles[0]) == 8
    for i, batch in enumerate(batches):
        torch.testing.assert_close(batch, torch.cat([singles[0][i], singles[1][i]]), rtol=0, atol=0)
    assert not torch.equal(singles[0][0], singles[1][0])
    assert data.dims == data.datamodules[0].dims and torch.equal(data.centers, data.datamodules[0].centers)
    assert data.state_dict() == {"seeds": [m.state_dict() for m in data.datamodules]}


def test_seed_batches_of_tuples_are_stacked_part_by_part_and_end_with_the_shortest():
    from mine_gan.data.seeds import SeedBatches

    batches = list(SeedBatches([_loader(0, 12, 4), _loader(1, 8, 4)]))
    assert len(batches) == len(SeedBatches([_loader(0, 12, 4), _loader(1, 8, 4)])) == 2
    first = [next(iter(_loader(s, 12 if s == 0 else 8, 4))) for s in (0, 1)]
    torch.testing.assert_close(batches[0][0], torch.cat([first[0][0], first[1][0]]), rtol=0, atol=0)
    assert batches[0][1].tolist() == [0, 1, 2, 3, 100, 101, 102, 103]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_seed_csv_logger_writes_each_seeds_metrics_under_single_run_names(tmp_path):
    logger = SeedCSVLogger(tmp_path, [0, 7])
    logger.log_metrics({"seed_0/train/mi": 0.5, "seed_7/train/mi": 0.25, "epoch": 1.0, "seed_9/train/mi": 9.0}, step=3)
    logger.log_metrics({"seed_7/val/modes": 25.0}, step=4)
    logger.save()
    seed_0, seed_7 = _read(tmp_path / "seed_0" / "metrics.csv"), _read(tmp_path / "seed_7" / "metrics.csv")
    assert [{k: v for k, v in r.items() if v} for r in seed_0] == [{"train/mi": "0.5", "epoch": "1.0", "step": "3"}]
    assert [{k: v for k, v in r.items() if v} for r in seed_7] == [
        {"train/mi": "0.25", "epoch": "1.0", "step": "3"},
        {"val/modes": "25.0", "step": "4"},
    ]
    assert not (tmp_path / "seed_9").exists()  # a seed the run does not train is ignored
    assert logger.log_dir == str(tmp_path) and logger.version == "0,7"


def test_the_stacking_does_not_import_the_module_that_uses_it():
    """gan.py imports seeds.py (seed_module); seeds.py names GANModule for type checkers only: no import cycle."""
    import ast

    import mine_gan.models.seeds as seeds

    tree = ast.parse(Path(seeds.__file__).read_text())
    runtime = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not [node for node in runtime if getattr(node, "module", "") == "mine_gan.models.gan"]
