"""Hadron-tensor tables for GENIE: contracted as GENIE contracts them, they give enxs's own neutrino cross
sections; the table layout GENIE reads; members, coverage, and the one rule for outputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from cli_runner import enxs
from enxs import ccqe, coulomb, hadrontensor, modelscaling, neutrino, neutrinorequest
from enxs.errors import EnxsError
from enxs.leptonbins import MUON_MASS
from enxs.nuclei import Nucleus


def genie_cross_section(e_nu, t, cos, lepton_mass, tensor, antineutrino: bool):
    """d²σ/dT dcos θ [GeV⁻³] from a table's (W00, ReW0z, Wxx, ImWxy, Wzz), written here from GENIE's
    TabulatedLabFrameHadronTensor::dSigma_dT_dCosTheta_rosenbluth (GENIE v3), independently of enxs."""
    w00, w0z, wxx, wxy, wzz = tensor
    e_l = t + lepton_mass
    q0 = e_nu - e_l
    k_l = np.sqrt(t**2 + 2 * lepton_mass * t)
    q_mag2 = e_nu**2 + k_l**2 - 2 * e_nu * k_l * cos
    q_mag, q2 = np.sqrt(q_mag2), q0**2 - q_mag2
    v0 = 4 * e_l * e_nu + q2
    sigma0 = ccqe.G_FERMI**2 * ccqe.V_UD**2 * v0 * k_l / (4 * np.pi * e_nu)
    delta, rho, rho_p, tan2 = lepton_mass / np.sqrt(-q2), -q2 / q_mag2, q_mag / (e_l + e_nu), -q2 / v0
    v_cc = 1 - delta**2 * tan2
    v_cl = q0 / q_mag + tan2 * delta**2 / rho_p
    v_ll = q0**2 / q_mag2 + delta**2 * tan2 * (1 + 2 * q0 / q_mag / rho_p + rho * delta**2)
    v_t = rho / 2 + tan2 - tan2 * delta**2 / rho_p * (q0 / q_mag + delta**2 * rho * rho_p / 2)
    v_tp = tan2 / rho_p * (1 - q0 / q_mag * rho_p * delta**2)
    r_tp = (1 if antineutrino else -1) * wxy
    return sigma0 * (v_cc * w00 - 2 * v_cl * w0z + v_ll * wzz + v_t * 2 * wxx + 2 * v_tp * r_tp)


def genie_structure_functions(e_nu, t, cos, lepton_mass, tensor, antineutrino: bool):
    """The same from GENIE's TabulatedLabFrameHadronTensor::dSigma_dT_dCosTheta (W1…W5 of the table; no V_ud)."""
    w00, w0z, wxx, wxy, wzz = tensor
    e_l = t + lepton_mass
    q0, k_l = e_nu - e_l, np.sqrt(t**2 + 2 * lepton_mass * t)
    q_mag = np.sqrt(e_nu**2 + k_l**2 - 2 * e_nu * k_l * cos)
    s2, c2 = (1 - cos) / 2, (1 + cos) / 2
    w1, w3 = wxx / 2, (-1 if antineutrino else 1) * wxy / q_mag
    w2 = (w00 + wxx + q0**2 / q_mag**2 * (wzz - wxx) - 2 * q0 * w0z / q_mag) / 2
    w4, w5 = (wzz - wxx) / (2 * q_mag**2), (w0z - q0 * (wzz - wxx) / q_mag) / q_mag
    part_1 = 2 * w1 * s2 + w2 * c2 - w3 * (e_nu + e_l) * s2
    part_2 = (w1 * cos - w2 / 2 * cos + w3 / 2 * (e_l + k_l - (e_nu + e_l) * cos)
              + w4 / 2 * (lepton_mass**2 * cos + 2 * e_l * (e_l + k_l) * s2) - w5 / 2 * (e_l + k_l))
    return 2 / np.pi * k_l * e_l * ccqe.G_FERMI**2 * (part_1 + lepton_mass**2 * part_2 / (e_l * (e_l + k_l)))


