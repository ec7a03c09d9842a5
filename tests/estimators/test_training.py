"""The training loop's parts: the plateau stopper and the weight average."""

import math

import pytest
import torch

from mine_gan import MINE, ConcatCritic
from mine_gan.estimators.training import PlateauStopper, averaged_model, train_estimator


def test_stopper_keeps_the_best_and_counts_the_wait_like_early_stopping():
    stopper = PlateauStopper(patience=3, min_delta=0.01)
    decisions = [stopper.update(v) for v in [0.2, 0.5, 0.505, 0.4, 0.3, 0.3]]
    # 0.505 is a new best but not a gain of more than min_delta: the wait goes on from the 0.5.
    assert (stopper.best, stopper.best_check, stopper.improved_check, stopper.wait) == (0.505, 3, 2, 4)
    assert decisions == [False] * 4 + [True, True]  # a wait of 3 checks, and the last value fell
    assert not stopper.is_best


def test_stopper_waits_as_long_as_the_run_that_reached_the_best():
    stopper = PlateauStopper(patience=2, min_delta=1e-3)
    rising = [stopper.update(0.1 * k) for k in range(1, 11)]  # ten gains: the best is at check 10
    flat = [stopper.update(1.0) for _ in range(10)]
    assert not any(rising) and stopper.improved_check == 10
    assert flat.index(True) == 9  # a wait of 10 checks, not of the patience of 2


def test_stopper_goes_on_while_the_mean_still_rises():
    """No single value beats the best by min_delta, but the recent mean climbs: not a plateau."""
    stopper = PlateauStopper(patience=2, min_delta=0.01, window=2)
    values = [1.0, 0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.95, 0.95, 0.95]
    decisions = [stopper.update(v) for v in values]
    assert stopper.improved_check == 1 and not any(decisions[:-1])
    assert decisions[-1]  # two flat windows


def test_stopper_names_bad_arguments():
    with pytest.raises(ValueError, match="`patience`"):
        PlateauStopper(patience=0)
    with pytest.raises(ValueError, match="`window`"):
        PlateauStopper(patience=2, window=0)


def test_average_warms_up_then_decays_at_the_given_rate():
    mine = MINE(ConcatCritic(1, 1, hidden_dims=(2,)))
    average = averaged_model(mine, decay=0.9, warmup=10)
    weights = []
    for k in range(40):
        with torch.no_grad():
            for p in mine.parameters():
                p.fill_(float(k))
        average.update_parameters(mine)
        weights.append(float(next(average.module.parameters()).flatten()[0]))
    expected = 0.0
    for n in range(1, 40):  # the first update copies; then γ_n = min(0.9, (1 + n) / (10 + n))
        gamma = min(0.9, (1 + n) / (10 + n))
        expected = gamma * expected + (1 - gamma) * n
    assert weights[-1] == pytest.approx(expected, rel=1e-6)
    assert all(not p.requires_grad for p in average.module.parameters())


def test_training_keeps_the_best_validated_state_and_stops_at_a_plateau():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 1, generator=g)
    z = x + torch.randn(2000, 1, generator=g)
    torch.manual_seed(0)
    mine = MINE(ConcatCritic(1, 1, hidden_dims=(16,)))
    scores = iter([0.1, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])  # the check at step 0, then one per 10 steps
    run = train_estimator(
        mine,
        x,
        z,
        steps=200,
        batch_size=100,
        lr=1e-3,
        validate=lambda _: next(scores),
        every=10,
        stopper=PlateauStopper(patience=3),
        rng=g,
    )
    assert (run.stop_reason, run.steps_taken, run.best_step) == ("plateau", 40, 10)
    assert run.history["step"] == [10, 20, 30, 40] and run.history["valid"] == [0.3, 0.2, 0.2, 0.2]
    assert all(math.isfinite(v) for v in run.history["train"])


def test_step_cap_grows_with_the_best_validation_value_and_never_shrinks():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 1, generator=g)
    mine = MINE(ConcatCritic(1, 1, hidden_dims=(4,)))
    values = iter([0.0, 1.0, 3.0, 2.0] + [0.5] * 20)  # the check at step 0, then one per 10 steps
    caps = []

    def cap(best: float) -> int:
        caps.append(best)
        return int(10 * best)

    run = train_estimator(
        mine, x, x, steps=20, batch_size=50, lr=1e-3, validate=lambda _: next(values), every=10, step_cap=cap
    )
    # The cap rises to 30 steps once the best is 3.0 (step 20), and a lower value does not bring it back.
    assert caps == [1.0, 3.0, 3.0] and run.steps_taken == 30 and run.best_value == 3.0
