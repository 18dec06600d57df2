import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from enxs import loss


def test_data_chi2_by_hand():
    sigma = torch.tensor([[10.0, 20.0]])
    err = torch.tensor([1.0, 2.0])
    fit = torch.tensor([[9.0, 22.0]])
    lam = torch.tensor([[1.0, 0.5]])
    # ½[((10 − 9)/1)² + ((20 − 11)/2)²] = ½[1 + 20.25]
    assert loss.data_chi2(sigma, err, fit, lam).item() == 10.625


def test_norm_penalty_by_hand():
    lam = torch.tensor([[1.02, 0.9]])
    unc = torch.tensor([0.02, 0.05])
    assert abs(loss.norm_penalty(lam, unc).item() - 0.5 * (1 + 4)) < 1e-5


def test_total_chi2_by_hand():
    sigma = torch.tensor([[5.0, 6.0, 7.0]])
    err = torch.tensor([0.5, 0.5, 1.0])
    fit = torch.tensor([[5.5, 5.0, 7.5]])
    data = torch.tensor([0, 1, 1])
    lam = torch.tensor([[1.1, 0.95]])
    unc = torch.tensor([0.05, 0.1])
    # data: ½[((5 − 1.1·5.5)/0.5)² + ((6 − 0.95·5)/0.5)² + ((7 − 0.95·7.5)/1)²] = ½[4.41 + 6.25 + 0.015625]
    # penalty: ½[((1 − 1.1)/0.05)² + ((1 − 0.95)/0.1)²] = ½[4 + 0.25]
    total = loss.chi2(sigma, err, fit, data, lam, unc)
    assert abs(total.item() - (5.3378125 + 2.125)) < 1e-5


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.5, 2.0), min_size=4, max_size=4), st.floats(0.01, 0.2))
def test_profiled_lambda_is_the_minimum(fits, unc):
    sigma = torch.tensor([[1.0, 1.2, 0.8, 1.1]], dtype=torch.float64)
    err = torch.tensor([0.1, 0.1, 0.2, 0.1], dtype=torch.float64)
    fit = torch.tensor([fits], dtype=torch.float64)
    data = torch.zeros(4, dtype=torch.long)
    unc_t = torch.tensor([unc], dtype=torch.float64)
    fs, ff = loss.lambda_sums(sigma, err, fit, data, 1)
    lam = loss.profile_lambda(fs, ff, unc_t)
    best = loss.chi2(sigma, err, fit, data, lam, unc_t)
    for delta in (-1e-3, 1e-3):
        assert best <= loss.chi2(sigma, err, fit, data, lam + delta, unc_t)


def test_common_scale_fix_minimizes_the_penalty():
    lam = torch.tensor([[1.3, 1.2, 1.4]], dtype=torch.float64)
    unc = torch.tensor([0.02, 0.05, 0.1], dtype=torch.float64)
    fixed = loss.fix_common_scale(lam, unc)
    assert torch.allclose(fixed / lam, (fixed / lam)[:, :1])  # one common factor
    best = loss.norm_penalty(fixed, unc)
    for u in (0.99, 1.01):
        assert best <= loss.norm_penalty(fixed * u, unc)


def test_log_chi2_matches_chi2_for_small_residuals():
    sigma = torch.tensor([[100.0, 50.0]])
    err = torch.tensor([2.0, 1.0])
    fit = sigma * torch.tensor([[1.001, 0.999]])
    lam = torch.ones(1, 2)
    lin = loss.data_chi2(sigma, err, fit, lam)
    log = loss.log_data_chi2(sigma, err, fit, lam, torch.log(fit))
    assert torch.allclose(lin, log, rtol=2e-3)


def test_log_chi2_uses_the_linear_term_for_nonpositive_sigma():
    sigma = torch.tensor([[-1.0]])
    err = torch.tensor([2.0])
    fit = torch.tensor([[1.0]])
    value = loss.log_data_chi2(sigma, err, fit, torch.ones(1, 1), torch.log(fit))
    assert value.item() == 0.5
