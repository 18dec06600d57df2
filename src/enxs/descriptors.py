"""How a model sees the nucleus: Fermi-gas descriptors, the superscaling variable ψ′, and
the network inputs and output scale of each choice (``model.nucleus_inputs``).

Descriptors (per nucleus): Fermi momentum k_F and separation (shift) energy E_s of Moniz et
al., Phys. Rev. Lett. 26, 445 (1971), fitted to quasielastic electron scattering:

    6Li 169/17, 12C 221/25, 24Mg 235/32, 40Ca 251/28, 58Ni 260/36, 89Y 254/39,
    119Sn 260/42, 181Ta 265/42, 208Pb 265/44   (MeV)

Rule for nuclei not in the table (the project's choice): linear interpolation in A^{1/3}
between the neighbouring entries; below 6Li (2H, 3H, 3He, 4He) the 6Li–12C line
continued (k_F ≈ 108, 128, 128, 144 MeV; E_s ≈ 8, 11, 11, 13 MeV); E_s at least 2 MeV;
above 208Pb the 208Pb values. Such values are *extrapolated* and said to be so.

ψ′, the superscaling variable: ``enxs.superscaling`` (zero at the quasielastic peak, ±1 at the
edges of the Fermi-gas response for every nucleus).

Choices of ``model.nucleus_inputs``, one ``NucleusView`` each in ``VIEWS``:

- ``none``: one nucleus; the five published inputs; σ = y · S(E, θ).
- ``shape``: the five inputs plus (Z/A, A^{1/3}, k_F [GeV]); σ = y · S · A/12.
- ``psi``: the five inputs plus ψ′ and (Z/A, A^{1/3}, k_F, E_s [GeV]); σ = y · S · A/12.
- ``scaling``: as ``psi``, and σ = y · S · (A/12) · (k_F,C / k_F), the Fermi-gas scaling of
  the quasielastic peak height.
- ``physics``: the five inputs plus the physical (Z, N, k_F [GeV], E_s [GeV], V̄ [GeV], the
  Coulomb potential of ``enxs.coulomb``) that the structured model (``enxs.structured``) uses
  in its formulas; σ = y · S, per nucleus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from enxs import coulomb, kinematics, superscaling
from enxs.nuclei import Nucleus

#: Moniz et al. (1971): nucleus → (k_F, E_s) in MeV.
MONIZ = {"6Li": (169, 17), "12C": (221, 25), "24Mg": (235, 32), "40Ca": (251, 28), "58Ni": (260, 36),
         "89Y": (254, 39), "119Sn": (260, 42), "181Ta": (265, 42), "208Pb": (265, 44)}
_BY_A = sorted((Nucleus.parse(name).A, value) for name, value in MONIZ.items())
CARBON_KF = 0.221  # GeV
N_KINEMATIC = 5


@dataclass(frozen=True)
class Descriptors:
    """A nucleus as the network sees it: k_F and E_s in GeV, Z/A, A^{1/3}; ``tabulated``
    False where k_F, E_s come from the interpolation rule rather than the table."""

    nucleus: Nucleus
    k_fermi: float
    e_shift: float
    tabulated: bool

    @property
    def z_over_a(self) -> float:
        return self.nucleus.Z / self.nucleus.A

    @property
    def a_third(self) -> float:
        return self.nucleus.A ** (1 / 3)


def describe(nucleus: Nucleus) -> Descriptors:
    """The descriptors of any nucleus (module docstring: table, then the interpolation rule)."""
    if nucleus.name in MONIZ:
        kf, es = MONIZ[nucleus.name]
        return Descriptors(nucleus, kf / 1000, es / 1000, True)
    a, table = nucleus.A, _BY_A
    if a >= table[-1][0]:
        kf, es = table[-1][1]
    else:
        i = max(1, next(j for j, (aj, _) in enumerate(table) if aj > a))  # a < table[0]: the first segment
        (a0, v0), (a1, v1) = table[i - 1], table[i]
        t = (a ** (1 / 3) - a0 ** (1 / 3)) / (a1 ** (1 / 3) - a0 ** (1 / 3))
        kf, es = (v0[k] + t * (v1[k] - v0[k]) for k in (0, 1))
    return Descriptors(nucleus, kf / 1000, max(es, 2.0) / 1000, False)


def psi_prime(energy, theta, omega, k_fermi, e_shift) -> np.ndarray:
    """The superscaling variable ψ′ (``enxs.superscaling.psi_prime``) at E [GeV], θ [deg], ω [GeV]."""
    q = torch.as_tensor(kinematics.three_momentum_transfer(energy, theta, omega))
    return superscaling.psi_prime(q, torch.tensor(np.asarray(omega, float)), k_fermi, e_shift).numpy()


class NucleusView:
    """How a model sees the nucleus (``model.nucleus_inputs``): the number of its inputs beyond the
    five published ones, their values at each point, and the factor that multiplies y · S(E, θ).
    This one is ``none``: one nucleus, nothing added, factor 1. A new view is a subclass here and its
    name in ``VIEWS`` (and in ``config.NUCLEUS_INPUTS``)."""

    extra = 0

    def columns(self, energy: np.ndarray, theta: np.ndarray, omega: np.ndarray, nucleus: Nucleus) -> np.ndarray:
        """[N, extra] inputs at the points (E [GeV], θ [deg], ω [GeV])."""
        return np.zeros((len(energy), 0))

    def factor(self, nucleus: Nucleus | None) -> float:
        return 1.0


class Shape(NucleusView):
    """(Z/A, A^{1/3}, k_F [GeV]); σ = y · S · A/12 (per nucleon, in carbon units)."""

    extra = 3

    def constants(self, d: Descriptors) -> list[float]:
        return [d.z_over_a, d.a_third, d.k_fermi]

    def columns(self, energy, theta, omega, nucleus):
        return np.tile(self.constants(describe(nucleus)), (len(energy), 1))

    def factor(self, nucleus):
        return nucleus.A / 12


class Psi(Shape):
    """ψ′ at each point, then (Z/A, A^{1/3}, k_F, E_s [GeV]); σ = y · S · A/12."""

    extra = 5

    def columns(self, energy, theta, omega, nucleus):
        d = describe(nucleus)
        psi = psi_prime(energy, theta, omega, d.k_fermi, d.e_shift)[:, None]
        return np.concatenate([psi, np.tile([*self.constants(d), d.e_shift], (len(energy), 1))], axis=1)


class Scaling(Psi):
    """As ``Psi``, and σ = y · S · (A/12) · (k_F,C/k_F): the Fermi gas's peak height."""

    def factor(self, nucleus):
        return nucleus.A / 12 * CARBON_KF / describe(nucleus).k_fermi