def read_table(path):
    """(Z, A, ω grid, |q| grid, values [n_ω, n_q, columns]) of a table in GENIE's layout."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    z, a, kind, n_w, n_q = lines[1].split()
    assert kind == "CCQE"
    axes = []
    for line, n in zip(lines[2:4], (int(n_w), int(n_q)), strict=True):
        flag, start, step = line.split()
        assert flag == "0"
        axes.append(float(start) + float(step) * np.arange(n))
    values = np.loadtxt(lines[4:], ndmin=2).reshape(len(axes[0]), len(axes[1]), -1)
    return int(z), int(a), axes[0], axes[1], values


@pytest.mark.parametrize("flavor", ["numu", "numubar", "nue"])
def test_the_tensor_contracted_as_genie_does_is_the_kernels_cross_section(flavor):
    current = neutrinorequest.FLAVORS[flavor][1]
    e_nu, cos = 1.0, np.array([0.8, 0.8, 0.8, -0.2, 0.95])
    t = e_nu - current.lepton_mass - np.array([0.12, 0.17, 0.22, 0.6, 0.1])  # around the quasielastic peak
    k_fermi, e_shift = 0.225, 0.025  # GeV
    kernel = ccqe.kernel(e_nu, t, cos, k_fermi, e_shift, current, pauli=True)
    f = ccqe.fermi_gas_scaling(kernel.psi).numpy()
    tensor = ccqe.fermi_gas_tensor(kernel.q, kernel.omega, k_fermi, e_shift, pauli=True).numpy() * f
    genie = genie_cross_section(e_nu, t, cos, current.lepton_mass, tensor[list(hadrontensor.COLUMNS)],
                                current.sign < 0)
    ours = (kernel.factor.numpy() * f) / ccqe.HBARC2_CM2
    assert (ours > 0).sum() >= 4
    assert genie == pytest.approx(ours, rel=1e-9, abs=1e-30)
    other = genie_structure_functions(e_nu, t, cos, current.lepton_mass, tensor[list(hadrontensor.COLUMNS)],
                                      current.sign < 0)
    assert other * ccqe.V_UD**2 == pytest.approx(ours, rel=1e-9, abs=1e-30)  # as the sidecar says


@pytest.mark.parametrize("flavor", ["numu", "numubar"])
def test_with_the_leptons_coulomb_distortion_the_kernel_is_the_modified_effective_momentum_approximation(flavor):
    """Engel's MEMA: GENIE's contraction with the lepton's local momentum (E_l ± V̄_f) and the tensor at (ω, q_eff),
    times k_eff E_eff/(k E_l) on GENIE's phase space k_eff: ω stays the asymptotic E_ν − E_l."""
    current = neutrinorequest.FLAVORS[flavor][1]
    v_final = coulomb.lepton_potential(Nucleus.parse("40Ar"), current.sign)
    e_nu, cos = 1.0, np.array([0.8, 0.8, 0.8, -0.2, 0.95])
    t = e_nu - current.lepton_mass - np.array([0.12, 0.17, 0.22, 0.6, 0.1])
    k_fermi, e_shift = 0.25, 0.028  # GeV
    kernel = ccqe.kernel(e_nu, t, cos, k_fermi, e_shift, current, v_final, pauli=True)
    plane = ccqe.kernel(e_nu, t, cos, k_fermi, e_shift, current, pauli=True)
    assert torch.equal(kernel.omega, plane.omega) and ((kernel.q - plane.q).abs() > 1e-4).all()
    f = ccqe.fermi_gas_scaling(kernel.psi).numpy()
    tensor = ccqe.fermi_gas_tensor(kernel.q, kernel.omega, k_fermi, e_shift, pauli=True).numpy() * f
    e_far, gain = t + current.lepton_mass, current.sign * v_final
    genie = genie_cross_section(e_nu, t + gain, cos, current.lepton_mass, tensor[list(hadrontensor.COLUMNS)],
                                current.sign < 0)
    ours = (kernel.factor.numpy() * f) / ccqe.HBARC2_CM2
    assert (ours > 0).sum() >= 4
    assert genie * (e_far + gain) / e_far == pytest.approx(ours, rel=1e-9, abs=1e-30)


