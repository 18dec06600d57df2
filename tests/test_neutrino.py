"""Neutrino CCQE cross sections: the Fermi-gas kernel against independent calculations (the
free-nucleon Llewellyn Smith cross section, a Fermi-gas reference, enxs's own electron
quasielastic cross section), zeros outside the allowed region, flux tables, the ensemble and
the command."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_runner import enxs
from enxs import ccqe, coulomb, flux, freeproton, modelscaling, neutrino, neutrinorequest, rosenbluth, superscaling
from enxs.descriptors import describe
from enxs.errors import EnxsError
from enxs.leptonbins import MUON_MASS
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, ExtrapolationWarning
from enxs.responses import predict_responses

M = ccqe.M
NU, NUBAR = neutrinorequest.FLAVORS["numu"][1], neutrinorequest.FLAVORS["numubar"][1]
CARBON = Nucleus.parse("12C")


def free_nucleon(e_nu: float, current: ccqe.Current) -> float:
    """σ [cm²] of ν n → μ⁻ p (ν̄ p → μ⁺ n) on a nucleon at rest: Llewellyn Smith's dσ/dQ² (``freeproton``,
    independent of the kernel's tensors; dipole vector form factors) integrated over the allowed Q² by the trapezoid
    rule."""
    q2 = np.linspace(*freeproton.q2_range(e_nu, current.lepton_mass), 20001)
    return float(np.trapezoid(freeproton.dsigma_dq2(e_nu, q2, current, 1.03, "dipole"), q2))


def fermi_gas_total(e_nu, current, k_fermi, e_shift, pauli=True, n=500) -> float:
    """σ [cm²] per nucleon: the kernel with the Fermi gas's scaling function, midpoint rule in T, cos θ."""
    span = e_nu - current.lepton_mass
    t = (np.arange(n) + 0.5) * span / n
    c = -1 + (np.arange(n) + 0.5) * 2 / n
    k = ccqe.kernel(e_nu, t[:, None], c[None, :], k_fermi, e_shift, current, vector="dipole", pauli=pauli)
    return float((k.factor * ccqe.fermi_gas_scaling(k.psi)).sum()) * span / n * 2 / n


def test_free_nucleon_cross_section_matches_the_published_value():
    # an independent calculation (dipole form factors, M_A = 1.03 GeV) gives 1.09e-38 cm² at 1 GeV
    assert free_nucleon(1.0, NU) == pytest.approx(1.09e-38, rel=0.02, abs=0)
    assert free_nucleon(1.0, NUBAR) < 0.45 * free_nucleon(1.0, NU)


@pytest.mark.parametrize("current", [NU, NUBAR])
def test_fermi_gas_tends_to_the_free_nucleon_as_k_fermi_vanishes(current):
    limit = fermi_gas_total(1.0, current, 0.01, 0.0, n=600)
    assert limit == pytest.approx(free_nucleon(1.0, current), rel=0.005, abs=0)


def test_fermi_gas_reproduces_an_independent_relativistic_fermi_gas():
    # the reference: 0.96e-38 (ν on neutrons) and 0.33e-38 (ν̄ on protons) at 1 GeV, k_F = 0.228 GeV
    assert fermi_gas_total(1.0, NU, 0.228, 0.025) == pytest.approx(0.96e-38, rel=0.05, abs=0)
    assert fermi_gas_total(1.0, NUBAR, 0.228, 0.025) == pytest.approx(0.33e-38, rel=0.05, abs=0)
    # Pauli blocking removes strength at low q, never adds it
    assert fermi_gas_total(1.0, NU, 0.228, 0.025) < fermi_gas_total(1.0, NU, 0.228, 0.025, pauli=False)


@pytest.mark.parametrize("e_nu", [0.5, 20.0, 200.0])
def test_the_total_rule_integrates_the_response_at_every_energy(e_nu):
    """ccqe.total_rule (q, ω nodes where the response lives) against the free nucleon (k_F → 0): also at high
    energy, where the response fills a narrow forward strip of T and cos θ."""
    t, c, w = ccqe.total_rule(e_nu, NU.lepton_mass, 0.01, 0.0)
    assert (t >= 0).all() and (np.abs(c) <= 1).all() and (w > 0).all() and (t + NU.lepton_mass < e_nu).all()
    k = ccqe.kernel(e_nu, t, c, 0.01, 0.0, NU, vector="dipole")
    total = float((k.factor * ccqe.fermi_gas_scaling(k.psi) * torch.as_tensor(w)).sum())
    assert total == pytest.approx(free_nucleon(e_nu, NU), rel=0.005, abs=0)
    q = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    for psi in (-1.0, 0.0, 2.0, superscaling.f0_support()[1]):
        omega = superscaling.omega_at_psi(q, psi, 0.228, 0.025)
        assert superscaling.psi_prime(q, omega, 0.228, 0.025).numpy() == pytest.approx(psi, abs=1e-6)
    # below ψ′ at ω′ = 0 (small q, far negative ψ′), the response starts at ω = E_s
    assert superscaling.omega_at_psi(torch.tensor([0.1], dtype=torch.float64), -4.0, 0.228, 0.025) == 0.025
    psi = torch.tensor([-0.9, -0.3, 0.0, 0.5], dtype=torch.float64)
    least = superscaling.least_q_at_psi(psi, 0.228)  # ψ′ < 0 is first reached at the threshold ω = E_s
    assert least[2:].tolist() == [0.0, 0.0] and least[0] > least[1] > 0
    torch.testing.assert_close(superscaling.omega_at_psi(least[:2], psi[:2], 0.228, 0.025), torch.full((2,), 0.025,
                               dtype=torch.float64))
    torch.testing.assert_close(superscaling.psi_prime(least[:2], torch.full((2,), 0.025, dtype=torch.float64), 0.228,
                                                      0.025), psi[:2])
    for psi in superscaling.f0_support():
        assert float(superscaling.log_f0(torch.tensor(psi))) == pytest.approx(np.log(superscaling.F0_FLOOR), abs=0.01)


def test_sigma_is_flat_at_high_energy_as_a_quasielastic_cross_section_is():
    sigma = neutrino.total_cross_section(None, "12C", [20.0, 200.0, 1000.0]).mean
    assert sigma == pytest.approx(sigma[0], rel=0.02, abs=0)  # 8.56, 8.45, 8.42 × 1e-39 cm²


def electron_ratio(k_fermi, e_shift, energy=1.0, theta=37.0):
    """The kernel with the electromagnetic current over superscaling's σ_Mott (v_L G_L + v_T G_T)/k_F
    (the same scaling function cancels), at ψ′ = −0.5, 0, 0.5 of carbon."""
    w = np.linspace(0.02, 0.7, 4000)
    q = rosenbluth.kinematics.three_momentum_transfer(energy, theta, w)
    psi = superscaling.psi_prime(torch.tensor(q), torch.tensor(w), k_fermi, e_shift).numpy()
    w = np.interp([-0.5, 0.0, 0.5], psi, w)
    cos = np.cos(np.radians(theta))
    protons, neutrons = (ccqe.kernel(energy, energy - w, cos, k_fermi, e_shift, ccqe.Current(0.0, 0, n))
                         for n in ("proton", "neutron"))
    em = (6 * protons.factor + 6 * neutrons.factor).numpy() / (2 * np.pi) / 1e-33  # nb/sr/GeV per unit f
    q, w = torch.tensor(rosenbluth.kinematics.three_momentum_transfer(energy, theta, w)), torch.tensor(w)
    g_l, g_t = superscaling.single_nucleon(q, w, 6, 6, k_fermi, superscaling.psi_prime(q, w, k_fermi, e_shift))
    return em / rosenbluth.cross_section((g_l / k_fermi).numpy(), (g_t / k_fermi).numpy(), energy, theta, w.numpy())