class Physics(NucleusView):
    """(Z, N, k_F [GeV], E_s [GeV], V̄ [GeV]) that the structured model uses in its formulas; factor 1."""

    extra = 5

    def columns(self, energy, theta, omega, nucleus):
        d = describe(nucleus)
        physical = [nucleus.Z, nucleus.A - nucleus.Z, d.k_fermi, d.e_shift, coulomb.potential(nucleus)]
        return np.tile(physical, (len(energy), 1))


VIEWS: dict[str, NucleusView] = {"none": NucleusView(), "shape": Shape(), "psi": Psi(), "scaling": Scaling(),
                                 "physics": Physics()}


def inputs(mode: str, energy, theta, omega, nucleus: Nucleus | None) -> np.ndarray:
    """Network inputs [N, 5 + extra] (float64): the published five, then the nucleus' own."""
    energy, theta, omega = (np.ravel(a) for a in np.broadcast_arrays(*(np.asarray(v, float)
                                                                       for v in (energy, theta, omega))))
    base = kinematics.network_features(energy, theta, omega)
    if mode == "none":
        return base
    return np.concatenate([base, VIEWS[mode].columns(energy, theta, omega, nucleus)], axis=1)


def nucleus_factor(mode: str, nucleus: Nucleus | None) -> float:
    """What multiplies y · S(E, θ) for the view ``mode`` (``NucleusView.factor``)."""
    return VIEWS[mode].factor(nucleus)


def table_inputs(mode: str, table) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [N, 5 + extra] and output scale S · factor [N] (nb/sr/GeV) for a table of
    measured points of one or several nuclei (columns E, theta, omega, Z, A, scale)."""
    features = np.zeros((len(table), N_KINEMATIC + VIEWS[mode].extra))
    scale = table.scale.to_numpy(float).copy()
    for (z, a), rows in table.groupby(["Z", "A"]).indices.items():
        nucleus = Nucleus(int(z), int(a)) if mode != "none" else None
        part = table.iloc[rows]
        features[rows] = inputs(mode, part.E.to_numpy(), part.theta.to_numpy(), part.omega.to_numpy(), nucleus)
        scale[rows] *= nucleus_factor(mode, nucleus)
    return features, scale
