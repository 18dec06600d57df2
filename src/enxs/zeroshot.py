"""The uncertainty of carrying a model of several nuclei to a nucleus it was not trained on.

The structured model's learned corrections are the same functions for every nucleus; what no
member can know is how a nucleus without data departs from the nuclei that have data. The spread
of the members alone covers too little of such a nucleus: left out one at a time (fast preset,
10 members, all points), 12C, 16O, 27Al and 56Fe have 1σ coverage of 45–56%, 40Ca 22%.
A zero-shot prediction of the structured model therefore carries one more factor per member,

    σ_k, R_L,k, R_T,k  ×  exp(s z_k) / m,   z_k = ±ζ_j / r,  ζ_j ~ N(0, 1) drawn from (seed, j = ⌊k/2⌋, Z, A),
    s = s₀ (1 + d),    d = how far A^{1/3} lies outside the trained nuclei's range (0 inside),

the same for σ and both responses (a nucleus' overall strength is what is unknown). Members come
in pairs with opposite signs (+ for even k), and m is the mean of exp(s z_k) over the K members, so
that the band widens without moving the ensemble mean, where independent draws would move it by
s/√K; r is the draws' own standard deviation over the members (ddof = 1), so that the band's width
is s whatever the draws (five pairs of draws alone make it 0.5–1.6 s, 5th–95th percentile).
s₀ (``S0``) is calibrated on the nuclei where superscaling holds, each left out in turn
(:func:`calibrate`): the width at which their 1σ coverage, averaged over nuclei, is 68.3%. Below
carbon, where it does not hold and a nucleus departs further from its neighbours, the same
calibration on the light nuclei with data (``LIGHT_CALIBRATION``) gives its own s₀ (``S0_LIGHT``).
Which nuclei, and the coverage of each with s₀ calibrated without it, are in docs/method.md;
the growth with d is the project's choice for nuclei far outside (the one case with data, 56Fe
left out beyond 40Ca, says it is generous).
Trained nuclei get no factor.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from enxs.nuclei import Nucleus

#: s₀: the relative width of a zero-shot nucleus' factor inside the trained range (module docstring).
S0 = 0.100
#: The nuclei s₀ is calibrated on: those of the any-nucleus study superscaling holds for (A ≥ 12; lithium, no Fermi
#: gas, is calibrated with the light nuclei, ``LIGHT_CALIBRATION``).
CALIBRATION = ("12C", "16O", "27Al", "40Ca", "56Fe")
#: The lightest of them: below it a zero-shot nucleus gets the light nuclei's width.
CALIBRATED_FROM_A = min(Nucleus.parse(name).A for name in CALIBRATION)
#: s₀ below carbon (module docstring).
S0_LIGHT = 0.268
#: The nuclei S0_LIGHT is calibrated on: those of A = 3–6 (the deuteron, hardly bound, and the triton, one experiment
#: below 0.8 GeV, are not).
LIGHT_CALIBRATION = ("3He", "4He", "6Li")
#: The 1σ coverage a calibrated band has.
ONE_SIGMA = 0.6827


def below_carbon(nucleus: Nucleus) -> bool:
    """Whether ``nucleus`` lies below ``CALIBRATED_FROM_A``, where a zero-shot band has the light nuclei's width."""
    return nucleus.A < CALIBRATED_FROM_A


def calibration_pool(nucleus: Nucleus) -> tuple[tuple[str, ...], float]:
    """The nuclei a zero-shot ``nucleus``' s₀ is calibrated on, and the shipped s₀ of that pool."""
    return (LIGHT_CALIBRATION, S0_LIGHT) if below_carbon(nucleus) else (CALIBRATION, S0)


