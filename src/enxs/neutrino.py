"""Neutrino cross sections on any nucleus from an electron model: charged-current quasielastic
d²σ/dT dcos θ and σ(E_ν) with ensemble bands (the physics: ``enxs.ccqe``).

Every member's learned scaling function, put into the Fermi-gas kernel of ``enxs.ccqe`` in place of
the Fermi gas's own, gives that member's neutrino cross section: the band is the spread of the
electron model's scaling function. Which one (``modelscaling.scaling_choice``): by default (``LT``) the
physics-structured model's f_L = k_F R_L/G_L in the longitudinal and its transverse quasielastic
f_T = k_F R_T^QE/G_T (apart from its inelastic term) in the transverse responses, vector and axial
(``ccqe.Kernel.longitudinal``; SuSAv2's split); ``T``: f_T in every response (SuSA, Amaro et al., PRC 71,
015501 (2005)); ``L``: f_L everywhere, the only one of a response network (its R_T holds the inelastic
part). M_A is a parameter (``axial_mass``); with ``axial_mass_std`` each member draws its own.
The band never includes the vector form factors' uncertainty or what is not in the model
(``neutrinorequest.NOT_INCLUDED``). Each point of a model's prediction carries the share of its cross section that
the electron data do not constrain (``unconstrained_rule``): from (q, ω) where no data at several angles constrain the
responses (``coverage.responses_unconstrained``), and what goes through f_T where the quasielastic part is
below ``modelscaling.QE_SHARE_MIN`` of the model's electron R_T (the data fix R_T there, not how it divides between the
quasielastic tail and the inelastic term); it is flagged from ``neutrinorequest.FLAG_SHARE`` on.

Cross sections in cm² (d²σ/dT dcos θ in cm²/GeV), per active nucleon (neutrons for ν, protons for
ν̄; MiniBooNE's and most measurements' convention) or per nucleus; energies in GeV.

With ``transverse_enhancement`` f_T is multiplied by the transverse enhancement TE(q) the model's electron R_T shows
below the pion threshold (``modelscaling.transverse_enhancement``): the two-nucleon strength data such as MiniBooNE's
count as signal, with the quasielastic shape. Off by default: a CCQE prediction (or GENIE's QE tensor) is one-nucleon
knockout.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from enxs import ccqe, coverage, freeproton, kinematics, superscaling
from enxs.descriptors import describe
from enxs.flux import Flux
from enxs.leptonbins import NeutrinoError, check_points
from enxs.modelscaling import QE_SHARE_MIN, scaling_members
from enxs.neutrinorequest import FLAG_SHARE, Request, converted, metadata, setup, unconstrained_rule
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, MemberBand

#: A flux-averaged σ takes σ(E_ν) every FLUX_STEP GeV, and every FLUX_RELATIVE_STEP · E_ν above 2 GeV, linear between
#: (docs/method.md: within 0.03% of σ at every flux node).
FLUX_STEP = 0.05
FLUX_RELATIVE_STEP = 0.025
#: (E_ν, T, cos θ) points per pass of d²σ/dT dcos θ: lepton points go through in blocks of POINT_BLOCK / (flux
#: energies), so that each member tensor [K, N] stays near 25 MB for any binning and flux.
POINT_BLOCK = 2**16
#: Gauss–Legendre points per side of a cell when averaging over cells: 3 × 3 give MiniBooNE's flux and bins within
#: 0.02% of 24 × 24 (median; docs/method.md, "Integration"); wider cells at a few GeV need more.
CELL_POINTS = 3


@dataclass
class NeutrinoPrediction(MemberBand):
    """Members' cross sections [K, N] per point (``points``: a frame of the kinematics), in ``unit``;
    their band (``MemberBand``); of a model, each point's share of the mean from (q, ω) its electron data
    do not constrain (``unconstrained_share``, module docstring) and ``outside_coverage`` (bool)."""

    points: pd.DataFrame
    members: np.ndarray
    unit: str
    metadata: dict = field(default_factory=dict)
    unconstrained_share: np.ndarray | None = None
    outside_coverage: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        q16, q84 = self.quantiles()
        flags = {} if self.outside_coverage is None else {"unconstrained_share": self.unconstrained_share,
                                                          "outside_coverage": self.outside_coverage}
        return self.points.assign(**{f"{k}_{self.unit}": v for k, v in
                                     (("mean", self.mean), ("std", self.std), ("q16", q16), ("q84", q84))}, **flags)


def _unconstrained(ensemble: Ensemble, nucleus: Nucleus, k: ccqe.Kernel, part: torch.Tensor,
                   transverse: torch.Tensor, share: torch.Tensor | None) -> torch.Tensor:
    """The members' mean contribution [N] (of ``part`` [K, N], at ``k``'s points) from (q, ω) whose electron data do
    not constrain what the neutrino cross section takes there: all of it where no data at several angles constrain the
    responses (``coverage.responses_unconstrained``, the rule of ``enxs.responses``); its part through f_T
    (``transverse``) where the quasielastic ``share`` of the model's electron R_T is below ``QE_SHARE_MIN``."""
    settings = ensemble.training_settings(nucleus, responses=True)
    mask = torch.as_tensor(coverage.responses_unconstrained(k.q.numpy(), k.omega.numpy(), settings, nucleus.A)[0])
    loose = part.mean(0) * mask
    if share is not None:
        loose = loose + transverse.mean(0) * ((share < QE_SHARE_MIN) & ~mask)
    return loose


