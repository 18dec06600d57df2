"""The uncertainty of carrying a model of several nuclei to a nucleus it was not trained on.

The structured model's learned corrections are the same functions for every nucleus; what no
member can know is how a nucleus without data departs from the nuclei that have data. The spread
of the members alone covers too little of such a nucleus: left out one at a time (fast preset,
10 members, all points), the validation nuclei 27Al and 56Fe have 1σ coverage of 56% and 49%.
A zero-shot prediction of the structured model therefore carries one more factor per member,

    σ_k, R_L,k, R_T,k  ×  exp(s z_k),   z_k = ±ζ_j, ζ_j ~ N(0, 1) drawn from (seed, j = ⌊k/2⌋, Z, A),
    s = s₀ (1 + d),    d = how far A^{1/3} lies outside the trained nuclei's range (0 inside),

the same for σ and both responses (a nucleus' overall strength is what is unknown). Members come
in pairs with opposite signs (+ for even k), so that the band widens without moving the ensemble
mean (by s²/2 at most, 0.3%), where independent draws would move it by s/√K. s₀ = 0.08
(``S0``) brings the 1σ coverage of the validation nuclei's points to 71% and 67% (pooled 68%);
the growth with d is the project's choice (no nucleus beyond the trained range has data to
measure it with). Trained nuclei get no factor. Measured in docs/method.md.
"""

from __future__ import annotations

import numpy as np

from enxs.nuclei import Nucleus

#: s₀: the relative width of a zero-shot nucleus' factor inside the trained range (module docstring).
S0 = 0.08


class ZeroShot:
    """What a structured model of several nuclei needs to widen a zero-shot nucleus' band: the
    trained nuclei and the run's seed."""

    def __init__(self, trained: list[Nucleus], seed: int):
        self.trained, self.seed = list(trained), seed

    def width(self, target: Nucleus) -> float:
        """s = s₀ (1 + d) for a nucleus not trained on, 0 for a trained one (module docstring)."""
        if target in self.trained:
            return 0.0
        thirds = [n.A ** (1 / 3) for n in self.trained]
        a = target.A ** (1 / 3)
        return S0 * (1 + max(min(thirds) - a, a - max(thirds), 0.0))

    def factors(self, target: Nucleus, members: int) -> np.ndarray:
        """exp(s z_k) for members k = 0 … K−1, [K]; z_k from (seed, k, Z, A) only (module docstring)."""
        s = self.width(target)
        if s == 0:
            return np.ones(members)
        z = [(-1) ** k * np.random.default_rng([self.seed, k // 2, target.Z, target.A]).standard_normal()
             for k in range(members)]
        return np.exp(s * np.asarray(z))


def member_factors(model, nucleus: Nucleus | None) -> np.ndarray:
    """The factor of each row of a model's member predictions, [K·S, 1] (S dropout samples per
    member for model B, sample-major as ``predict.member_predictions`` stacks them): exp(s z_k) for
    a zero-shot nucleus of a structured model of several nuclei, else ones."""
    rows = model.members * max(model.config.mc_samples, 1)
    if model.zero_shot is None or nucleus is None:
        return np.ones((rows, 1))
    return np.tile(model.zero_shot.factors(nucleus, model.members), rows // model.members)[:, None]