def test_electromagnetic_current_gives_back_the_electron_quasielastic_cross_section():
    assert electron_ratio(0.02, 0.0) == pytest.approx(np.ones(3), abs=0.002)  # exact as k_F → 0
    # carbon: superscaling's single-nucleon factors drop terms of order ξ_F ≈ 0.03
    d = describe(CARBON)
    assert electron_ratio(d.k_fermi, d.e_shift) == pytest.approx(np.ones(3), abs=0.06)


C = torch.complex128
GAMMA = torch.stack([torch.block_diag(torch.eye(2), -torch.eye(2)).to(C)] + [
    torch.cat([torch.cat([torch.zeros(2, 2, dtype=C), s], 1), torch.cat([-s, torch.zeros(2, 2, dtype=C)], 1)])
    for s in (torch.tensor([[0, 1], [1, 0]], dtype=C), torch.tensor([[0, -1j], [1j, 0]], dtype=C),
              torch.tensor([[1, 0], [0, -1]], dtype=C))])
GAMMA5 = torch.eye(4, dtype=C).roll(2, dims=1)  # [[0, 1], [1, 0]] in 2 × 2 blocks
METRIC = torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64)


def slash(p):
    return torch.einsum("m,mij->ij", (p * METRIC).to(C), GAMMA)


def traces(p, p_out, form, k, k_out, current):
    """L^μν and H^μν [4, 4] by Dirac traces (independent of ``ccqe.longitudinal_tensors``'s formulas)."""
    f_1, f_2, f_a, f_p = (float(f) for f in form)
    q, one = p_out - p, torch.eye(4, dtype=C)
    vertices = [f_1 * GAMMA[m] - f_2 / (4 * M) * (GAMMA[m] @ slash(q) - slash(q) @ GAMMA[m])
                - f_a * GAMMA[m] @ GAMMA5 - f_p / M * float(q[m]) * GAMMA5 for m in range(4)]
    bars = [GAMMA[0] @ v.conj().T @ GAMMA[0] for v in vertices]
    hadron = torch.tensor([[torch.trace((slash(p_out) + M * one) @ v @ (slash(p) + M * one) @ b) for b in bars]
                           for v in vertices])
    m, ends = current.lepton_mass, [GAMMA[a] @ (one - GAMMA5) for a in range(4)]
    left, right = (slash(k_out) + m * one, slash(k)) if current.sign > 0 else (slash(k), slash(k_out) - m * one)
    lepton = torch.tensor([[torch.trace(left @ a @ right @ b) for b in ends] for a in ends])
    return lepton, hadron


@pytest.mark.parametrize("current", [NU, NUBAR])
def test_the_tensors_contract_to_the_amplitude_and_their_parts_are_the_kernels(current):
    e_nu, t, cos, w_shift = 1.0, 0.76, 0.8, 0.0  # near the quasielastic peak; no shift, so ω′ = ω exactly
    e_l, k_l, q, omega = (float(v) for v in ccqe.lepton_kinematics(
        *(torch.tensor(v, dtype=torch.float64) for v in (e_nu, t, cos)), current.lepton_mass))
    w = omega - w_shift
    k_z = (e_nu**2 - e_nu * k_l * cos) / q
    k_x = np.sqrt(e_nu**2 - k_z**2)
    k, k_out = (torch.tensor(v, dtype=torch.float64) for v in ([e_nu, k_x, 0, k_z], [e_l, k_x, 0, k_z - q]))
    big_q2 = q * q - w * w
    form = ccqe.form_factors(big_q2, current)
    a, b, c = (float(x) for x in freeproton.invariants(big_q2, current))
    metric = torch.outer(METRIC, METRIC).to(C)
    for energy in (0.95, 0.97):  # two nucleons of the Fermi sea that can absorb (ω, q)
        p_z = (w * w + 2 * energy * w - q * q) / (2 * q)
        p_perp = np.sqrt(energy**2 - M * M - p_z**2)
        contracted, longitudinal, averaged = 0.0, None, 0
        for phi in np.arange(4) * np.pi / 2:  # exact azimuthal average of terms up to second order in p_⊥
            p = torch.tensor([energy, p_perp * np.cos(phi), p_perp * np.sin(phi), p_z], dtype=torch.float64)
            lepton, hadron = traces(p, p + torch.tensor([w, 0, 0, q], dtype=torch.float64), form, k, k_out, current)
            contracted += float((lepton * metric * hadron).sum().real) / 2 / (16 * M**4) / 4
            averaged = averaged + hadron / 4
            along = [0, 3]
            longitudinal = float((lepton * metric * hadron)[along][:, along].sum().real) / 2 / (16 * M**4)
        z_0 = (2 * (energy * (e_nu + e_l) - p_z * (2 * k_z - q)) - current.lepton_mass**2) / (M * M)
        z_1 = -4 * p_perp * k_x / (M * M)
        assert contracted == pytest.approx(a + current.sign * b * z_0 + c * (z_0**2 + z_1**2 / 2), rel=1e-10)
        as_tensors = functools.partial(map, functools.partial(torch.tensor, dtype=torch.float64))
        tensor = ccqe.nucleon_tensor(*as_tensors((energy, p_z, w, q)), form)
        along_q, across_q = ccqe.contraction(*as_tensors((e_nu, e_l, k_x, k_z, q)), tensor, current.sign)
        assert float(along_q) == pytest.approx(longitudinal, rel=1e-10) and 0 < longitudinal < contracted
        assert float(along_q + across_q) == pytest.approx(contracted, rel=1e-10) and float(across_q) > 0
        assert [float(h) for h in tensor] == pytest.approx([float(averaged[0, 0].real), float(averaged[0, 3].real),
                                                            float(averaged[3, 3].real), float(averaged[1, 1].real),
                                                            float(averaged[1, 2].imag)], rel=1e-10)
        assert float(averaged[2, 2].real) == pytest.approx(float(averaged[1, 1].real), rel=1e-10)


def test_the_longitudinal_and_transverse_parts_are_the_electrons_v_L_G_L_and_v_T_G_T():
    energy, theta = 1.0, 37.0
    d = describe(CARBON)
    for (k_fermi, e_shift), tolerance in (((0.02, 0.0), 0.002), ((d.k_fermi, d.e_shift), 0.08)):
        w = np.linspace(0.02, 0.7, 4000)
        q = rosenbluth.kinematics.three_momentum_transfer(energy, theta, w)
        w = np.interp([-0.5, 0.0, 0.5], superscaling.psi_prime(torch.tensor(q), torch.tensor(w), k_fermi,
                                                                e_shift).numpy(), w)
        kernels = [ccqe.kernel(energy, energy - w, np.cos(np.radians(theta)), k_fermi, e_shift,
                               ccqe.Current(0.0, 0, n)) for n in ("proton", "neutron")]
        parts = [sum(6 * k.factor * share(k) for k in kernels).numpy() / (2 * np.pi) / 1e-33
                 for share in (lambda k: k.longitudinal, lambda k: 1 - k.longitudinal)]
        q, w = torch.tensor(rosenbluth.kinematics.three_momentum_transfer(energy, theta, w)), torch.tensor(w)
        g_l, g_t = superscaling.single_nucleon(q, w, 6, 6, k_fermi, superscaling.psi_prime(q, w, k_fermi, e_shift))
        zero = np.zeros(3)
        for part, (r_l, r_t) in zip(parts, (((g_l / k_fermi).numpy(), zero), (zero, (g_t / k_fermi).numpy())),
                                    strict=True):
            assert part / rosenbluth.cross_section(r_l, r_t, energy, theta, w.numpy()) == pytest.approx(
                np.ones(3), abs=tolerance)