def _flagged(prediction: NeutrinoPrediction, r: Request, unconstrained: np.ndarray) -> NeutrinoPrediction:
    """``prediction`` with its points' unconstrained share of the mean and their flags (none for a baseline),
    warning (``Ensemble.flag_coverage``) about the flagged points."""
    if r.ensemble is None:
        return prediction
    mean = prediction.members.mean(0)
    share = np.divide(unconstrained, mean, out=np.zeros_like(mean), where=mean > 0).clip(0, 1)
    outside = share >= FLAG_SHARE
    r.ensemble.flag_coverage(r.target, outside, f"take {FLAG_SHARE:.0%} or more of their cross section "
                                                f"{unconstrained_rule(r.which)} (unconstrained_share)", stacklevel=4)
    prediction.unconstrained_share, prediction.outside_coverage = share, outside
    return prediction


def _live(k: ccqe.Kernel) -> torch.Tensor:
    """Points that contribute: allowed, and not in the far tail of the scaling function, where
    f₀(ψ′) < ``superscaling.F0_FLOOR`` = 1e-8 (times at most e^{C_MAX} the model's f is below 1e-7 of its peak)."""
    return (k.factor > 0) & superscaling.above_floor(k.psi)


def _energies(energies, flux: Flux | None) -> tuple[np.ndarray, np.ndarray]:
    """The neutrino energies [GeV] asked for (checked; weights 1) or the flux's energies and weights: one of them."""
    if (energies is None) == (flux is None):
        raise NeutrinoError("give neutrino energies or a flux, not both or neither")
    if flux is not None:
        return flux.energy, flux.weight
    try:
        energies = np.ravel(np.asarray(energies, float))
    except (TypeError, ValueError):
        raise NeutrinoError(f"--energy: not numbers ({energies!r})") from None
    if energies.size == 0:
        raise NeutrinoError("--energy: no neutrino energy given")
    if not np.all(np.isfinite(energies)) or (energies <= 0).any():
        raise NeutrinoError("--energy: neutrino energies must be finite and > 0 GeV")
    return energies, np.ones(len(energies))


