"""The χ² of Kowal et al., Phys. Rev. C 110, 025501 (2024), as a sum of named terms, batched over ensemble members.

χ²_tot = Σ_k [ ½ Σ_{i∈k} ((σ_i − λ_k σ_i^fit)/Δσ_i)² + ½ ((1 − λ_k)/Δλ_k)² ]

(D'Agostini, NIM A 346 (1994) 306.) Shapes: K members, N points, D datasets; ``dataset``
holds each point's dataset index in [0, D).
"""

from __future__ import annotations

import torch


def data_chi2(sigma: torch.Tensor, error: torch.Tensor, prediction: torch.Tensor,
              lam_per_point: torch.Tensor) -> torch.Tensor:
    """½ Σ_i ((σ_i − λ σ_i^fit)/Δσ_i)² per member: inputs broadcast to [K, N] → [K]."""
    return 0.5 * torch.square((sigma - lam_per_point * prediction) / error).sum(-1)


def log_data_chi2(sigma: torch.Tensor, error: torch.Tensor, prediction: torch.Tensor,
                  lam_per_point: torch.Tensor, log_prediction: torch.Tensor) -> torch.Tensor:
    """The data χ² written in log space, per member [K]: ½ Σ_i ((log σ_i − log λ f_i)·σ_i/Δσ_i)².

    ``log_prediction`` is log f, passed separately so that it is exact where f underflows.

    Equal to :func:`data_chi2` to first order in the relative residual (log(1+r) ≈ r), but a
    prediction off by a factor 10 costs (ln 10)² rather than 81 in units of (σ/Δσ)²: robust
    while the network still misses the tails by decades. Points with σ ≤ 0 use the linear term.
    """
    positive = sigma > 0
    safe = torch.where(positive, sigma, torch.ones_like(sigma))
    log_term = (torch.log(safe) - torch.log(lam_per_point) - log_prediction) * safe / error
    lin_term = (sigma - lam_per_point * prediction) / error
    return 0.5 * torch.square(torch.where(positive, log_term, lin_term)).sum(-1)


def norm_penalty(lam: torch.Tensor, norm_unc: torch.Tensor) -> torch.Tensor:
    """½ Σ_k ((1 − λ_k)/Δλ_k)² per member: λ [K, D], Δλ [D] → [K]."""
    return 0.5 * torch.square((1 - lam) / norm_unc).sum(-1)


def chi2(sigma, error, prediction, dataset, lam, norm_unc) -> torch.Tensor:
    """The total χ² per member, [K]: :func:`data_chi2` + :func:`norm_penalty`."""
    return data_chi2(sigma, error, prediction, lam[..., dataset]) + norm_penalty(lam, norm_unc)


def training_loss(phase: str, sigma, error, prediction, log_prediction, dataset, lam, norm_unc,
                  share: float) -> torch.Tensor:
    """What training minimises per member on a batch of B points, [K]:

    - ``chi2``: :func:`chi2` per point, the data term on the batch plus the batch's ``share``
      of the normalization penalty, over B (the batches of an epoch add up to the whole χ²);
    - ``log_chi2``: the same with the data term written in log space (:func:`log_data_chi2`);
    - ``warmup``: :func:`relative_loss` (a mean over the batch), before either.

    λ [K, D] is held fixed within an epoch (profiled in closed form, never a trained
    parameter), so the penalty adds no gradient; it keeps the minimised number the χ².
    """
    if phase == "warmup":
        return relative_loss(sigma, error, log_prediction)
    lam_per_point = lam.gather(-1, dataset)
    data = (log_data_chi2(sigma, error, prediction, lam_per_point, log_prediction) if phase == "log_chi2"
            else data_chi2(sigma, error, prediction, lam_per_point))
    return (data + share * norm_penalty(lam, norm_unc)) / sigma.shape[-1]


def lambda_sums(sigma, error, prediction, dataset, n_datasets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per dataset, Σ f σ/Δ² and Σ f²/Δ² (the sufficient statistics of the λ fit), [K, D] each."""
    weight = prediction / torch.square(error)
    shape = (*prediction.shape[:-1], n_datasets)
    index = dataset.expand_as(prediction)
    fs = prediction.new_zeros(shape).scatter_add_(-1, index, weight * sigma)
    ff = prediction.new_zeros(shape).scatter_add_(-1, index, weight * prediction)
    return fs, ff


def profile_lambda(fs: torch.Tensor, ff: torch.Tensor, norm_unc: torch.Tensor) -> torch.Tensor:
    """The λ minimizing the χ² for fixed predictions, in closed form, [K, D]:

    λ̂_k = (Σ f σ/Δ² + 1/Δλ_k²) / (Σ f²/Δ² + 1/Δλ_k²)   (from ∂χ²/∂λ_k = 0).

    A dataset with no points gets λ̂ = 1.
    """
    prior = 1.0 / torch.square(norm_unc)
    return (fs + prior) / (ff + prior)


def fix_common_scale(lam: torch.Tensor, norm_unc: torch.Tensor) -> torch.Tensor:
    """Rescale λ [K, D] by the common factor u that minimizes the penalty, [K, D].

    The data χ² depends on λ_k f only, and a flexible network absorbs any common factor of
    all λ_k (f → f/u, λ → uλ), so the joint optimum has the u minimizing
    Σ_k ((1 − u λ_k)/Δλ_k)²:  u = Σ (λ_k/Δλ_k²) / Σ (λ_k²/Δλ_k²).
    Without this the common scale is held only by the weak penalty and drifts in training.
    """
    weight = 1.0 / torch.square(norm_unc)
    u = (lam * weight).sum(-1, keepdim=True) / (lam.square() * weight).sum(-1, keepdim=True)
    return lam * u


def relative_loss(sigma, error, log_prediction) -> torch.Tensor:
    """Warm-up loss per member, [K]: mean of (log σ^fit − log max(σ, Δσ))², from log σ^fit.

    σ/S spans seven decades on the data; far from the optimum a χ² (or a linear relative
    error) is dominated by the few points the prediction overshoots by orders of
    magnitude. The log-ratio is symmetric and learns the shape on every point first;
    max(σ, Δσ) keeps points at or below zero usable."""
    return torch.square(log_prediction - torch.log(torch.maximum(sigma, error))).mean(-1)