def test_outside_the_allowed_region_the_cross_section_is_zero():
    d = describe(CARBON)
    t = np.array([0.95, 1.2, 0.3])  # T above E_ν − m_μ; E_l > E_ν; and ω < E_s below
    k = ccqe.kernel(1.0, t, np.array([0.5, 0.0, -0.9]), d.k_fermi, d.e_shift, NUBAR)
    assert k.factor[:2].tolist() == [0.0, 0.0]
    t_high = 1.0 - MUON_MASS - 0.01  # ω = 0.01 GeV < E_s
    assert float(ccqe.kernel(1.0, t_high, 0.99, d.k_fermi, d.e_shift, NU).factor) == 0.0
    assert torch.isfinite(k.factor).all() and (k.factor >= 0).all()


def test_the_outgoing_leptons_coulomb_distortion_raises_nu_and_lowers_nubar_cross_sections_by_a_few_percent():
    sigma = {(n, f, on): neutrino.total_cross_section(None, n, [0.3, 1.0], flavor=f, scaling="RFG", coulomb=on).mean
             for n in ("12C", "40Ar") for f in ("numu", "numubar") for on in (True, False)}
    change = {k[:2]: sigma[(*k[:2], True)] / sigma[(*k[:2], False)] - 1 for k in sigma}
    assert 0.005 < change[("12C", "numu")][1] < change[("40Ar", "numu")][1] < 0.05  # l⁻ drawn in; more with Z
    assert -0.05 < change[("40Ar", "numubar")][1] < change[("12C", "numubar")][1] < -0.005  # l⁺ pushed out
    assert (np.abs(change[("40Ar", "numu")]) > np.abs(change[("40Ar", "numu")][1])).any()  # larger near threshold
    assert coulomb.lepton_potential(CARBON, 1) * 1000 == pytest.approx(3.67, abs=0.01)  # 12C → 12N: Z_f = 7
    assert coulomb.lepton_potential(CARBON, -1) / coulomb.lepton_potential(CARBON, 1) == pytest.approx(5 / 7)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["2H", "4He", "12C", "40Ar", "208Pb"]), st.sampled_from(sorted(neutrinorequest.FLAVORS)),
       st.floats(0.01, 5.0), st.lists(st.floats(0.0, 1.05), min_size=1, max_size=8), st.floats(-1.0, 1.0))
def test_with_the_coulomb_distortion_the_kernel_is_finite_non_negative_and_zero_where_forbidden(name, flavor, e_nu,
                                                                                               fractions, cos):
    nucleus, current = Nucleus.parse(name), neutrinorequest.FLAVORS[flavor][1]
    d, v_final = describe(nucleus), coulomb.lepton_potential(nucleus, current.sign)
    t = e_nu * np.asarray(fractions)  # GeV, some beyond the neutrino's energy
    factor = ccqe.kernel(e_nu, t, cos, d.k_fermi, d.e_shift, current, v_final, pauli=True).factor.numpy()
    assert np.isfinite(factor).all() and (factor >= 0).all()
    assert (factor[t + current.lepton_mass >= e_nu] == 0).all()
    if current.sign < 0:  # l⁺ is slowed on its way out: none leaves with less than V̄_f
        assert (factor[t < v_final] == 0).all()


def test_flux_tables(tmp_path):
    edges = tmp_path / "edges.txt"
    edges.write_text("a header line\nElo Ehi numu numub nue nueb\n0.0 0.5 1 4 0 0\n0.5 1.0 3 0 1 1\n1.0 1.5 0 0 1 1\n")
    table = flux.read_flux(edges, "numu")  # a histogram: nodes across each bin, Φ constant in it
    first = table.energy < 0.5
    assert len(table.energy) == 2 * 10 * flux.NODES_PER_INTERVAL  # each 0.5 GeV bin in ten pieces of 0.05 GeV
    assert ((table.energy > 0) & (table.energy < 1)).all()
    assert table.weight[first].sum() == pytest.approx(0.25) and table.weight[~first].sum() == pytest.approx(0.75)
    assert np.sum(table.energy * table.weight) == pytest.approx(0.25 * 0.25 + 0.75 * 0.75)
    assert (flux.read_flux(edges, "numubar").energy < 0.5).all()
    nue = flux.read_flux(edges, "nue", emax=1.0).energy
    assert ((nue > 0.5) & (nue < 1.0)).all()
    two = tmp_path / "two.csv"  # samples, Φ linear between them: exact moments of Φ(E)
    two.write_text("E,phi\n0.5,1\n1.0,1\n1.5,2\n")
    samples = flux.read_flux(two)
    assert samples.weight.sum() == pytest.approx(1.0) and samples.weight[samples.energy > 1].sum() == pytest.approx(0.6)
    mean = (0.375 + 2 * 1.5**3 / 3 - 1.5**2 / 2 - 1 / 6) / 1.25  # ∫E Φ dE / ∫Φ dE
    assert np.sum(samples.energy * samples.weight) == pytest.approx(mean)
    (tmp_path / "falling.csv").write_text("E,phi\n1.0,1\n0.5,1\n")
    with pytest.raises(flux.FluxError, match=r"falling\.csv:3: the energies of an \(E_nu, flux\) table"):
        flux.read_flux(tmp_path / "falling.csv")
    (tmp_path / "gap.txt").write_text("E phi\n0.5 1\n1.0 1\n1.5 nan\n2.0 2\n2.5 1\n")  # not a zero-flux gap
    with pytest.raises(flux.FluxError, match=r"gap\.txt:4: not a finite number \(nan or inf\)$"):
        flux.read_flux(tmp_path / "gap.txt")
    (tmp_path / "negative.txt").write_text("# E phi\n0.5 1\n1.0 -1\n")
    with pytest.raises(flux.FluxError, match=r"negative\.txt:3: a negative flux$"):
        flux.read_flux(tmp_path / "negative.txt")
    (tmp_path / "bad.txt").write_text("no numbers here\n")
    with pytest.raises(flux.FluxError, match=r"bad\.txt"):
        flux.read_flux(tmp_path / "bad.txt")
    with pytest.raises(flux.FluxError, match="cannot read"):
        flux.read_flux(tmp_path / "missing.txt")
    with pytest.raises(neutrino.NeutrinoError, match="--flavor 'nutau'"):
        flux.read_flux(edges, "nutau")
    with pytest.raises(flux.FluxError, match="--emax -1: must be > 0 GeV"):
        flux.read_flux(edges, emax=-1)
    with pytest.raises(flux.FluxError, match=r"no positive flux at or below --emax 0.3 GeV$"):
        flux.read_flux(edges, "nue", emax=0.3)  # its first bin is empty
    with pytest.raises(flux.FluxError, match=r"no positive flux at or below --emax 0.4 GeV \(its lowest energy: 0.5"):
        flux.read_flux(two, emax=0.4)
    cut = flux.read_flux(edges, emax=0.75)  # a bin across --emax keeps its share below it
    assert cut.energy.max() < 0.75 and cut.weight[cut.energy > 0.5].sum() == pytest.approx(1.5 / 2.5)
    flipped = tmp_path / "flipped.txt"
    flipped.write_text("0.5 0.0 1\n0.5 1.0 2\n")
    with pytest.raises(flux.FluxError, match=r"flipped.txt:1: a bin's upper edge must lie above its lower edge"):
        flux.read_flux(flipped)
    mev = tmp_path / "mev.txt"
    mev.write_text("".join(f"{e} {e + 50} 1\n" for e in range(0, 10000, 50)))
    with pytest.raises(flux.FluxError, match=r"energies up to 10000 GeV; enxs reads E_nu in GeV: convert a table"):
        flux.read_flux(mev)
    assert flux.read_flux(mev, emax=5.0).energy.max() < 5.0


