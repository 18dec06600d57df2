"""A neutrino request (``enxs.neutrino``), checked: the flavour, the model and nucleus (with free protons beside it:
``enxs.freeproton``), the scaling functions, the convention, M_A (drawn per member or not), Pauli blocking, the
lepton's Coulomb distortion and the transverse enhancement; the conversion of cross sections per active nucleon of the
nucleus into the request's convention; and what every output says of them (``metadata``).

Conventions: per active nucleon (neutrons for ν, protons for ν̄; with free protons, the molecule's: for ν̄ the nucleus'
protons and the free ones) or per nucleus (with free protons, per molecule: CH, CH₂, H₂O).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from enxs import ccqe, leptonbins
from enxs.coulomb import lepton_potential
from enxs.descriptors import describe
from enxs.leptonbins import NeutrinoError
from enxs.modelscaling import (
    ENHANCEMENT_NOTE,
    QE_SHARE_MIN,
    SCALING_NOTE,
    Enhancement,
    scaling_choice,
    transverse_enhancement,
)
from enxs.nuclei import Nucleus, is_free_nucleon
from enxs.predict import Ensemble

#: flavour (``leptonbins.FLAVORS``) → (the lepton's name, the current).
FLAVORS = {flavor: (lepton, ccqe.Current(mass, sign, "neutron" if sign > 0 else "proton"))
           for flavor, (lepton, mass, sign) in leptonbins.FLAVORS.items()}
#: flavour → its symbol in figures (matplotlib mathtext).
FLAVOR_SYMBOLS = {"numu": r"$\nu_\mu$", "numubar": r"$\bar\nu_\mu$", "nue": r"$\nu_e$", "nuebar": r"$\bar\nu_e$"}
NOT_INCLUDED = ("two-nucleon (2p2h, meson-exchange-current) knockout, pion production and absorption, final-state "
                "interactions beyond what the scaling function holds")
#: What is not included with the transverse enhancement (``enxs.neutrino``'s docstring).
NOT_INCLUDED_ENHANCED = ("two-nucleon knockout beyond the transverse enhancement (its own shape in omega, its "
                         "longitudinal and axial parts as such), pion production and absorption, final-state "
                         "interactions beyond what the scaling function holds")
#: The free protons' cross section (``enxs.freeproton``), as the metadata say it.
FREE_PROTONS = ("Llewellyn Smith's antineutrino p -> l+ n on a proton at rest (the nuclei's form factors and M_A; no "
                "binding, no Coulomb distortion), its line averaged over cells exactly (not at the cell points), its "
                "part of the band from M_A alone; neutrinos have no quasielastic reaction on protons")
#: A point is flagged (``outside_coverage``) when this share of its cross section or more is unconstrained
#: (``unconstrained_rule``; ``enxs.neutrino``'s docstring).
FLAG_SHARE = 0.5


def unconstrained_rule(which: str) -> str:
    """What ``unconstrained_share`` counts with the scaling functions ``which``, in words (``enxs.neutrino``'s
    docstring)."""
    rule = "from (q, omega) where no electron data at several angles constrain the model's responses"
    return rule + (f", or through f_T where the quasielastic part is below {QE_SHARE_MIN:.0%} of the model's "
                   f"electron R_T" if "T" in which else "")


def converted(r: Request, nuclear: np.ndarray, protons: np.ndarray | None = None) -> np.ndarray:
    """Cross sections per active nucleon of the nucleus [K, N] in the request's convention, with the free protons'
    (per proton, [K or 1, N]; none for what the electron data leave unconstrained) added."""
    if r.per == "nucleon" and not r.hydrogen:
        return nuclear
    molecule = nuclear * r.nuclear_active + (r.hydrogen * protons if r.hydrogen and protons is not None else 0.0)
    return molecule / r.active if r.per == "nucleon" else molecule


def flavor_current(flavor: str, option: str = "--flavor") -> ccqe.Current:
    """The charged current of a flavour (``FLAVORS``); for any other a NeutrinoError naming ``option``."""
    leptonbins.lepton_mass(flavor, option)
    return FLAVORS[flavor][1]


@dataclass(frozen=True)
class Request:
    """A neutrino request, checked (``setup``): the model (None: a baseline), the nucleus, the flavour, the scaling
    function (``scaling_choice``), the convention, M_A (and each member's with ``masses``), Pauli blocking, the
    outgoing lepton's Coulomb potential energy ``v_final`` [GeV] (0: a plane wave), the members' transverse
    enhancement (``modelscaling.transverse_enhancement``; None: without) and the free protons per nucleus."""

    ensemble: Ensemble | None
    target: Nucleus
    flavor: str
    which: str
    per: str
    axial_mass: float
    axial_mass_std: float
    masses: np.ndarray | None
    pauli: bool
    v_final: float
    enhancement: Enhancement | None = None
    hydrogen: int = 0

    @property
    def lepton(self) -> str:
        return FLAVORS[self.flavor][0]

    @property
    def current(self) -> ccqe.Current:
        return FLAVORS[self.flavor][1]

    @property
    def axial_masses(self) -> np.ndarray:
        """The members' drawn axial masses [GeV], or the one of all."""
        return np.atleast_1d(self.axial_mass if self.masses is None else self.masses)

    @property
    def nuclear_active(self) -> int:
        """The nucleus' active nucleons: neutrons for ν, protons for ν̄."""
        return self.target.A - self.target.Z if self.current.nucleon == "neutron" else self.target.Z

    @property
    def active(self) -> int:
        """The target's active nucleons: the nucleus', and for ν̄ the free protons."""
        return self.nuclear_active + (self.hydrogen if self.current.nucleon == "proton" else 0)

    def kernel(self, energy, t_lepton, cos_theta, axial_mass: float | None = None) -> ccqe.Kernel:
        """``ccqe.kernel`` of the request at (E_ν, T, cos θ), with its M_A or ``axial_mass`` [GeV]."""
        d = describe(self.target)
        return ccqe.kernel(energy, t_lepton, cos_theta, d.k_fermi, d.e_shift, self.current, self.v_final,
                           axial_mass=self.axial_mass if axial_mass is None else axial_mass, pauli=self.pauli)


def refuse_free_nucleon(nucleus: str | Nucleus | None) -> None:
    """A NeutrinoError for a free nucleon given as the nucleus, pointing to free protons beside a nucleus
    (``hydrogen``); a name that is no nucleus is left to the caller's parsing to name."""
    if is_free_nucleon(nucleus):
        target = Nucleus.parse(nucleus) if isinstance(nucleus, str) else nucleus
        raise NeutrinoError(f"{target.name}: a free nucleon, not a nucleus (the scaling function describes nuclei); "
                            f"for the hydrogen of CH or water give the nucleus and --hydrogen N (CH: --nucleus 12C "
                            f"--hydrogen 1, water: --nucleus 16O --hydrogen 2)")


def setup(ensemble, nucleus, flavor, per, scaling, axial_mass, axial_mass_std, pauli, coulomb,
           enhanced: bool = False, hydrogen: int = 0) -> Request:
    """The request of a ``double_differential`` or ``total_cross_section`` call, checked."""
    current = flavor_current(flavor)
    if not (isinstance(hydrogen, int | np.integer) and hydrogen >= 0):
        raise NeutrinoError(f"--hydrogen {hydrogen}: the free protons (hydrogen atoms) per nucleus, a whole number ≥ 0")
    if per not in ("nucleon", "nucleus"):
        raise NeutrinoError(f"--per {per!r}: choose nucleon (per active nucleon) or nucleus")
    refuse_free_nucleon(nucleus)
    if ensemble is not None:
        ensemble = Ensemble.of(ensemble)
        target = ensemble.target(nucleus)
        ensemble.warn_zero_shot(target, stacklevel=4)  # the caller of double_differential or total_cross_section
    elif nucleus is None:
        raise NeutrinoError("a baseline without a model needs the nucleus, e.g. 12C")
    else:
        target = nucleus if isinstance(nucleus, Nucleus) else Nucleus.parse(nucleus)
    masses = ccqe.axial_masses(None if ensemble is None else ensemble.model.draws, axial_mass, axial_mass_std)
    which = scaling_choice(ensemble, scaling)
    if enhanced and ensemble is None:
        raise NeutrinoError("the transverse enhancement is the model's: a baseline has none")
    request = Request(ensemble, target, flavor, which, per, axial_mass, axial_mass_std, masses, pauli,
                       lepton_potential(target, current.sign) if coulomb else 0.0, hydrogen=int(hydrogen))
    if request.nuclear_active == 0:
        raise NeutrinoError(f"{target.name} has no {current.nucleon}s: no {flavor} quasielastic scattering")
    if enhanced:
        request = replace(request, enhancement=transverse_enhancement(ensemble, target, which))
    return request


def metadata(r: Request, quantity: str) -> dict:
    """What a file of the request's ``quantity`` says of it: the model's provenance, the Coulomb correction, the target
    and convention, the physics, the band, what is not included and what ``unconstrained_share`` counts."""
    meta = r.ensemble.provenance(r.target) if r.ensemble is not None else {"model": f"baseline ({r.which})",
                                                                          "nucleus": r.target.name}
    sign = r.current.sign
    meta["coulomb_correction"] = (
        f"outgoing lepton: modified effective-momentum approximation (Engel 1998), potential energy "
        f"{-sign * r.v_final * 1000:+.2f} MeV in the final nucleus (Z = {r.target.Z + sign}); q from its local "
        "momentum, cross section x k_eff E_eff/(k E)" if r.v_final else "none: the outgoing lepton is a plane wave")
    d = describe(r.target)
    molecule = f"{r.target.name} + {r.hydrogen} H"
    if r.hydrogen:
        meta["target"] = f"{molecule}: the nucleus and {r.hydrogen} free proton(s)"
        convention = (f"per active nucleon of {molecule} (its {r.active} {r.current.nucleon}s)" if r.per == "nucleon"
                      else f"per {molecule} molecule")
    else:
        convention = f"per active nucleon (per {r.current.nucleon})" if r.per == "nucleon" else "per target nucleus"
    return {**meta, "quantity": f"charged-current quasielastic {r.flavor} {quantity}", "flavor": r.flavor,
            "convention": convention,
            "physics": f"superscaling: {SCALING_NOTE[r.which]} in the relativistic "
                       f"Fermi-gas CCQE kernel (k_F = {d.k_fermi:.3f} GeV, E_s = {d.e_shift:.3f} GeV); vector form "
                       f"factors by CVC (Kelly 2004), axial dipole g_A = {ccqe.G_AXIAL}, M_A = {r.axial_mass:g} GeV, "
                       f"pseudoscalar by PCAC; |V_ud| = {ccqe.V_UD}"
                       + ("; Fermi-gas Pauli blocking" if r.pauli else "")
                       + (f"; {ENHANCEMENT_NOTE}" if r.enhancement is not None else "")
                       + (f"; free protons: {FREE_PROTONS}" if r.hydrogen else ""),
            "band": ("spread of the ensemble members' scaling functions and of their axial masses (M_A = "
                     f"{r.axial_mass:g} +- {r.axial_mass_std:g} GeV, one draw per member); not included: the vector "
                     "form factors" if r.axial_mass_std else "spread of the ensemble members' scaling functions; not "
                     "included: M_A (a parameter; --axial-mass-std to draw it per member), form factors"),
            "not_included": NOT_INCLUDED if r.enhancement is None else NOT_INCLUDED_ENHANCED,
            **({} if r.ensemble is None else {
                "unconstrained_share": f"each point's share of the mean {unconstrained_rule(r.which)}; "
                                       f"outside_coverage from {FLAG_SHARE:.0%} on"})}
