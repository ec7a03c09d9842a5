"""Bounds against brute-force O(N²) references written with plain loops over Python floats."""

import math

import pytest
import torch

from mine_gan import functional as MF


def _reference_scores(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (3 * torch.randn(n, n, generator=g)).double()


def _ref_logmeanexp(values: list[float]) -> float:
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values) / len(values))


def _joint_and_offdiag(s: torch.Tensor) -> tuple[list[float], list[float]]:
    n = s.shape[0]
    joint = [float(s[i, i]) for i in range(n)]
    marg = [float(s[i, j]) for i in range(n) for j in range(n) if i != j]
    return joint, marg


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n", [2, 7, 16])
def test_donsker_varadhan_matches_brute_force(n, seed):
    s = _reference_scores(n, seed)
    joint, marg = _joint_and_offdiag(s)
    expected = sum(joint) / n - _ref_logmeanexp(marg)
    off = ~torch.eye(n, dtype=torch.bool)
    assert MF.donsker_varadhan(s.diagonal(), s[off]).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n", [2, 7, 16])
def test_nwj_matches_brute_force(n):
    s = _reference_scores(n, 3) / 3
    joint, marg = _joint_and_offdiag(s)
    expected = sum(joint) / n - sum(math.exp(v - 1) for v in marg) / len(marg)
    off = ~torch.eye(n, dtype=torch.bool)
    assert MF.nwj(s.diagonal(), s[off]).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n", [2, 7, 16])
def test_infonce_matches_brute_force(n):
    s = _reference_scores(n, 4)
    expected = sum(float(s[i, i]) - _ref_logmeanexp([float(s[i, j]) for j in range(n)]) for i in range(n)) / n
    assert MF.infonce(s).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("tau", [0.5, 2.0, 5.0])
def test_smile_matches_brute_force(tau):
    s = _reference_scores(9, 5)
    joint, marg = _joint_and_offdiag(s)
    expected = sum(joint) / 9 - _ref_logmeanexp([min(max(v, -tau), tau) for v in marg])
    off = ~torch.eye(9, dtype=torch.bool)
    assert MF.smile(s.diagonal(), s[off], tau=tau).item() == pytest.approx(expected, rel=1e-10)


def test_smile_with_large_tau_is_donsker_varadhan():
    s = _reference_scores(8, 6)
    off = ~torch.eye(8, dtype=torch.bool)
    assert MF.smile(s.diagonal(), s[off], tau=1e6) == pytest.approx(MF.donsker_varadhan(s.diagonal(), s[off]))


def test_jensen_shannon_matches_brute_force():
    s = _reference_scores(6, 7)
    joint, marg = _joint_and_offdiag(s)

    def softplus(v: float) -> float:
        return math.log1p(math.exp(-abs(v))) + max(v, 0.0)

    expected = -sum(softplus(-v) for v in joint) / len(joint) - sum(softplus(v) for v in marg) / len(marg)
    off = ~torch.eye(6, dtype=torch.bool)
    assert MF.jensen_shannon(s.diagonal(), s[off]).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n", [2, 10, 100])
@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
def test_infonce_never_exceeds_log_n(n, scale):
    s = scale * torch.randn(n, n, generator=torch.Generator().manual_seed(n))
    s.diagonal().add_(scale * 10)  # a critic that separates perfectly
    assert MF.infonce(s).item() <= math.log(n) + 1e-6


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_logmeanexp_matches_naive_where_naive_is_safe(dim):
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0)).double()
    naive = x.exp().mean() if dim is None else x.exp().mean(dim=dim)
    torch.testing.assert_close(MF.logmeanexp(x, dim), naive.log())


_SATURATED = [
    (torch.full((8,), 1e4), torch.full((8,), -1e4)),
    (torch.full((8,), -1e4), torch.full((8,), 1e4)),
    (torch.tensor([1e4, -1e4] * 4), torch.tensor([-1e4, 1e4] * 4)),
]


@pytest.mark.parametrize("bound", ["donsker_varadhan", "smile", "jensen_shannon"])
@pytest.mark.parametrize("t_joint, t_marginal", _SATURATED)
def test_bounds_and_gradients_finite_for_huge_scores(bound, t_joint, t_marginal):
    t_joint, t_marginal = t_joint.clone().requires_grad_(), t_marginal.clone().requires_grad_()
    value = getattr(MF, bound)(t_joint, t_marginal)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(t_joint.grad).all() and torch.isfinite(t_marginal.grad).all()


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_infonce_finite_for_huge_scores(scale):
    s = (scale * torch.randn(6, 6, generator=torch.Generator().manual_seed(1))).requires_grad_()
    value = MF.infonce(s)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all()


def test_nwj_finite_unless_its_true_value_overflows():
    t = torch.full((8,), 1e4, requires_grad=True)
    finite = MF.nwj(t, torch.full((8,), -1e4))
    assert torch.isfinite(finite)
    # e^{9999} is beyond every float format: the exact value is -inf, and it must not turn into NaN.
    overflow = MF.nwj(torch.zeros(8), torch.full((8,), 1e4))
    assert overflow.item() == float("-inf")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: MF.infonce(torch.zeros(3, 4)), "square"),
        (lambda: MF.infonce(torch.zeros(3)), "2-D"),
        (lambda: MF.donsker_varadhan(torch.zeros(0), torch.zeros(3)), "t_joint"),
        (lambda: MF.smile(torch.zeros(3), torch.zeros(3), tau=0.0), "tau"),
    ],
)
def test_bad_inputs_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