def test_a_flux_averaged_total_cross_section_is_the_flux_average_of_sigma_and_of_the_double_differential(tmp_path):
    (tmp_path / "flux.csv").write_text("E,phi\n0.4,1\n0.8,3\n1.2,1\n")
    table = flux.read_flux(tmp_path / "flux.csv")
    averaged = neutrino.total_cross_section(None, "12C", flux=table)
    assert list(averaged.to_frame().columns)[:2] == ["flux_mean_E_nu_GeV", "mean_cm2"]
    assert averaged.points["flux_mean_E_nu_GeV"][0] == pytest.approx(0.8)
    each = neutrino.total_cross_section(None, "12C", table.energy)
    assert averaged.mean[0] == pytest.approx(float(each.mean @ table.weight), rel=1e-3, abs=0)
    # the same number from the flux-averaged d²σ/dT dcos θ integrated over T and cos θ = 1 − 2u² (midpoints)
    n_t, n_u, reach = 300, 200, table.energy.max() - MUON_MASS  # GeV: the highest T the flux reaches
    t, u = (np.arange(n_t) + 0.5) / n_t * reach, (np.arange(n_u) + 0.5) / n_u
    spectrum = neutrino.double_differential(None, "12C", t[:, None], 1 - 2 * u[None, :] ** 2, flux=table)
    integral = (spectrum.mean.reshape(n_t, n_u) * 4 * u[None, :]).sum() * (reach / n_t) / n_u
    assert integral == pytest.approx(averaged.mean[0], rel=0.01, abs=0)
    with pytest.raises(neutrino.NeutrinoError, match="not both or neither"):
        neutrino.total_cross_section(None, "12C", [1.0], flux=table)


def test_a_flux_average_integrates_each_bin_so_that_forward_spectra_have_no_bumps(monkeypatch):
    miniboone = Path(__file__).resolve().parents[2] / "shared" / "data" / "neutrino" / "miniboone-ccqe"
    t = np.linspace(0.3, 1.5, 61)  # cos θ = 0.95: a peak narrower in E_ν than MiniBooNE's 50 MeV bins

    def forward(nodes):
        monkeypatch.setattr(flux, "NODES_PER_INTERVAL", nodes)
        table = flux.read_flux(miniboone / "flux_neutrino_mode.txt", "numu", 3.0)
        return neutrino.double_differential(None, "12C", t, 0.95, flux=table, scaling="f0").mean

    reference, default, centres = forward(16), forward(4), forward(1)
    error, centre_error = (np.max(np.abs(p / reference - 1)) for p in (default, centres))
    assert error < 0.03 and centre_error > 5 * error, (error, centre_error)


def test_a_flux_of_wide_bins_is_integrated_piece_by_piece(tmp_path, monkeypatch):
    """0.25 GeV bins up to 10 GeV (a long-baseline flux's): each bin is cut into 0.05 GeV pieces; with 4 energies
    per bin, forward low-T points of argon were up to 71% off."""
    edges = np.arange(0.25, 10.01, 0.25)
    phi = np.exp(-(((edges[:-1] + edges[1:]) / 2 - 2.5) / 1.2) ** 2)
    rows = zip(edges[:-1], edges[1:], phi, strict=True)
    (tmp_path / "flux.txt").write_text("".join(f"{a:.3f} {b:.3f} {p:.6e}\n" for a, b, p in rows))
    table = flux.read_flux(tmp_path / "flux.txt")
    assert len(table.energy) == 5 * flux.NODES_PER_INTERVAL * len(phi) and table.weight.sum() == pytest.approx(1)
    in_bin = table.weight[(table.energy > 2.25) & (table.energy < 2.5)].sum()
    assert in_bin == pytest.approx(phi[8] / phi.sum(), rel=1e-5)  # Φ per bin (6 digits), spread over its pieces
    t, c = np.meshgrid([0.5, 1.0, 1.5, 2.0], [0.95, 0.9, 0.8], indexing="ij")
    pieces = neutrino.double_differential(None, "40Ar", t.ravel(), c.ravel(), flux=table).mean
    monkeypatch.setattr(flux, "NODES_PER_INTERVAL", 64)
    monkeypatch.setattr(flux, "PIECE_WIDTH", 1.0)
    fine = neutrino.double_differential(None, "40Ar", t.ravel(), c.ravel(), flux=flux.read_flux(tmp_path / "flux.txt"))
    assert pieces == pytest.approx(fine.mean, rel=0.01, abs=0)


def test_a_flux_average_up_to_10_gev_takes_sigma_in_relative_steps_where_it_flattens(tmp_path, monkeypatch):
    monkeypatch.setattr(flux, "NODES_PER_INTERVAL", 1)  # one energy per 0.25 GeV: σ at every node stays cheap
    monkeypatch.setattr(flux, "PIECE_WIDTH", 0.25)
    edges = np.arange(0.25, 10.01, 0.25)
    (tmp_path / "flux.txt").write_text("".join(f"{a:.2f} {a + 0.25:.2f} {np.exp(-a / 3):.6e}\n" for a in edges[:-1]))
    table = flux.read_flux(tmp_path / "flux.txt")
    nodes = neutrino._sigma_nodes(table.energy.min(), table.energy.max())
    assert len(nodes) < 0.6 * (table.energy.max() - table.energy.min()) / neutrino.FLUX_STEP
    assert np.diff(nodes)[-1] == pytest.approx(neutrino.FLUX_RELATIVE_STEP * nodes[-2])
    averaged = neutrino.total_cross_section(None, "40Ar", flux=table).mean[0]
    every = neutrino.total_cross_section(None, "40Ar", table.energy).mean @ table.weight
    assert averaged == pytest.approx(every, rel=2e-4, abs=0)


@pytest.fixture(scope="module")
def structured_model():
    return Ensemble.load("enxs-any-fast")


def test_points_beyond_the_neutrino_energy_are_zero_and_said_so_and_no_points_are_refused():
    with pytest.warns(UserWarning, match=r"1 of 2 point\(s\) have T_mu \+ m_mu ≥ E_nu = 1 GeV: kinematically"):
        result = neutrino.double_differential(None, "12C", [0.7, 0.95], 0.8, energy=1.0)
    assert result.mean[0] > 0 and result.mean[1] == 0.0
    with pytest.raises(neutrino.NeutrinoError, match="no neutrino energy"):
        neutrino.total_cross_section(None, "12C", [])
    with pytest.raises(neutrino.NeutrinoError, match=r"^--energy \[1.0, 2.0\]: one neutrino energy"):
        neutrino.double_differential(None, "12C", 0.3, 0.5, energy=[1.0, 2.0])  # was a TypeError
    with pytest.raises(neutrino.NeutrinoError, match=r"^--energy: not numbers \(\['x'\]\)$"):
        neutrino.total_cross_section(None, "12C", ["x"])
    with pytest.raises(neutrino.NeutrinoError, match="two whole numbers ≥ 8"):  # was 8 points, silently
        neutrino.total_cross_section(None, "12C", [1.0], nodes=(0, 4))
    with pytest.raises(neutrino.NeutrinoError, match=r"^--cos 1.5: cos θ must lie in \[-1, 1\]$"):
        neutrino.double_differential(None, "12C", [0.5, 0.6], [0.5, 1.5], energy=1.0)
    for value in ("nan", "inf"):
        with pytest.raises(neutrino.NeutrinoError, match=rf"^--tmu {value}: T must be finite"):
            neutrino.double_differential(None, "12C", [float(value)], 0.5, energy=1.0)
    with pytest.raises(EnxsError, match="t_lepton \\(2,\\), cos_theta \\(3,\\)"):
        neutrino.double_differential(None, "12C", [0.5, 0.6], [0.1, 0.2, 0.3], energy=1.0)


