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


# One definition per bound: the streaming statistics finish to the same value as the plain function,
# whatever the split, and their standard error is the delta method written out by hand.
_PLAIN = {
    "dv": MF.donsker_varadhan,
    "nwj": MF.nwj,
    "smile": lambda t_joint, t_marginal: MF.smile(t_joint, t_marginal, tau=1.5),
}


@pytest.mark.parametrize("bound", MF.SET_BOUNDS)
@pytest.mark.parametrize("sizes", [([9], [72]), ([1, 3, 5], [40, 1, 31]), ([4, 5], [71, 1])])
def test_statistics_of_any_split_finish_to_the_plain_bound(bound, sizes):
    s = _reference_scores(9, 8) / 2
    joint, marginal = s.diagonal(), s[~torch.eye(9, dtype=torch.bool)]
    parts = [
        MF.bound_statistics(j, m, bound, smile_tau=1.5)
        for j, m in zip(joint.split(sizes[0]), marginal.split(sizes[1]), strict=True)
    ]
    value = MF.bound_from_statistics(MF.merge_bound_statistics(*parts), bound)
    assert value.item() == pytest.approx(_PLAIN[bound](joint, marginal).item(), rel=1e-12)


@pytest.mark.parametrize("bound", MF.SET_BOUNDS)
def test_stderr_is_the_delta_method_written_out(bound):
    s = _reference_scores(12, 9) / 3
    joint, marg = _joint_and_offdiag(s)
    if bound == "smile":
        marg = [min(max(v, -1.5), 1.5) for v in marg]
    n, m = len(joint), len(marg)
    mean_j = sum(joint) / n
    var_j = sum((v - mean_j) ** 2 for v in joint) / (n - 1)
    w = [math.exp(v) for v in marg]
    mu = sum(w) / m
    var_w = sum((v - mu) ** 2 for v in w) / (m - 1)
    slope = -math.exp(math.log(mu) - 1) if bound == "nwj" else -1.0  # d bound / d log E_Q[e^T]
    expected = math.sqrt(var_j / n + slope**2 * var_w / mu**2 / n)  # n effective marginal samples
    off = ~torch.eye(12, dtype=torch.bool)
    stats = MF.bound_statistics(s.diagonal(), s[off], bound, smile_tau=1.5)
    assert MF.bound_stderr(stats, bound, marginal_samples=n).item() == pytest.approx(expected, rel=1e-9)


def test_statistics_stay_finite_for_huge_scores():
    stats = MF.bound_statistics(torch.full((4,), 1e4), torch.full((4,), 1e4).double())
    assert torch.isfinite(MF.bound_from_statistics(stats)) and torch.isfinite(MF.bound_stderr(stats))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: MF.bound_statistics(torch.zeros(3), torch.zeros(3), "infonce"), "`bound` must be one of"),
        (lambda: MF.bound_statistics(torch.zeros(3), torch.zeros(3), "smile", smile_tau=-1.0), "tau"),
        (lambda: MF.bound_statistics(torch.zeros(3), torch.zeros(0)), "t_marginal"),
        (lambda: MF.merge_bound_statistics(), "at least one"),
    ],
)
def test_bad_statistics_inputs_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
