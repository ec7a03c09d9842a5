"""``estimate_mi``'s training loop on a GPU: its weight average keeps its step count beside the weights.

``AveragedModel`` keeps ``n_averaged`` on the CPU unless told a device, and copies it to the parameters'
device for every parameter at every step; each copy of a pageable CPU tensor to a GPU waits for the GPU.
The ``meta`` device stands for the GPU. (The other host-device syncs, the shuffle stream of ``seed=None``
and ``heldout_estimate``'s draws are checked on a GPU by ``benchmarks/gpu_smoke.py``.)
"""

from __future__ import annotations

from mine_gan.estimators import MINE, ConcatCritic
from mine_gan.estimators.training import averaged_model


def test_the_weight_average_counts_its_steps_on_the_estimators_device():
    mine = MINE(ConcatCritic(2, 2, hidden_dims=(4,))).to("meta")
    average = averaged_model(mine, decay=0.9)
    assert average.n_averaged.device.type == "meta"
    assert {p.device.type for p in average.parameters()} == {"meta"}
