"""MutualInformation: the whole-set bound, whatever the batches and processes, against brute force."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
from _subprocess_ranks import run_ranks
from torch import Tensor

from mine_gan.estimators import ConcatCritic, SeparableCritic
from mine_gan.metrics import MutualInformation

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_metric_run", HERE / "_metric_run.py")
run = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_metric_run", run)
_spec.loader.exec_module(run)


def brute_force(critic: torch.nn.Module, x: Tensor, z: Tensor, z_marginal: Tensor, bound: str) -> float:
    """The bound written out over the whole set at once, in float64 Python arithmetic."""
    with torch.no_grad():
        joint = critic(x, z).tolist()
        marginal = [t for k in range(z_marginal.shape[1]) for t in critic(x, z_marginal[:, k]).tolist()]
    if bound == "smile":
        marginal = [min(max(t, -run.SMILE_TAU), run.SMILE_TAU) for t in marginal]
    joint_mean = math.fsum(joint) / len(joint)
    marginal_mean = math.fsum(math.exp(t) for t in marginal) / len(marginal)
    if bound == "nwj":
        return joint_mean - marginal_mean / math.e
    return joint_mean - math.log(marginal_mean)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Tensor]]:
    out = tmp_path_factory.mktemp("ddp")
    return run_ranks([str(HERE / "_metric_run.py"), "--world", "2", "--out", str(out)], out)


@pytest.mark.parametrize("bound", run.BOUNDS)
@pytest.mark.parametrize("sizes", [[64], [7] * 9 + [1], [1, 30, 33]], ids=["whole", "sevens", "uneven"])
def test_any_batch_split_gives_the_brute_force_value(bound: str, sizes: list[int]) -> None:
    critic, x, z, z_marginal = run.evaluation_set()
    metric = MutualInformation(critic, bound=bound, smile_tau=run.SMILE_TAU)
    for xb, zb, mb in zip(x.split(sizes), z.split(sizes), z_marginal.split(sizes), strict=True):
        metric.update(xb, zb, z_marginal=run.marginal_rows(mb))
    assert float(metric.compute()) == pytest.approx(brute_force(critic, x, z, z_marginal, bound), abs=1e-12)


@pytest.fixture(scope="module")
def one_process() -> dict[str, Tensor]:
    return run.evaluate(1)[1]


@pytest.mark.parametrize("bound", run.BOUNDS)
def test_two_processes_give_the_one_process_value(
    two_processes: list[dict[str, Tensor]], one_process: dict[str, Tensor], bound: str
) -> None:
    rank0, rank1 = two_processes
    assert torch.equal(rank0[bound], rank1[bound])
    one = one_process
    critic, x, z, z_marginal = run.evaluation_set()
    assert float(rank0[bound]) == pytest.approx(float(one[bound]), abs=1e-12)
    assert float(rank0[bound]) == pytest.approx(brute_force(critic, x, z, z_marginal, bound), abs=1e-12)


def test_forward_reports_the_batch_and_accumulates_the_set() -> None:
    critic, x, z, z_marginal = run.evaluation_set()
    metric, batch_only = MutualInformation(critic), MutualInformation(critic)
    batch_only.update(x[:40], z[:40], run.marginal_rows(z_marginal[:40]))
    assert float(metric(x[:40], z[:40], run.marginal_rows(z_marginal[:40]))) == pytest.approx(
        float(batch_only.compute()), abs=1e-12
    )
    metric(x[40:], z[40:], run.marginal_rows(z_marginal[40:]))
    assert float(metric.compute()) == pytest.approx(brute_force(critic, x, z, z_marginal, "dv"), abs=1e-12)


def test_without_marginal_samples_uses_every_off_diagonal_pair() -> None:
    torch.manual_seed(0)
    critic = SeparableCritic(2, 2, embed_dim=4, hidden_dims=(8,)).double()  # through its pairwise()
    x, z = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    metric = MutualInformation(critic)
    metric.update(x, z)
    with torch.no_grad():
        scores = torch.stack([critic(x, z[j].expand(6, 2)) for j in range(6)], dim=1)  # scores[i, j]
    off_diagonal = scores[~torch.eye(6, dtype=torch.bool)]
    expected = scores.diagonal().mean() - (off_diagonal.logsumexp(0) - math.log(30))
    assert float(metric.compute()) == pytest.approx(float(expected), abs=1e-12)


def test_large_scores_do_not_overflow() -> None:
    critic = ConcatCritic(1, 1, hidden_dims=(4,)).double()
    with torch.no_grad():
        critic.net[-1].bias.fill_(1000.0)  # e^T overflows float64; its log-sum-exp does not
    x = torch.randn(8, 1, dtype=torch.float64)
    metric = MutualInformation(critic)
    metric.update(x, x, z_marginal=x.roll(1, 0))
    assert math.isfinite(float(metric.compute()))


def test_critic_stays_out_of_the_module_tree_and_keeps_its_mode() -> None:
    critic = ConcatCritic(1, 1, hidden_dims=(4,)).train()
    metric = MutualInformation(critic)
    assert list(metric.parameters()) == []
    metric.update(torch.randn(4, 1), torch.randn(4, 1))
    assert critic.training


@pytest.mark.parametrize(
    ("kwargs", "update", "match"),
    [
        ({"bound": "infonce"}, None, "`bound`"),
        ({"smile_tau": 0.0}, None, "`smile_tau`"),
        ({}, (torch.randn(4, 1), torch.randn(5, 1), None), "same number of samples|samples"),
        ({}, (torch.randn(4, 1), torch.randn(4, 1), torch.randn(6, 1)), "K·4 rows"),
        ({}, (torch.randn(4, 1), torch.randn(4, 1), torch.randn(8, 2)), "shaped like"),
    ],
)
def test_bad_input_is_named(kwargs: dict, update: tuple | None, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        metric = MutualInformation(ConcatCritic(1, 1, hidden_dims=(4,)), **kwargs)
        if update is not None:
            metric.update(update[0], update[1], z_marginal=update[2])


def test_critic_must_be_a_module() -> None:
    with pytest.raises(TypeError, match="`critic`"):
        MutualInformation(lambda x, z: x)  # type: ignore[arg-type]


@pytest.mark.parametrize("bound", run.BOUNDS)
def test_stderr_streams_to_the_whole_set_value(bound: str) -> None:
    """The metric keeps the bound's own statistics (mine_gan.functional), second moments included."""
    from mine_gan import functional as MF

    critic, x, z, z_marginal = run.evaluation_set()
    metric = MutualInformation(critic, bound=bound, smile_tau=run.SMILE_TAU)
    for xb, zb, mb in zip(x.split(7), z.split(7), z_marginal.split(7), strict=True):
        metric.update(xb, zb, z_marginal=run.marginal_rows(mb))
    with torch.no_grad():
        t_joint = critic(x, z)
        t_marginal = torch.cat([critic(x, z_marginal[:, k]) for k in range(z_marginal.shape[1])])
    whole = MF.bound_statistics(t_joint, t_marginal, bound, run.SMILE_TAU)
    assert float(metric.compute()) == pytest.approx(float(MF.bound_from_statistics(whole, bound)), abs=1e-12)
    expected = MF.bound_stderr(whole, bound, marginal_samples=x.shape[0])
    assert float(metric.stderr()) == pytest.approx(float(expected), rel=1e-9)
    assert float(metric.stderr()) > 0