def test_exported_tables_give_enxs_cross_sections_per_nucleus_with_members_and_coverage(tmp_path, monkeypatch):
    out, whole = tmp_path / "genie", tmp_path / "whole"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hadrontensor.export("enxs-any-fast", "56Fe", whole, step=0.05, highest=1.2)  # the 24 x 24 grid in one pass
        monkeypatch.setattr(hadrontensor, "CHUNK_POINTS", 120)  # blocks of 5 omega rows, the last of 4
        summary = hadrontensor.export("enxs-any-fast", "56Fe", out, step=0.05, highest=1.2, members=True)
    for name in ("56Fe_nu_CCQE.dat", "56Fe_nubar_CCQE.dat", "56Fe_unconstrained.dat", "enxs-export.json"):
        assert (out / name).read_text() == (whole / name).read_text().replace('"members_written": false',
                                                                             '"members_written": true')
    assert summary["files"] == ["56Fe_nu_CCQE.dat", "56Fe_nubar_CCQE.dat"] and summary["members"] == 50
    z, a, omega, q, nu = read_table(out / "56Fe_nu_CCQE.dat")
    assert (z, a) == (26, 56) and omega[0] == pytest.approx(0.05) and len(q) == 24 and nu.shape == (24, 24, 5)
    nubar = read_table(out / "56Fe_nubar_CCQE.dat")[4]
    assert nubar == pytest.approx(nu * 26 / 30, rel=1e-6)  # the same tensor, on 26 protons instead of 30 neutrons
    assert (nu[omega[:, None] >= q[None, :]] == 0).all()  # nothing where no nucleon absorbs (ω ≥ q)
    members = np.stack([read_table(out / "members" / f"56Fe_nu_CCQE_{k}.dat")[4] for k in range(50)])
    assert members.mean(0) == pytest.approx(nu, rel=1e-6, abs=1e-12) and members.std(0).max() > 0
    # on grid nodes (no interpolation), GENIE's contraction of the mean table against enxs's own prediction
    e_nu, (i, j) = 1.0, np.meshgrid([2, 4, 6], [9, 11, 13], indexing="ij")  # ω 0.15–0.35 GeV, |q| 0.5–0.7 GeV
    w, k = omega[i].ravel(), q[j].ravel()
    e_l = e_nu - w
    k_l = np.sqrt(e_l**2 - MUON_MASS**2)
    cos = (e_nu**2 + k_l**2 - k**2) / (2 * e_nu * k_l)
    t = e_l - MUON_MASS
    genie = genie_cross_section(e_nu, t, cos, MUON_MASS, np.moveaxis(nu[i.ravel(), j.ravel()], -1, 0), False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = neutrino.double_differential("enxs-any-fast", "56Fe", t, cos, energy=e_nu, per="nucleus",
                                            coulomb=False).mean  # the tables hold no lepton distortion
    assert (ours > 0).all() and genie * ccqe.HBARC2_CM2 == pytest.approx(ours, rel=1e-6, abs=0)
    flags = read_table(out / "56Fe_unconstrained.dat")[4][..., 0]
    assert set(np.unique(flags)) == {0, 1, 2} and 0 < (flags[nu[..., 0] > 0] > 0).mean() < 1
    sidecar = json.loads((out / "enxs-export.json").read_text())
    assert sidecar["nucleus"] == "56Fe" and "R_T = 2 Wxx" in sidecar["contraction"] and "Q-value" not in sidecar
    assert sidecar["q_value"].startswith("0:") and sidecar["training_coverage"]["rule"]
    assert "2 where" in sidecar["training_coverage"]["unconstrained_values"]
    assert "plane wave" in sidecar["coulomb_correction"] and "per nucleus" in sidecar["genie_use"]


def test_the_export_keeps_existing_files_and_refuses_what_it_cannot_make(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    with pytest.raises(EnxsError, match="exists and is not empty"):
        hadrontensor.export("enxs-any-fast", "12C", tmp_path / "full")
    for step, highest in ((0.0, 2.0), (0.01, float("inf"))):
        with pytest.raises(EnxsError, match="need 0 < step < max, finite"):
            hadrontensor.export("enxs-any-fast", "12C", tmp_path / "new", step=step, highest=highest)
    with pytest.raises(EnxsError, match="cross sections only"):
        hadrontensor.export("enxs-12C-fast", None, tmp_path / "new")
    with pytest.raises(EnxsError, match="--axial-mass 0: must be > 0 GeV"):
        hadrontensor.export("enxs-any-fast", "12C", tmp_path / "new", axial_mass=0.0)
    assert not (tmp_path / "new").exists() and (tmp_path / "full" / "x").read_text() == "mine"
    result = enxs("export", "genie", "enxs-any-fast", "--nucleus", "12C",
                  "--out", str(tmp_path / "full"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "exists and is not empty" in result.stderr


def test_tensor_members_follow_the_scaling_choice():
    from enxs.nuclei import Nucleus
    from enxs.predict import Ensemble

    ensemble, carbon = Ensemble.load("enxs-any-fast"), Nucleus.parse("12C")
    omega, q = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.5, 0.5])
    (split, inelastic), (transverse, _) = (hadrontensor.tensor_members(ensemble, carbon, omega, q, scaling=s)
                                           for s in ("LT", "T"))
    assert torch.equal(split[:, 3:], transverse[:, 3:]) and not torch.equal(split[:, :3], transverse[:, :3])
    # the quasielastic part of R_T: most of it near the peak (ψ′ ≈ 0.5 at ω = 0.2), little above it (ω = 0.3)
    assert inelastic.tolist() == [False, False, True]
    enhanced, _ = hadrontensor.tensor_members(ensemble, carbon, omega, q, scaling="LT", enhanced=True)
    factor = modelscaling.transverse_enhancement(ensemble, carbon, "LT").at(torch.as_tensor(q))  # [K, N]
    assert torch.equal(enhanced[:, :3], split[:, :3])  # W00, W0z, Wzz: f_L's
    assert torch.allclose(enhanced[:, 3:], split[:, 3:] * factor[:, None], rtol=1e-12, atol=0)  # Wxx, ImWxy