def double_differential(ensemble: Ensemble | str | None, nucleus: str | Nucleus | None, t_lepton, cos_theta, *,
                        flavor: str = "numu", energy: float | None = None, flux: Flux | None = None,
                        axial_mass: float = ccqe.AXIAL_MASS, per: str = "nucleon",
                        cell: tuple | None = None, scaling: str | None = None, pauli: bool = True,
                        axial_mass_std: float = 0.0, coulomb: bool = True, transverse_enhancement: bool = False,
                        cell_points: int = CELL_POINTS, hydrogen: int = 0,
                        on_pass: Callable[[int, int], None] | None = None) -> NeutrinoPrediction:
    """CCQE d²σ/dT dcos θ [cm²/GeV] at the lepton's kinetic energy T [GeV] and cos θ (broadcast),
    at one neutrino ``energy`` [GeV] or averaged over a ``flux``; ``cell`` = (ΔT [GeV], Δcos θ), numbers or
    one per point, averages each point over the cell around it (``cell_points`` × ``cell_points`` Gauss–Legendre
    points), as binned data are.
    ``ensemble`` None gives a baseline by the same code (one member; ``scaling_choice``); a name or path loads it.
    ``nucleus`` None: a one-nucleus model's own. ``axial_mass_std`` > 0 gives each member its own M_A
    (``ccqe.axial_masses``): the band then holds M_A's uncertainty too. ``coulomb``: the outgoing lepton's Coulomb
    distortion (``enxs.coulomb``; False: a plane wave). ``transverse_enhancement``: f_T times TE(q) (module
    docstring). ``hydrogen``: free protons per nucleus added (``enxs.freeproton``; CH 1, water 2): per nucleus is
    then per molecule, per nucleon per active nucleon of the molecule; at one ``energy`` they need cells.
    ``on_pass`` (passes done, passes): before each pass over a block of points (``POINT_BLOCK``) at one cell point,
    and once when all are done."""
    r = setup(ensemble, nucleus, flavor, per, scaling, axial_mass, axial_mass_std, pauli, coulomb,
              transverse_enhancement, hydrogen)
    lepton = r.lepton
    t_lepton, cos_theta = (np.ravel(a) for a in kinematics.as_points(t_lepton=t_lepton, cos_theta=cos_theta))
    if cell is not None:
        cell = tuple(np.broadcast_to(np.asarray(v, float), t_lepton.shape) for v in cell)
    check_points(t_lepton, cos_theta, cell)
    if energy is not None and np.ndim(energy) != 0:
        raise NeutrinoError(f"--energy {energy!r}: one neutrino energy [GeV] for d²σ/dT dcos θ (several: "
                            f"total_cross_section, or a flux)")
    energies, weights = _energies(energy, flux)
    energy = None if flux is not None else float(energies[0])  # GeV
    forbidden = t_lepton + r.current.lepton_mass >= energies.max()
    if forbidden.any():
        highest = " (the highest of the flux)" if flux else ""
        warnings.warn(f"{int(forbidden.sum())} of {len(t_lepton)} point(s) have T_{lepton} + m_{lepton} ≥ E_nu = "
                      f"{energies.max():g} GeV{highest}: kinematically forbidden, the cross section is 0 there",
                      stacklevel=2)
    offsets, cell_weights = [(0.0, 0.0)], [1.0]
    if cell is not None:
        if not (isinstance(cell_points, int | np.integer) and 1 <= cell_points <= 32):
            raise NeutrinoError(f"--cell-points {cell_points}: choose a whole number from 1 to 32")
        x, w = np.polynomial.legendre.leggauss(int(cell_points))
        offsets = [(a * cell[0] / 2, b * cell[1] / 2) for a in x for b in x]
        cell_weights = [wa * wb / 4 for wa in w for wb in w]
    total = torch.zeros((1, len(t_lepton)), dtype=torch.float64)
    unconstrained = torch.zeros(len(t_lepton), dtype=torch.float64)
    rows = max(1, POINT_BLOCK // len(energies))  # lepton points per pass: memory bounded for any binning and flux
    passes, done = -(-len(t_lepton) // rows) * len(offsets), 0
    for first in range(0, len(t_lepton), rows):
        block = slice(first, first + rows)
        points = np.arange(len(t_lepton))[block]
        point = np.broadcast_to(points, (len(energies), len(points))).ravel()
        for (dt, dc), cw in zip(offsets, cell_weights, strict=True):
            if on_pass is not None:
                on_pass(done, passes)
            done += 1
            t = t_lepton[block] + np.broadcast_to(dt, t_lepton.shape)[block]
            c = np.clip(cos_theta[block] + np.broadcast_to(dc, t_lepton.shape)[block], -1.0, 1.0)
            where = (energies[:, None], t[None, :], c[None, :])
            k = r.kernel(*where)
            live = _live(k).ravel()
            if not live.any():
                continue
            weight = torch.as_tensor(np.broadcast_to(weights[:, None], k.factor.shape).ravel()[live.numpy()] * cw)
            part, loose = _members(r, k, live, where)
            part = part * weight
            if len(part) != len(total):
                total = total.expand(len(part), -1).clone()
            index = torch.as_tensor(point[live.numpy()])
            total.index_add_(1, index, part)
            unconstrained.index_add_(0, index, loose * weight)
    if on_pass is not None:
        on_pass(passes, passes)
    frame = pd.DataFrame({f"T_{lepton}_GeV": t_lepton, f"cos_theta_{lepton}": cos_theta,
                          **({} if cell is None else {f"dT_{lepton}_GeV": cell[0], f"dcos_theta_{lepton}": cell[1]})})
    meta = metadata(r, f"d2sigma/dT_{lepton}/dcos(theta_{lepton}) [cm^2/GeV]"
                    + (f", averaged over the flux {flux.source}" if flux else f" at E_nu = {energy:g} GeV")
                    + (f", each point averaged over its cell (dT_{lepton}_GeV, dcos_theta_{lepton}) with "
                       f"{cell_points} x {cell_points} Gauss-Legendre points" if cell else ""))
    protons = freeproton.members(t_lepton, cos_theta, r.current, r.axial_masses, energy=energy, flux=flux,
                                 cell=cell) if r.hydrogen else None
    members = np.clip(converted(r, total.numpy(), protons), 0.0, None)
    return _flagged(NeutrinoPrediction(frame, members, "cm2_per_GeV", meta), r, converted(r, unconstrained.numpy()))


def total_cross_section(ensemble: Ensemble | str | None, nucleus: str | Nucleus | None, energies=None, *,
                        flux: Flux | None = None, flavor: str = "numu", axial_mass: float = ccqe.AXIAL_MASS,
                        per: str = "nucleon", scaling: str | None = None, pauli: bool = True,
                        nodes: tuple[int, int] = (128, 64), axial_mass_std: float = 0.0,
                        coulomb: bool = True, transverse_enhancement: bool = False, hydrogen: int = 0,
                        on_energy: Callable[[int, int], None] | None = None) -> NeutrinoPrediction:
    """σ(E_ν) [cm²] at the neutrino energies [GeV], or with ``flux`` its flux average ⟨σ⟩ = ∫Φσ/∫Φ (one row,
    at the flux's mean energy, over its energies and weights): d²σ/dT dcos θ integrated by ``ccqe.total_rule``
    with ``nodes`` (q, ω) points. ``axial_mass_std``, ``coulomb``, ``transverse_enhancement``, ``hydrogen``: as
    ``double_differential``; ``on_energy`` (energies done, energies) after each energy."""
    r = setup(ensemble, nucleus, flavor, per, scaling, axial_mass, axial_mass_std, pauli, coulomb,
              transverse_enhancement, hydrogen)
    if not (len(nodes) == 2 and all(isinstance(n, int | np.integer) and n >= 8 for n in nodes)):
        raise NeutrinoError(f"nodes {nodes}: two whole numbers ≥ 8 (Gauss–Legendre points along q and ω)")
    energies = _energies(energies, flux)[0]
    if flux is not None:  # σ(E_ν) is smooth: on a grid, interpolated to the flux's energies below
        energies = _sigma_nodes(energies.min(), energies.max())
    d = describe(r.target)
    rows, unconstrained = [], []
    for i, e_nu in enumerate(energies):
        t, c, w = ccqe.total_rule(e_nu, r.current.lepton_mass, d.k_fermi, d.e_shift, nodes)
        where = (e_nu, t, c)
        k = r.kernel(*where)
        live = _live(k)
        if live.any():
            part, loose = _members(r, k, live, where)
            weight = torch.as_tensor(w)[live]
            rows.append((part * weight).sum(-1).numpy())
            unconstrained.append(float((loose * weight).sum()))
        else:
            rows.append(np.zeros(1 if r.ensemble is None else r.ensemble.model.draws))
            unconstrained.append(0.0)
        if on_energy is not None:
            on_energy(i + 1, len(energies))
    protons = freeproton.total(energies, r.current, r.axial_masses) if r.hydrogen else None
    members, unconstrained = converted(r, np.stack(rows, axis=1), protons), converted(r, np.asarray(unconstrained))
    frame = pd.DataFrame({"E_nu_GeV": energies})
    if flux is not None:
        along = np.array([np.interp(flux.energy, energies, e) for e in np.eye(len(energies))]) @ flux.weight
        members, unconstrained = members @ along[:, None], np.atleast_1d(unconstrained @ along)
        frame = pd.DataFrame({"flux_mean_E_nu_GeV": [float(flux.weight @ flux.energy)]})
    meta = metadata(r, "sigma(E_nu) [cm^2]" + (f", averaged over the flux {flux.source}" if flux else ""))
    return _flagged(NeutrinoPrediction(frame, members, "cm2", meta), r, unconstrained)


def flavor_ratio(numerator: NeutrinoPrediction, denominator: NeutrinoPrediction) -> NeutrinoPrediction:
    """σ(numerator)/σ(denominator) member by member at the same points, e.g. ν_e/ν_μ from two ``total_cross_section``
    calls of one model with the same settings: what a member gives both (its scaling functions, a zero-shot
    nucleus' factor, its drawn M_A) cancels, so the band is the ratio's own, far narrower than either σ's. NaN where a
    member's denominator is 0 (below its threshold; said in a warning); flagged where either cross section is."""
    if not (numerator.points.equals(denominator.points) and numerator.members.shape == denominator.members.shape):
        raise NeutrinoError("a ratio needs both cross sections at the same points from the same members")
    below = (denominator.members <= 0).any(0)
    ratio = np.divide(numerator.members, denominator.members, out=np.full(numerator.members.shape, np.nan),
                      where=~below)
    names = [m["flavor"] for m in (numerator.metadata, denominator.metadata)]
    if below.any():
        where = numerator.points.iloc[np.flatnonzero(below), 0]
        warnings.warn(f"sigma({names[1]}) is 0 (below its threshold) at {where.name} = "
                      f"{', '.join(f'{v:g}' for v in where)}: the ratio is NaN there", stacklevel=2)
    meta = {**numerator.metadata, "flavor": f"{names[0]}/{names[1]}",
            "quantity": f"sigma({names[0]})/sigma({names[1]}) of charged-current quasielastic scattering, member by "
                        "member (dimensionless)",
            "band": "spread of the members' ratios (what a member gives both flavours cancels); not included: the "
                    "form factors' uncertainties (vector, axial, pseudoscalar, second-class currents), radiative "
                    "corrections"}
    out = NeutrinoPrediction(numerator.points, ratio, "ratio", meta)
    if numerator.outside_coverage is not None:
        out.unconstrained_share = np.maximum(numerator.unconstrained_share, denominator.unconstrained_share)
        out.outside_coverage = numerator.outside_coverage | denominator.outside_coverage
    return out


def _sigma_nodes(low: float, high: float) -> np.ndarray:
    """Where a flux-averaged σ takes σ(E_ν) [GeV], from ``low`` to at least ``high``: steps of FLUX_STEP, or of
    FLUX_RELATIVE_STEP · E_ν where that is longer (σ flattens as E_ν grows)."""
    nodes = [low]
    while nodes[-1] < high:
        nodes.append(nodes[-1] + max(FLUX_STEP, FLUX_RELATIVE_STEP * nodes[-1]))
    return np.asarray(nodes)


def _members(r: Request, k: ccqe.Kernel, live: torch.Tensor, where: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's cross section at ``k``'s live points [K, N] (a baseline's [1, N]): its kernel (with drawn
    axial masses its own, at ``where`` = (E_ν, T, cos θ)) times its scaling function (``LT``: f_L in the
    longitudinal, f_T in the transverse part); and the members' mean of it from (q, ω) the electron data do not
    constrain [N] (``_unconstrained``; 0 for a baseline)."""
    live = live.ravel()
    flat = ccqe.Kernel(*(v.ravel()[live] for v in (k.psi, k.factor, k.q, k.omega)))
    kernels = [k] if r.masses is None else [r.kernel(*where, axial_mass=float(m)) for m in r.masses]
    factor = torch.stack([m.factor.ravel()[live] for m in kernels])
    if r.ensemble is None:  # a baseline, by the same code
        f = ccqe.fermi_gas_scaling(flat.psi) if r.which == "RFG" else torch.exp(superscaling.log_f0(flat.psi))
        return factor * f, torch.zeros(len(flat.q), dtype=torch.float64)
    f, share = scaling_members(r.ensemble, r.target, flat, r.which, r.enhancement)
    transverse = factor * f  # the part through f_T: all of it with T
    if r.which == "LT":  # [2, K, N]: f_L, f_T
        longitudinal = torch.stack([m.longitudinal.ravel()[live] for m in kernels])
        transverse = factor * f[1] * (1 - longitudinal)
        f = torch.lerp(f[1], f[0], longitudinal)
    part = factor * f
    return part, _unconstrained(r.ensemble, r.target, flat, part, transverse, share)
