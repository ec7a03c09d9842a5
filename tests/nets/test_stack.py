"""``SeedStack`` and its batchable batch norm and spectral norm, each against ``S`` separate networks."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mine_gan.nets import DCGANGenerator, MLPDiscriminator, MLPGenerator, SeedStack
from mine_gan.nets.stack import _batchable, _BatchableBatchNorm, _BatchableSpectralNorm

SEEDS, BATCH = 3, 5


def _networks(build, seeds: int = SEEDS) -> list[nn.Module]:
    nets = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        nets.append(build().double())
    return nets


def _rows(x: torch.Tensor, s: int) -> torch.Tensor:
    return x[s * BATCH : (s + 1) * BATCH]


NETWORKS = {
    "mlp_batch_norm": (lambda: MLPGenerator(4, 2, hidden_dims=(8, 8), batch_norm=True), (4,)),
    "mlp_spectral_norm": (lambda: MLPDiscriminator(2, hidden_dims=(8, 8), spectral_norm=True), (2,)),
    "dcgan_batch_norm_2d": (lambda: DCGANGenerator(4, 1, 16, base_channels=4), (4,)),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_stack_equals_separate_networks_outputs_gradients_and_state(name, mode):
    build, in_shape = NETWORKS[name]
    nets = _networks(build)
    stack = SeedStack(nets)
    for net in [*nets, stack]:
        net.train(mode == "train")
    x = torch.randn(SEEDS * BATCH, *in_shape, dtype=torch.float64)
    out = stack(x)
    out.square().sum().backward()
    for s, net in enumerate(nets):
        expected = net(_rows(x, s))
        torch.testing.assert_close(_rows(out, s), expected)
        expected.square().sum().backward()
        for stacked, param in zip(stack.stacked_parameters, net.parameters(), strict=True):
            torch.testing.assert_close(stacked.grad[s], param.grad)
        # Running statistics, batch counts and power-iteration vectors moved as each network's own.
        for (key, value), own in zip(stack.network(s).state_dict().items(), net.state_dict().values(), strict=True):
            torch.testing.assert_close(value, own, msg=key)


def test_methods_and_attributes_of_the_network_pass_through():
    nets = _networks(lambda: MLPDiscriminator(2, hidden_dims=(8,), code_dim=3))
    stack = SeedStack(nets)
    x = torch.randn(SEEDS * BATCH, 2, dtype=torch.float64)
    logits, code = stack.forward_with_code(x)
    for s, net in enumerate(nets):
        expected_logits, expected_code = net.forward_with_code(_rows(x, s))
        torch.testing.assert_close(_rows(logits, s), expected_logits)
        torch.testing.assert_close(_rows(code, s), expected_code)
    assert stack.code_dim == 3 and stack.num_seeds == SEEDS
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = stack.no_such_thing


def test_network_is_a_standalone_copy():
    nets = _networks(lambda: MLPGenerator(4, 2, hidden_dims=(8,)))
    stack = SeedStack(nets)
    one = stack.network(1)
    assert type(one) is MLPGenerator and one is not nets[1]
    with torch.no_grad():
        next(one.parameters()).add_(1.0)  # editing the copy leaves the stack alone
    torch.testing.assert_close(stack.stacked_parameters[0][1], next(nets[1].parameters()))
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        stack.network(3)


def test_bad_stacks_are_refused():
    with pytest.raises(ValueError, match="at least one network"):
        SeedStack([])
    with pytest.raises(ValueError, match="one architecture"):
        SeedStack([MLPGenerator(4, 2, hidden_dims=(8,)), MLPGenerator(4, 2, hidden_dims=(8, 8))])
    with pytest.raises(ValueError, match="seed-major batches"):
        SeedStack(_networks(lambda: MLPGenerator(4, 2, hidden_dims=(8,))))(torch.randn(7, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="cannot batch"):
        SeedStack([nn.Sequential(nn.Linear(2, 2), nn.BatchNorm3d(2))])


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize(("layer", "shape"), [(nn.BatchNorm1d(4), (6, 4)), (nn.BatchNorm2d(3), (6, 3, 5, 5))])
def test_batchable_batch_norm_is_pytorchs(layer, shape, mode):
    torch.manual_seed(0)
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.normal_()
    reference = layer.double()
    twin = _batchable(copy.deepcopy(reference))
    assert isinstance(twin, _BatchableBatchNorm) and isinstance(twin, type(reference))
    reference.train(mode == "train")
    twin.train(mode == "train")
    for _ in range(3):  # the running statistics after several updates, and the output that uses them
        x = torch.randn(*shape, dtype=torch.float64)
        torch.testing.assert_close(twin(x), reference(x))
    for key, value in twin.state_dict().items():
        torch.testing.assert_close(value, reference.state_dict()[key], msg=key)


def test_batchable_spectral_norm_is_pytorchs():
    torch.manual_seed(0)
    reference = nn.utils.parametrizations.spectral_norm(nn.Linear(5, 4)).double()
    twin = _batchable(copy.deepcopy(reference))
    assert isinstance(twin.parametrizations.weight[0], _BatchableSpectralNorm)
    for _ in range(3):  # each training call takes a power-iteration step
        x = torch.randn(6, 5, dtype=torch.float64)
        torch.testing.assert_close(twin(x), reference(x))
    torch.testing.assert_close(twin.parametrizations.weight[0]._u, reference.parametrizations.weight[0]._u)
    torch.testing.assert_close(twin.parametrizations.weight[0]._v, reference.parametrizations.weight[0]._v)