class ZeroShot:
    """What a structured model of several nuclei needs to widen a zero-shot nucleus' band: the
    trained nuclei and the run's seed."""

    def __init__(self, trained: list[Nucleus], seed: int, s0: float = S0, s0_light: float = S0_LIGHT):
        self.trained, self.seed, self.s0, self.s0_light = list(trained), seed, s0, s0_light

    def base_width(self, target: Nucleus) -> float:
        """s₀ for ``target``: ``s0``, or ``s0_light`` below carbon (``below_carbon``)."""
        return self.s0_light if below_carbon(target) else self.s0

    def growth(self, target: Nucleus) -> float:
        """1 + d, d how far A^{1/3} of ``target`` lies outside the trained nuclei's range (0 inside)."""
        thirds = [n.A ** (1 / 3) for n in self.trained]
        a = target.A ** (1 / 3)
        return 1 + max(min(thirds) - a, a - max(thirds), 0.0)

    def width(self, target: Nucleus) -> float:
        """s = s₀ (1 + d) for a nucleus not trained on, 0 for a trained one (module docstring)."""
        return 0.0 if target in self.trained else self.base_width(target) * self.growth(target)

    def set_base_width(self, target: Nucleus, s0: float) -> None:
        """Set the s₀ that ``target`` gets (``s0`` or, below carbon, ``s0_light``): a calibrated width."""
        if below_carbon(target):
            self.s0_light = s0
        else:
            self.s0 = s0

    def factors(self, target: Nucleus, members: int) -> np.ndarray:
        """exp(s z_k) / m for members k = 0 … K−1, [K]: the draws from (seed, k, Z, A) only, their
        spread over the K members scaled to 1, the factors' mean to 1 (module docstring)."""
        s = self.width(target)
        if s == 0:
            return np.ones(members)
        z = np.array([(-1) ** k * np.random.default_rng([self.seed, k // 2, target.Z, target.A]).standard_normal()
                      for k in range(members)])
        if members > 1:
            z /= z.std(ddof=1)
        factors = np.exp(s * z)
        return factors / factors.mean()


def member_factors(model, nucleus: Nucleus | None) -> np.ndarray:
    """The factor of each row of a model's member predictions, [K·S, 1] (S dropout samples per
    member for model B, sample-major as ``predict.member_predictions`` stacks them): exp(s z_k) / m for
    a zero-shot nucleus of a structured model of several nuclei, else ones."""
    rows = model.draws
    if model.zero_shot is None or nucleus is None:
        return np.ones((rows, 1))
    return np.tile(model.zero_shot.factors(nucleus, model.members), rows // model.members)[:, None]


class Residuals(NamedTuple):
    """A zero-shot nucleus' points and the prediction of a model trained without it: data, the
    members' mean and own spread (no factor) and the error Δσ, in nb/sr/GeV, and the growth 1 + d
    of its factor's width (``ZeroShot.width`` / s₀)."""

    data: np.ndarray
    mean: np.ndarray
    spread: np.ndarray
    error: np.ndarray
    growth: float = 1.0


def coverage(r: Residuals, s0: float) -> float:
    """The 1σ coverage of a zero-shot nucleus' points with the factor's width s = s₀ (1 + d) added to
    the members' spread: the share with |σ − mean| ≤ √(spread² + (s · mean)² + Δσ²), as
    ``enxs.metrics`` counts it."""
    width = s0 * r.growth
    return float(np.mean(np.abs(r.data - r.mean) <= np.sqrt(r.spread**2 + (width * r.mean) ** 2 + r.error**2)))


def calibrate(residuals: list[Residuals]) -> float:
    """The s₀ at which the 1σ coverage of zero-shot nuclei, averaged over the nuclei (one vote each),
    is ``ONE_SIGMA``; 0 if they are covered without a factor."""
    def mean_coverage(s0: float) -> float:
        return float(np.mean([coverage(r, s0) for r in residuals]))

    low, high = 0.0, 1.0
    if mean_coverage(low) >= ONE_SIGMA:
        return 0.0
    for _ in range(40):  # bisection: coverage grows with the width
        low, high = ((low + high) / 2, high) if mean_coverage((low + high) / 2) < ONE_SIGMA else (low, (low + high) / 2)
    return high
