"""Nuclear hadron tensors for event generators: a model's charged-current quasielastic tensor W^μν(q, ω)
on a grid, in GENIE's lab-frame table format (``TabulatedLabFrameHadronTensor``, the format of its SuSAv2
tables), so that a generator samples enxs's cross sections: the mean, and with ``members`` each member
(a universe of the band).

The tensor is ``ccqe.fermi_gas_tensor`` (per active nucleon and unit scaling function) times each member's
scaling functions (``modelscaling.scaling_members``; by default f_L in W^00, W^0z, W^zz and f_T in W^xx, W^xy)
and the number of active nucleons: neutrons for ν, protons for ν̄, one table each (the tensor of one
nucleon is the same; the flavour of the lepton enters only the contraction).

A table (text): one comment line; ``Z A CCQE n_q0 n_q``; the ω grid and the |q| grid, each as
``0 start step``; then for each ω (outer) and |q| (inner) a line ``W00 ReW0z Wxx ImWxy Wzz`` [GeV⁻¹, per
nucleus], zero where no nucleon absorbs (ω, q). GENIE contracts it (``dSigma_dT_dCosTheta_rosenbluth``) as
R_CC = W00, R_CL = −ReW0z, R_LL = Wzz, R_T = 2Wxx, R_T′ = −ImWxy (its sign flipped for ν̄) with
σ₀ = G_F² V_ud² v₀ k′/(4πE_ν), v₀ = 4E_ν E_l − Q², giving d²σ/dT dcos θ in GeV⁻³: the tests check that this
reproduces enxs's own. ω is the lepton's energy transfer: the nucleus' shift E_s is inside the table, so
GENIE's Q-value shift must be 0 for it. Beside each table, ``…_unconstrained.dat`` holds per grid point 1
where no electron data at several angles constrain the responses (``coverage.responses_unconstrained``),
2 where they do but the quasielastic part is too small a share of the electron R_T for the data to fix f_T
(``modelscaling.QE_SHARE_MIN``), and ``enxs-export.json`` the provenance, the conventions and the coverage rule.
With ``transverse_enhancement`` f_T carries the model's transverse enhancement TE(q)
(``modelscaling.transverse_enhancement``): for a generator that runs no two-nucleon model of its own.

Where the tables fit in GENIE v3 (``GENIE_USE``; read from its ``SuSAv2QELPXSec`` source, GENIE not run here): they
are per nucleus, as its blended-SuSAv2 and CRPA/HF tables, which it divides by the tensor nucleus' N (Z for ν̄) and
multiplies by the target's, with a Q-value of 0 when the table's nucleus is the target (argon has its own slots
there). Its plain SuSAv2 mode reads one ¹²C table per active nucleon for every nucleus (k_F-scaled, shifted by a
Q-value of E_b(target) − E_b(C)). GENIE applies no Coulomb correction to the lepton in these modes.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from enxs import ccqe, coverage, modelscaling, neutrino, neutrinorequest, superscaling
from enxs.descriptors import describe
from enxs.files import check_output_directory, write_json
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble

#: Where the tables fit in GENIE v3 (module docstring), written into the sidecar.
GENIE_USE = ("per nucleus, as GENIE's blended-SuSAv2 and CRPA/HF tables (SuSAv2QELPXSec divides those by the tensor "
             "nucleus' N, Z for antineutrinos, and multiplies by the target's; Q-value 0 when the table's nucleus is "
             "the target, e.g. the 40Ar blend slots); GENIE's plain SuSAv2 mode instead reads one 12C table per active "
             "nucleon for every nucleus (k_F-scaled, Q-value Eb(target) - Eb(C)): there a table must be divided by N "
             "(Z) and is right for carbon only. Read from GENIE v3's source, not run")
#: GENIE's order of the components in a table line, from ``ccqe.fermi_gas_tensor``'s (W00, W0z, Wzz, Wxx, Wxy).
COLUMNS = (0, 1, 3, 4, 2)
#: What the values of the ``…_unconstrained.dat`` table mean (``modelscaling.QE_SHARE_MIN``).
UNCONSTRAINED_NOTE = (f"1 where no electron data at several angles constrain the responses (enxs.coverage); 2 where "
                      f"they do, but the quasielastic part is below {modelscaling.QE_SHARE_MIN:.0%} of the model's "
                      f"electron R_T, so that the data do not fix f_T (Wxx, ImWxy; every component with scaling T); "
                      f"else 0")
CURRENTS = {"nu": "neutron", "nubar": "proton"}
#: Grid points per pass through the ensemble in ``export`` (its memory, ~10 kB a point with 50 members).
CHUNK_POINTS = 2**15


def grid(step: float, highest: float) -> np.ndarray:
    """step, 2·step, …, up to ``highest`` [GeV]: the ω and the |q| grid."""
    if not (0 < step < highest < np.inf):
        raise neutrino.NeutrinoError(f"--step {step:g} and --max {highest:g}: need 0 < step < max, finite (GeV)")
    return step * np.arange(1, round(highest / step) + 1)


def tensor_members(ensemble: Ensemble, nucleus: Nucleus, omega, q, *, scaling: str | None = None,
                   axial_mass: float = ccqe.AXIAL_MASS, pauli: bool = True,
                   enhanced: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """Each member's tensor per active nucleon at (ω, q) [GeV] (broadcast, flattened), [K, 5, N] in
    ``ccqe.fermi_gas_tensor``'s order, with the scaling functions of ``modelscaling.scaling_choice``; and where
    f_T is used, whether the quasielastic part is below ``modelscaling.QE_SHARE_MIN`` of the model's electron R_T [N]
    (bool). ``enhanced``: f_T times the members' transverse enhancement (``modelscaling.transverse_enhancement``)."""
    which = modelscaling.scaling_choice(ensemble, scaling)
    enhancement = modelscaling.transverse_enhancement(ensemble, nucleus, which) if enhanced else None
    ccqe.check_axial_mass(axial_mass)
    d = describe(nucleus)
    omega, q = (torch.as_tensor(np.ravel(v).astype(float)) for v in np.broadcast_arrays(omega, q))
    tensor = ccqe.fermi_gas_tensor(q, omega, d.k_fermi, d.e_shift, axial_mass=axial_mass, pauli=pauli)
    psi = superscaling.psi_prime(q, omega, d.k_fermi, d.e_shift)
    live = (tensor != 0).any(0) & (omega < q) & superscaling.above_floor(psi)  # ω < q: as electrons
    members = torch.zeros((ensemble.model.draws, 5, len(q)), dtype=torch.float64)
    inelastic = np.zeros(len(q), bool)
    if live.any():
        points = ccqe.Kernel(psi[live], torch.ones(int(live.sum()), dtype=torch.float64), q[live], omega[live])
        f, share = modelscaling.scaling_members(ensemble, nucleus, points, which, enhancement)
        f_l, f_t = (f[0], f[1]) if which == "LT" else (f, f)
        members[:, :3, live] = tensor[:3, live] * f_l[:, None]
        members[:, 3:, live] = tensor[3:, live] * f_t[:, None]
        if share is not None:
            inelastic[live.numpy()] = (share < modelscaling.QE_SHARE_MIN).numpy()
    return members, inelastic