def test_ensemble_cross_sections_have_a_band_and_the_fermi_gas_size(structured_model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = neutrino.total_cross_section(structured_model, "12C", [1.0])
        grid = neutrino.double_differential(structured_model, "40Ar", [0.2, 0.5, 0.8], [0.3, 0.6, 0.9],
                                            flavor="numubar", energy=1.0)
    assert result.members.shape == (50, 1) and 0.5e-38 < result.mean[0] < 1.3e-38
    assert result.std[0] > 0
    assert np.isfinite(grid.members).all() and (grid.members >= 0).all() and grid.mean.max() > 0
    assert "40Ar" in grid.metadata["nucleus"] and grid.metadata["zero_shot"]
    frame = grid.to_frame()
    assert list(frame.columns)[:3] == ["T_mu_GeV", "cos_theta_mu", "mean_cm2_per_GeV"]


def test_the_split_puts_f_L_in_the_longitudinal_and_f_T_in_the_transverse_share(structured_model):
    t, cos = np.array([0.2, 0.5, 0.7, 0.5]), np.array([0.3, 0.6, 0.9, -0.5])
    d = describe(CARBON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for flavor, std in (("numu", 0.0), ("numubar", 0.03)):  # with M_A drawn per member, each its own share
            current = neutrinorequest.FLAVORS[flavor][1]
            members = {s: neutrino.double_differential(structured_model, "12C", t, cos, flavor=flavor, energy=1.0,
                                                       scaling=s, axial_mass_std=std).members for s in ("L", "T", "LT")}
            masses = ccqe.axial_masses(structured_model.model.draws, ccqe.AXIAL_MASS, std)
            v_final = coulomb.lepton_potential(CARBON, current.sign)
            share = torch.stack([ccqe.kernel(1.0, t, cos, d.k_fermi, d.e_shift, current, v_final, axial_mass=float(m),
                                             pauli=True).longitudinal for m in (masses if std else [ccqe.AXIAL_MASS])])
            share = share.numpy()
            assert members["LT"] == pytest.approx(share * members["L"] + (1 - share) * members["T"], rel=1e-6, abs=0)
            assert (share > 0).all() and (share < 1).all()
            assert not np.allclose(members["LT"], members["T"], rtol=1e-3, atol=0)


def test_points_are_flagged_where_the_electron_data_do_not_constrain_them(structured_model, monkeypatch):
    """A point's whole contribution where no electron data at several angles constrain the responses (as
    ``enxs responses`` flags them); its part through f_T where the quasielastic part of the electron R_T is small."""
    t, c = (a.ravel() for a in np.meshgrid(np.linspace(0.05, 2.5, 25), np.linspace(-0.95, 0.95, 20), indexing="ij"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = neutrino.double_differential(structured_model, "12C", t, c, energy=3.0)
        averaged = neutrino.double_differential(structured_model, "12C", t, c, energy=3.0, cell=(0.1, 0.1))
    live = one.mean > 0  # one energy, no cell: each point has one (q, ω), flagged as enxs responses flags it
    d = describe(Nucleus.parse("12C"))
    k = ccqe.kernel(3.0, t[live], c[live], d.k_fermi, d.e_shift, NU, coulomb.lepton_potential(CARBON, NU.sign))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        separated = predict_responses(structured_model, k.q.numpy(), k.omega.numpy(), nucleus="12C")
    (f_l, f_t), qe_share = (v.numpy() for v in modelscaling.scaling_members(structured_model, CARBON, k, "LT"))
    small, longitudinal = qe_share < modelscaling.QE_SHARE_MIN, k.longitudinal.numpy()
    through_f_t = ((1 - longitudinal) * f_t).mean(0) / (longitudinal * f_l + (1 - longitudinal) * f_t).mean(0)
    expected = np.where(separated.outside_coverage, 1.0, np.where(small, through_f_t, 0.0))
    assert one.unconstrained_share[live] == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert (separated.outside_coverage.mean() > 0.1) and (small & ~separated.outside_coverage).mean() > 0.1
    assert 0.1 < one.outside_coverage[live].mean() < 0.9
    assert "through f_T" in one.metadata["unconstrained_share"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        longitudinal = neutrino.double_differential(structured_model, "12C", t[live], c[live], energy=3.0, scaling="L")
    assert np.array_equal(longitudinal.outside_coverage, separated.outside_coverage)  # f_L: the responses' rule alone
    assert "f_T" not in longitudinal.metadata["unconstrained_share"]
    assert ((averaged.unconstrained_share > 0) & (averaged.unconstrained_share < 1)).any()  # a cell straddles
    assert np.array_equal(averaged.outside_coverage, averaged.unconstrained_share >= neutrinorequest.FLAG_SHARE)
    assert list(one.to_frame().columns)[-2:] == ["unconstrained_share", "outside_coverage"]
    assert neutrino.total_cross_section(None, "12C", [1.0]).outside_coverage is None  # a baseline: no data to flag
    monkeypatch.setattr(Ensemble, "training_settings", lambda self, target, responses=False: None)
    with pytest.warns(ExtrapolationWarning, match="coverage of enxs-any-fast is unknown"):
        unknown = neutrino.total_cross_section(structured_model, "12C", [1.0], nodes=(32, 16))
    assert unknown.outside_coverage.all() and unknown.unconstrained_share[0] == pytest.approx(1.0)


def test_the_transverse_enhancement_is_the_sub_threshold_transverse_strength_over_the_quasielastic_part(
        structured_model):
    """TE(q) = 1 + ∫ (s_<π R_T^in) / ∫ R_T^QE over the quasielastic region |ψ′| ≤ 1 at fixed q, integrated here
    independently (a finer ω rule, s_<π as the logistic of −3ψ′_W); f_T times it in the cross section."""
    from enxs import structured
    from enxs.responses import member_responses

    te = modelscaling.transverse_enhancement(structured_model, CARBON, "LT")
    assert te.factor.shape == (50, len(te.q)) and (te.factor >= 1).all()
    d = describe(CARBON)
    for q in (0.3, 0.8):
        node = int(np.argmin(np.abs(te.q - q)))
        assert te.q[node] == pytest.approx(q)
        omega = np.linspace(d.e_shift, q, 4001)[1:-1]
        q_t, w_t = torch.full((len(omega),), q, dtype=torch.float64), torch.as_tensor(omega)
        inside = (superscaling.psi_prime(q_t, w_t, d.k_fermi, d.e_shift).abs() <= 1).numpy()
        psi_w = superscaling.psi_prime(q_t, w_t, d.k_fermi, d.e_shift, structured.PION_THRESHOLD).numpy()
        terms = member_responses(structured_model.model, np.full(len(omega), q), omega, CARBON, terms=True)
        below = 1 / (1 + np.exp(3 * psi_w))
        expected = 1 + (terms[..., 2] * below * inside).sum(-1) / (terms[..., 1] * inside).sum(-1)
        assert te.factor[:, node] == pytest.approx(expected, rel=5e-3)  # 256 midpoints against 4,000
    assert 1.1 < np.interp(0.8, te.q, te.factor.mean(0)) < 3  # the model's R_T holds strength below the pion
    t, c = np.array([0.2, 0.5, 0.7]), np.array([0.3, 0.6, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain, enhanced = (neutrino.double_differential(structured_model, "12C", t, c, energy=1.0, scaling="T",
                                                        transverse_enhancement=e) for e in (False, True))
    k = ccqe.kernel(1.0, t, c, d.k_fermi, d.e_shift, NU, coulomb.lepton_potential(CARBON, NU.sign))
    assert enhanced.members == pytest.approx(plain.members * te.at(k.q).numpy(), rel=1e-9, abs=0)
    assert "transverse enhancement" in enhanced.metadata["physics"]
    assert enhanced.metadata["not_included"] == neutrinorequest.NOT_INCLUDED_ENHANCED
    assert plain.metadata["not_included"] == neutrinorequest.NOT_INCLUDED
    assert "enhancement" not in plain.metadata["physics"]
    with pytest.raises(neutrino.NeutrinoError, match="needs --scaling LT or T, not L"):
        neutrino.total_cross_section(structured_model, "12C", [1.0], scaling="L", transverse_enhancement=True)
    with pytest.raises(neutrino.NeutrinoError, match="a baseline has none"):
        neutrino.total_cross_section(None, "12C", [1.0], transverse_enhancement=True)


def test_a_zero_shot_nucleus_transverse_enhancement_does_not_hold_its_members_factors(structured_model, monkeypatch):
    from enxs import responses

    argon = Nucleus.parse("40Ar")
    assert np.ptp(responses.member_factors(structured_model.model, argon)) > 0.1  # zero-shot: each member its own
    drawn = modelscaling.transverse_enhancement(structured_model, argon, "LT")
    monkeypatch.setattr(responses, "member_factors", lambda model, nucleus: np.ones((model.draws, 1)))
    assert modelscaling._enhancement(structured_model, argon).factor == pytest.approx(drawn.factor, rel=1e-12)
    again = modelscaling.transverse_enhancement(structured_model, argon, "T")
    assert again is drawn  # one table per loaded model and nucleus, whichever scaling uses it
    with pytest.raises(ValueError, match="read-only"):
        again.factor[0, 0] = 2.0


def test_a_cross_section_model_says_which_model_works():
    sigma_only = Ensemble.load("enxs-any-sigma-fast")
    with pytest.raises(neutrino.NeutrinoError, match="enxs-any-fast"):
        neutrino.total_cross_section(sigma_only, "12C", [1.0])
    response_network = Ensemble.load("enxs-12C-responses-fast")
    own = neutrino.total_cross_section(response_network, None, [1.0], nodes=(64, 48))  # None: its own nucleus
    assert own.mean[0] > 0
    assert own.mean[0] == neutrino.total_cross_section(response_network, "12C", [1.0], nodes=(64, 48)).mean[0]
    with pytest.raises(EnxsError, match="name the nucleus to predict"):
        neutrino.total_cross_section(sigma_only, None, [1.0])
    with pytest.raises(neutrino.NeutrinoError, match="needs the nucleus"):
        neutrino.total_cross_section(None, None, [1.0])
    for scaling in ("T", "LT"):
        with pytest.raises(neutrino.NeutrinoError, match="--scaling L"):
            neutrino.total_cross_section(response_network, "12C", [1.0], scaling=scaling)


def test_neutrino_command_writes_a_table_and_keeps_an_existing_one(tmp_path):
    out = tmp_path / "ar.csv"
    args = ["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--flavor", "numubar", "--energy", "1.0",
            "--tmu", "0.1:0.9:3", "--cos", "-0.5:0.9:3", "--output", out]
    result = enxs(*args)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "per active nucleon (per proton)" in text and "2p2h" in text
    assert "potential energy +6.43 MeV in the final nucleus (Z = 17)" in text  # μ⁺ leaves 40Cl
    again = enxs(*args)
    assert again.returncode != 0 and "--overwrite" in again.stderr and out.read_text() == text
    plane = enxs(*args[:-1], tmp_path / "plane.csv", "--no-coulomb")
    assert plane.returncode == 0 and "the outgoing lepton is a plane wave" in (tmp_path / "plane.csv").read_text()
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1
    with pytest.raises(neutrino.NeutrinoError, match="--flavor 'nutau'"):
        neutrino.total_cross_section(None, "12C", [1.0], flavor="nutau")
    for mass in (0.0, -1.0):  # M_A = 0 would drop the axial current without a word
        with pytest.raises(neutrino.NeutrinoError, match=f"--axial-mass {mass:g}: must be > 0 GeV"):
            neutrino.double_differential(None, "12C", 0.5, 0.8, energy=1.0, axial_mass=mass)
    for energy in (-1.0, 0.0, float("nan")):  # refused, not a table of zeros
        with pytest.raises(neutrino.NeutrinoError, match="> 0 GeV"):
            neutrino.double_differential(None, "12C", [0.2], [0.5], energy=energy)
        with pytest.raises(neutrino.NeutrinoError, match="> 0 GeV"):
            neutrino.total_cross_section(None, "12C", [1.0, energy])


def test_wide_cells_at_high_energy_converge_with_more_points_per_cell():
    """A 0.25 GeV × 0.02 cell at E_ν = 5 GeV holds a quasielastic peak narrower than the cell: 3 × 3 points
    miss it by up to 29%, 12 × 12 agree with 24 × 24 within 1%."""
    t, c = np.meshgrid(np.arange(3.125, 4.9, 0.25), [0.99, 0.97, 0.95, 0.91], indexing="ij")
    sigma = {n: neutrino.double_differential(None, "40Ar", t.ravel(), c.ravel(), energy=5.0, cell=(0.25, 0.02),
                                             cell_points=n).mean for n in (3, 12, 24)}
    seen = sigma[24] > 0.01 * sigma[24].max()
    assert sigma[12][seen] == pytest.approx(sigma[24][seen], rel=0.01, abs=0)
    assert np.abs(sigma[3][seen] / sigma[24][seen] - 1).max() > 0.1
    with pytest.raises(neutrino.NeutrinoError, match="--cell-points 0: choose a whole number from 1 to 32"):
        neutrino.double_differential(None, "40Ar", [4.0], [0.95], energy=5.0, cell=(0.25, 0.02), cell_points=0)


def test_lepton_points_in_blocks_give_the_one_pass_numbers(structured_model, tmp_path, monkeypatch):
    """Flux-averaged and cell-averaged, points in blocks of 3 (memory bounded) add up as in one pass."""
    (tmp_path / "flux.txt").write_text("0.2 1\n0.8 3\n1.6 2\n2.4 0.5\n")
    table = flux.read_flux(tmp_path / "flux.txt")
    t, c = np.meshgrid([0.15, 0.4, 0.7, 1.0], [0.3, 0.6, 0.9], indexing="ij")

    def predict(on_pass=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # points flagged as unconstrained: the same in both
            return neutrino.double_differential(structured_model, "12C", t.ravel(), c.ravel(), flux=table,
                                                cell=(0.1, 0.05), transverse_enhancement=True, on_pass=on_pass)

    one_pass = predict()
    monkeypatch.setattr(neutrino, "POINT_BLOCK", 3 * len(table.energy))
    calls = []
    blocks = predict(lambda done, total: calls.append((done, total)))
    assert calls == [(i, 36) for i in range(37)]  # 4 blocks of 3 points × 3 × 3 cell points, then done
    assert (one_pass.members > 0).all() and np.allclose(blocks.members, one_pass.members, rtol=1e-12, atol=0)
    assert np.allclose(blocks.unconstrained_share, one_pass.unconstrained_share, rtol=1e-12, atol=0)


def test_each_point_can_have_its_own_bin(tmp_path):
    t, c = np.array([0.3, 0.6, 0.7]), np.array([0.85, 0.95, 0.7])
    uniform = neutrino.double_differential(None, "12C", t, c, energy=1.0, cell=(0.1, 0.05))
    per_point = neutrino.double_differential(None, "12C", t, c, energy=1.0, cell=(np.full(3, 0.1), [0.05] * 3))
    assert np.array_equal(uniform.members, per_point.members)
    mixed = neutrino.double_differential(None, "12C", t, c, energy=1.0, cell=([0.0, 0.1, 0.4], [0.0, 0.05, 0.2]))
    centre = neutrino.double_differential(None, "12C", t, c, energy=1.0)
    assert mixed.mean[0] == pytest.approx(centre.mean[0], rel=1e-12, abs=0) and mixed.mean[1] == uniform.mean[1]
    assert abs(mixed.mean[2] / centre.mean[2] - 1) > 1e-3  # a wide bin averages over a curved cross section
    assert list(mixed.to_frame().columns[:4]) == ["T_mu_GeV", "cos_theta_mu", "dT_mu_GeV", "dcos_theta_mu"]
    with pytest.raises(neutrino.NeutrinoError, match=r"^ΔT 0.8: a cell's ΔT must lie in \[0, 2T\]: T − ΔT/2 ≥ 0 "
                                                     r"\(T = 0.3 GeV\)$"):
        neutrino.double_differential(None, "12C", t, c, energy=1.0, cell=(0.8, 0.1))
    # the command line: a file of points, each with its bin, as an experiment's irregular binning
    from enxs.cli.common import CLIError
    from enxs.cli.neutrino import compute

    bins = tmp_path / "bins.csv"
    bins.write_text("# irregular bins\nT_mu_GeV,cos_theta_mu,dT,dcos\n0.3,0.85,0.0,0.0\n0.6,0.95,0.1,0.05\n"
                    "0.7,0.7,0.4,0.2\n")
    args = dict(model="enxs-any-fast", nucleus="12C", flavor="numu", energy="1.0", flux=None, emax=None, tmu=None,
                cos=None, total=False, axial_mass=1.03, per="nucleon", scaling=None, bin_average=False, pauli=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = compute(**args, input_=bins)
        direct = neutrino.double_differential("enxs-any-fast", "12C", t, c, energy=1.0,
                                              cell=([0.0, 0.1, 0.4], [0.0, 0.05, 0.2]))
    assert np.array_equal(read.members, direct.members)
    for text, message in (("T,cos,dT\n0.3,0.85,0.1\n", "cells need both a dT and a dcos column"),
                          ("T,cos,dT,dcos\n0.3,0.85,0.1,0.1\n\n# a comment\n0.05,0.5,0.2,0.1\n",
                           r"bad.csv:5: dT = 0.2: a cell's ΔT must lie in \[0, 2T\]"),
                          ("T,cos\n0.3,1.2\n", r"bad.csv:2: cos = 1.2: cos θ must lie in \[-1, 1\]")):
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(EnxsError, match=message):
            compute(**args, input_=tmp_path / "bad.csv")
    with pytest.raises(CLIError, match=r"^--tmu, --bin-average: not used with --input"):
        compute(**{**args, "tmu": "0.1:0.5:3", "bin_average": True}, input_=bins)
    with pytest.raises(CLIError, match=r"^--bin-average: the bin around T = 0 GeV \(0.1 GeV wide"):
        compute(**{**args, "tmu": "0:1:11", "cos": "0.5,0.9", "bin_average": True})


def test_bins_in_the_leptons_momentum_are_its_bins_in_kinetic_energy_times_the_jacobian(tmp_path):
    from enxs import leptonbins
    from enxs.cli.neutrino import compute

    m = MUON_MASS
    t, d_t, jacobian = leptonbins.from_momentum(np.array([0.4, 0.9]), None, m)  # points: T(p), dT/dp = p/E
    assert t == pytest.approx(np.sqrt(np.array([0.4, 0.9]) ** 2 + m * m) - m) and jacobian == pytest.approx(
        np.array([0.4, 0.9]) / (t + m)) and d_t is None
    p, d_p, cos, d_cos = np.array([0.4, 0.9]), np.array([0.1, 0.2]), np.array([0.85, 0.95]), np.array([0.1, 0.05])
    t, d_t, jacobian = leptonbins.from_momentum(p, d_p, m)
    high = np.sqrt((p + d_p / 2) ** 2 + m * m) - m
    assert t + d_t / 2 == pytest.approx(high) and jacobian == pytest.approx(d_t / d_p)
    # the command line with a p-binned file gives the T bins' cross sections times ΔT/Δp ...
    (tmp_path / "p.csv").write_text("p_mu_GeV,cos,dp,dcos\n0.4,0.85,0.1,0.1\n0.9,0.95,0.2,0.05\n")
    args = dict(model="enxs-any-fast", nucleus="12C", flavor="numu", energy="1.0", flux=None, emax=None, tmu=None,
                cos=None, total=False, axial_mass=1.03, per="nucleon", scaling=None, bin_average=False, pauli=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_p = compute(**args, input_=tmp_path / "p.csv")
        in_t = neutrino.double_differential("enxs-any-fast", "12C", t, cos, energy=1.0, cell=(d_t, d_cos))
    assert list(in_p.to_frame().columns[:4]) == ["p_mu_GeV", "cos_theta_mu", "dp_mu_GeV", "dcos_theta_mu"]
    assert in_p.members == pytest.approx(in_t.members * jacobian, rel=1e-12, abs=0)
    assert "d2sigma/dp_mu/dcos(theta_mu) [cm^2/(GeV/c)]" in in_p.metadata["quantity"]
    # ... which is the average of d²σ/dp dcos θ = (p/E) d²σ/dT dcos θ over the momentum bin (the Fermi gas)
    sub = p[0] + d_p[0] * ((np.arange(400) + 0.5) / 400 - 0.5)
    t_sub, _, jacobian_sub = leptonbins.from_momentum(sub, None, m)
    fine = neutrino.double_differential(None, "12C", t_sub[:, None], cos[0] + d_cos[0] * (
        (np.arange(40) + 0.5) / 40 - 0.5)[None, :], energy=1.0).mean.reshape(400, 40)
    binned = neutrino.double_differential(None, "12C", t[:1], cos[:1], energy=1.0, cell=(d_t[:1], d_cos[:1]))
    assert (fine * jacobian_sub[:, None]).mean() == pytest.approx(binned.mean[0] * jacobian[0], rel=0.01, abs=0)
    for text, message in (("p,T,cos\n0.3,0.2,0.5\n", "give a T or a p column"),
                          ("p,cos,dp\n0.3,0.5,0.1\n", "cells need both a dp and a dcos column"),
                          ("p,cos\n-0.3,0.5\n", r"bad.csv:2: p = -0.3: p must be finite and ≥ 0 GeV"),
                          ("p,cos,dp,dcos\n0.3,0.5,0.8,0.1\n", r"bad.csv:2: dp = 0.8: a cell's Δp must lie in")):
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(EnxsError, match=message):
            compute(**args, input_=tmp_path / "bad.csv")


def test_neutrino_hepdata_submission_and_figure(tmp_path):
    pytest.importorskip("hepdata_lib")
    import matplotlib

    matplotlib.use("Agg")
    from enxs.cli.neutrino import plot_neutrino
    from enxs.hepdata import write_neutrino_submission

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = neutrino.total_cross_section("enxs-any-fast", "16O", [0.5, 1.0, 2.0], nodes=(64, 32))
        write_neutrino_submission(result, tmp_path / "hd")
        plot_neutrino("enxs-any-fast", "12C", "numu", 1.0, None, None, "0.9,0.5", False, tmp_path / "nu.png")
        plot_neutrino("enxs-any-fast", "12C", "numu", 1.0, None, None, "0.9", False, tmp_path / "te.png", True)
    assert (tmp_path / "nu.png").stat().st_size > 10_000 and (tmp_path / "te.png").stat().st_size > 10_000
    table = (tmp_path / "hd" / "16o_ccqe_sigma.yaml").read_text()
    assert "E_nu_GeV" in table and "ensemble standard deviation" in table
    assert "share of the mean the electron data do not constrain" in table
    assert "below 25% of the model" in (tmp_path / "hd" / "submission.yaml").read_text()  # the description
    binned = neutrino.double_differential(None, "12C", [0.3, 0.6], [0.85, 0.9], energy=1.0,
                                          cell=([0.2, 0.4], [0.1, 0.05]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # hepdata_validator leaves a file open
        write_neutrino_submission(binned, tmp_path / "bins")
    bins = (tmp_path / "bins" / "12c_ccqe_d2sigma.yaml").read_text()  # a bin per point: its edges, not its width
    assert "low: 0.2" in bins and "high: 0.8" in bins and "low: 0.875" in bins and "dT_mu_GeV\n" not in bins
    assert "unconstrained (1: half of the mean or more)" in table
    assert (tmp_path / "hd" / "submission.tar.gz").is_file()
    assert (tmp_path / "nu.png").stat().st_size > 10_000


def test_an_axial_mass_spread_per_member_widens_the_band(structured_model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = neutrino.total_cross_section(structured_model, "12C", [1.0], nodes=(64, 32))
        spread = neutrino.total_cross_section(structured_model, "12C", [1.0], nodes=(64, 32), axial_mass_std=0.1)
        heavier = neutrino.total_cross_section(structured_model, "12C", [1.0], nodes=(64, 32), axial_mass=1.13)
    masses = ccqe.axial_masses(structured_model.model.draws, 1.03, 0.1)
    assert masses.shape == (50,) and masses.std() == pytest.approx(0.1, rel=0.3)
    assert masses[:10].tolist() == ccqe.axial_masses(structured_model.model.draws, 1.03, 0.1)[:10].tolist()
    # the band widens, and what the draws add in quadrature is M_A's own spread, dσ/dM_A × 0.1 GeV (the shipped
    # model: 0.96 of it; 50 draws scatter their width by ~10%, and they need not be independent of the members)
    assert spread.std[0] > plain.std[0]
    added = np.sqrt(spread.std[0] ** 2 - plain.std[0] ** 2)
    assert added == pytest.approx(heavier.mean[0] - plain.mean[0], rel=0.25, abs=0)
    assert spread.mean[0] == pytest.approx(plain.mean[0], rel=0.05, abs=0)
    assert "axial masses" in spread.metadata["band"]
    with pytest.raises(neutrino.NeutrinoError, match="needs a model"):
        neutrino.total_cross_section(None, "12C", [1.0], axial_mass_std=0.1)


def test_a_zero_shot_nucleus_carries_each_members_factor_into_the_neutrino_band():
    ensemble, argon = Ensemble.load("enxs-any-fast"), Nucleus.parse("40Ar")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        widened = neutrino.total_cross_section(ensemble, "40Ar", [1.0], nodes=(32, 16))
        factors = ensemble.model.zero_shot.factors(argon, ensemble.members)
        ensemble.model.zero_shot = None
        plain = neutrino.total_cross_section(ensemble, "40Ar", [1.0], nodes=(32, 16))
    assert widened.members[:, 0] == pytest.approx(plain.members[:, 0] * factors, rel=1e-6, abs=0)
    assert widened.std[0] > plain.std[0]


@pytest.mark.slow
def test_a_flavour_ratio_is_plotted(tmp_path):
    """σ(ν_e)/σ(ν_μ) against E_ν with its band (two flavours at 60 energies: 40 s on one thread)."""
    figure = enxs("plot", "enxs-any-fast", "--neutrino", "nue", "--ratio-to", "numu", "--nucleus", "12C", "--total",
                  "--emax", "1.0", "--output", tmp_path / "r.png")
    assert figure.returncode == 0 and (tmp_path / "r.png").stat().st_size > 10_000, figure.stderr


def test_a_flavour_ratio_is_taken_member_by_member_so_that_what_they_share_cancels(tmp_path):
    """ν_e/ν_μ of one model: each member's σ_e over its σ_μ (a zero-shot nucleus' factor and a drawn M_A cancel),
    > 1 near threshold (the lighter lepton has more phase space), → 1 at high E_ν; NaN and a warning below ν_μ's
    threshold."""
    ensemble = Ensemble.load("enxs-any-fast")
    energies = [0.1, 0.3, 1.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sigma = [neutrino.total_cross_section(ensemble, "40Ar", energies, flavor=f, nodes=(32, 16),
                                              axial_mass_std=0.05) for f in ("nue", "numu")]
    with pytest.warns(UserWarning, match=r"sigma\(numu\) is 0 \(below its threshold\) at E_nu_GeV = 0.1: the ratio"):
        ratio = neutrino.flavor_ratio(*sigma)
    expected = sigma[0].members[:, 1:] / sigma[1].members[:, 1:]
    assert np.isnan(ratio.members[:, 0]).all() and np.array_equal(ratio.members[:, 1:], expected)
    assert ratio.mean[1] > ratio.mean[2] > ratio.mean[3] > 1.0 and ratio.mean[3] < 1.01
    relative = [s.std[1:] / s.mean[1:] for s in (ratio, sigma[1])]
    assert (relative[0] < 0.2 * relative[1]).all()  # the zero-shot factor, M_A and the shape shared cancel
    assert ratio.metadata["flavor"] == "nue/numu" and "radiative corrections" in ratio.metadata["band"]
    assert list(ratio.to_frame().columns[:2]) == ["E_nu_GeV", "mean_ratio"]
    assert ratio.outside_coverage[0] == sigma[0].outside_coverage[0] | sigma[1].outside_coverage[0]
    with pytest.raises(neutrino.NeutrinoError, match="same points from the same members"):
        neutrino.flavor_ratio(sigma[0], neutrino.total_cross_section(None, "40Ar", energies, flavor="numu"))
    out = tmp_path / "r.csv"
    result = enxs("neutrino", "enxs-any-fast", "--nucleus", "12C", "--flavor", "nuebar", "--ratio-to", "numubar",
                  "--total", "--energy", "0.6,1.0", "--output", out)
    assert result.returncode == 0, result.stderr
    assert "sigma(nuebar)/sigma(numubar)" in out.read_text()
    low = enxs("plot", "enxs-any-fast", "--neutrino", "nue", "--ratio-to", "numu", "--nucleus", "12C", "--total",
               "--emax", "0.15", "--output", tmp_path / "low.png")
    assert low.returncode != 0 and "--emax 0.15: must be finite and > 0.2 GeV" in low.stderr
    assert not (tmp_path / "low.png").exists()
    for extra, message in ((["--tmu", "0.3", "--cos", "0.9", "--energy", "1"], "--ratio-to: with --total"),
                           (["--total", "--flux", tmp_path / "none.txt"], "--ratio-to: with --total"),
                           (["--total", "--energy", "1", "--hepdata", tmp_path / "hd"], "--hepdata: a submission")):
        refused = enxs("neutrino", "enxs-any-fast", "--nucleus", "12C", "--flavor", "nue", "--ratio-to", "numu",
                       *extra)
        assert refused.returncode != 0 and message in refused.stderr and "Traceback" not in refused.stderr


def test_sigma_of_e_nu_reports_its_progress_energy_by_energy():
    calls = []
    neutrino.total_cross_section(None, "12C", [0.05, 0.5, 1.0], nodes=(16, 8), on_energy=lambda *a: calls.append(a))
    assert calls == [(1, 3), (2, 3), (3, 3)]  # below threshold too