def _open_table(stack: ExitStack, path: Path, comment: str, nucleus: Nucleus, axis: np.ndarray) -> TextIO:
    """A new table in GENIE's layout, its head written; its lines (ω outer) follow with ``_write_rows``."""
    step = float(axis[1] - axis[0])
    out = stack.enter_context(path.open("w", encoding="utf-8"))
    out.write(f"# {comment}\n{nucleus.Z} {nucleus.A} CCQE {len(axis)} {len(axis)}\n0 {axis[0]:.10g} {step:.10g}\n"
              f"0 {axis[0]:.10g} {step:.10g}\n")
    return out


def _write_rows(out: TextIO, values: np.ndarray) -> None:
    """Lines of a table, ``values`` [points, columns]."""
    np.savetxt(out, values, fmt="%d" if values.dtype.kind in "iub" else "%.8e")


def export(ensemble: Ensemble | str, nucleus: str | Nucleus | None, out: str | Path, *, step: float = 0.01,
           highest: float = 2.0, members: bool = False, scaling: str | None = None,
           axial_mass: float = ccqe.AXIAL_MASS, transverse_enhancement: bool = False) -> dict:
    """Write the ν and ν̄ tables of ``nucleus`` (module docstring) into ``out`` (new or empty): the mean, and
    with ``members`` each member's under ``out/members/``; f_T times the transverse enhancement with
    ``transverse_enhancement`` (``modelscaling.transverse_enhancement``); returns a summary. The grid goes
    through in blocks of ω rows of at most ``CHUNK_POINTS`` points, so that memory stays bounded for any step."""
    out = Path(out)
    check_output_directory(out)
    ensemble = Ensemble.of(ensemble)
    target = ensemble.target(nucleus)
    ensemble.warn_zero_shot(target)
    axis = grid(step, highest)
    which = modelscaling.scaling_choice(ensemble, scaling)
    ccqe.check_axial_mass(axial_mass)
    reason = ensemble.everywhere_outside(target)
    settings = None if reason else ensemble.training_settings(target, responses=True)
    stem, draws = target.name, ensemble.model.draws
    enhanced = ", transverse enhancement" if transverse_enhancement else ""
    common = (f"enxs {ensemble.name} {target.name} CCQE hadron tensor (scaling {which}{enhanced}, M_A {axial_mass:g} "
              f"GeV): W00 ReW0z Wxx ImWxy Wzz [GeV^-1 per nucleus] on omega (outer) x |q| [GeV]; E_s inside, "
              f"Q-value 0; see enxs-export.json")
    files = [f"{stem}_{flavour}_CCQE.dat" for flavour in CURRENTS]
    nonzero = unconstrained_nonzero = 0
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp, ExitStack() as stack:
        staging = Path(tmp) / out.name  # moved into place when complete: never a half-written export
        staging.mkdir()
        if members:
            (staging / "members").mkdir()
        tables = {}  # flavour -> (its active nucleons, its mean's file, its members' files)
        for name, (flavour, nucleon) in zip(files, CURRENTS.items(), strict=True):
            head = f"{common}; {flavour} on {nucleon}s"
            each = [_open_table(stack, staging / "members" / f"{stem}_{flavour}_CCQE_{k}.dat", f"{head}, member {k}",
                                target, axis) for k in range(draws if members else 0)]
            mean = _open_table(stack, staging / name, f"{head}, mean of {draws} members", target, axis)
            tables[flavour] = (target.A - target.Z if nucleon == "neutron" else target.Z, mean, each)
        flags = _open_table(stack, staging / f"{stem}_unconstrained.dat",
                            UNCONSTRAINED_NOTE + ", omega (outer) x |q| [GeV]", target, axis)
        rows = max(1, CHUNK_POINTS // len(axis))
        for first in range(0, len(axis), rows):
            omega, q = (a.ravel() for a in np.meshgrid(axis[first:first + rows], axis, indexing="ij"))
            per_nucleon, inelastic = tensor_members(ensemble, target, omega, q, scaling=which, axial_mass=axial_mass,
                                                    enhanced=transverse_enhancement)
            unconstrained, spacelike = np.ones(len(q), dtype=int), omega < q
            if settings is not None:
                unconstrained[spacelike] = coverage.responses_unconstrained(q[spacelike], omega[spacelike], settings,
                                                                            target.A)[0]
                unconstrained[(unconstrained == 0) & inelastic] = 2
            live = (per_nucleon != 0).any(1).any(0).numpy()
            nonzero += int(live.sum())
            unconstrained_nonzero += int((unconstrained[live] > 0).sum())
            _write_rows(flags, unconstrained[:, None])
            for active, mean, each in tables.values():
                block = (per_nucleon * active)[:, COLUMNS].permute(0, 2, 1).numpy()  # [K, N, 5]
                _write_rows(mean, block.mean(0))
                for member, values in zip(each, block, strict=False):  # no member files without members
                    _write_rows(member, values)
        stack.close()
        share = unconstrained_nonzero / nonzero if nonzero else 1.0
        provenance = ensemble.provenance(target)
        provenance["coulomb_correction"] = ("none in the tensor (a lepton-side correction, enxs neutrino's default); "
                                            "GENIE's tensor-table modes apply none, so these tables give enxs's "
                                            "cross sections with the lepton a plane wave (enxs neutrino --no-coulomb)")
        write_json(staging / "enxs-export.json", {
            **provenance, "format": "GENIE TabulatedLabFrameHadronTensor (lab frame, q along z)",
            "genie_use": GENIE_USE,
            "files": files, "members_written": members, "scaling": modelscaling.SCALING_NOTE[which]
            + (f"; {modelscaling.ENHANCEMENT_NOTE}" if transverse_enhancement else ""),
            "grid_GeV": {"omega": [float(axis[0]), float(axis[-1]), len(axis)],
                         "q": [float(axis[0]), float(axis[-1]), len(axis)]},
            "units": "W00, ReW0z, Wxx, ImWxy, Wzz in GeV^-1 per nucleus; omega, |q| in GeV",
            "contraction": "GENIE dSigma_dT_dCosTheta_rosenbluth: R_CC = W00, R_CL = -ReW0z, R_LL = Wzz, R_T = 2 Wxx, "
                           "R_T' = -ImWxy (sign flipped for antineutrinos), sigma0 = G_F^2 V_ud^2 v0 k'/(4 pi E_nu); "
                           "d2sigma/dT dcos(theta) in GeV^-3 (GENIE's dSigma_dT_dCosTheta, the structure-function "
                           "form, has no V_ud^2: from these tables it gives 1/V_ud^2 = 1.055 times that)",
            "q_value": f"0: the nucleus' shift E_s = {describe(target).e_shift:.4f} GeV is inside the table (omega is "
                       f"the lepton's energy transfer)",
            "flavours": {"nu": "neutrinos on neutrons (any lepton flavour)", "nubar": "antineutrinos on protons"},
            "not_included": (neutrinorequest.NOT_INCLUDED_ENHANCED if transverse_enhancement
                             else neutrinorequest.NOT_INCLUDED),
            "training_coverage": {"rule": coverage.rule(True), "unconstrained_file": f"{stem}_unconstrained.dat",
                                  "unconstrained_values": UNCONSTRAINED_NOTE,
                                  "unconstrained_share_of_nonzero_points": share,
                                  **({"every_point_outside": reason} if reason else {})}})
        if out.exists():
            out.rmdir()  # empty (checked above)
        staging.rename(out)
    return {"directory": str(out), "files": files, "members": draws if members else 0,
            "points": len(axis) ** 2, "unconstrained": share}
