"""Free protons (hydrogen) beside a nucleus for antineutrinos (the amplitude itself is checked against the Fermi gas's
k_F → 0 limit in test_neutrino.py): Llewellyn Smith's σ integrated two ways, the line of
d²σ/dT dcos θ at one E_ν summed over a partition of cells and over a flux back to σ, the flux's density, and the
molecule's conventions in ``enxs neutrino``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from cli_runner import enxs
from enxs import ccqe, flux, freeproton, neutrino, neutrinorequest
from enxs.errors import EnxsError

NU, NUBAR = neutrinorequest.FLAVORS["numu"][1], neutrinorequest.FLAVORS["numubar"][1]
M = ccqe.M


def trapezoid_total(e_nu: float) -> float:
    """σ [cm²] of ν̄ p → μ⁺ n by the trapezoid rule on 200,001 Q² points (against ``freeproton.total``'s rule)."""
    low, high = freeproton.q2_range(e_nu, NUBAR.lepton_mass)
    q2 = np.linspace(low, high, 200_001)
    return float(np.trapezoid(freeproton.dsigma_dq2(e_nu, q2, NUBAR), q2))


@pytest.fixture
def histogram(tmp_path):
    """A histogram flux (bin edges, one column per flavour) of 0.1 GeV bins to 3 GeV."""
    edges = np.round(np.arange(0.0, 3.0, 0.1), 10)
    rows = [f"{a:g} {a + 0.1:g} {x:g} {x:g} 0 0" for a, x in zip(edges, np.exp(-((edges - 0.8) ** 2)), strict=True)]
    (tmp_path / "flux.txt").write_text("\n".join(rows))
    return flux.read_flux(tmp_path / "flux.txt", "numubar")


def test_sigma_of_free_protons_by_its_rule_and_by_the_trapezoid():
    for e_nu in (0.2, 1.0, 3.0, 20.0):
        assert freeproton.total(e_nu, NUBAR) == pytest.approx(trapezoid_total(e_nu), rel=1e-5, abs=0)
    threshold = NUBAR.lepton_mass + NUBAR.lepton_mass**2 / (2 * M)  # (M + m)² = M² + 2M E_ν
    assert freeproton.total([threshold * 0.99, 0.05], NUBAR).tolist() == [0.0, 0.0]
    assert freeproton.total([0.5, 3.0], NU).tolist() == [0.0, 0.0]  # no quasielastic ν p


def test_the_line_summed_over_a_partition_of_cells_is_sigma():
    e_nu, t_edges, c_edges = 1.0, np.linspace(0, 1.0, 81), np.linspace(-1, 1, 41)
    t, c = (a.ravel() for a in np.meshgrid((t_edges[1:] + t_edges[:-1]) / 2, (c_edges[1:] + c_edges[:-1]) / 2,
                                          indexing="ij"))
    cell = (np.full(t.size, t_edges[1]), np.full(t.size, c_edges[1] - c_edges[0]))
    average = freeproton.cell_average(e_nu, t, c, cell, NUBAR)
    assert (average >= 0).all() and 0 < (average > 0).mean() < 0.2  # a line crosses few cells
    assert average.sum() * cell[0][0] * cell[1][0] == pytest.approx(freeproton.total(e_nu, NUBAR), rel=1e-9, abs=0)


def test_the_flux_average_holds_the_flux_averaged_sigma(histogram):
    mean_sigma = histogram.weight @ freeproton.total(histogram.energy, NUBAR)
    t_edges, c_edges = np.linspace(0, 3.0, 601), np.linspace(-1, 1, 801)
    t, c = np.meshgrid((t_edges[1:] + t_edges[:-1]) / 2, (c_edges[1:] + c_edges[:-1]) / 2, indexing="ij")
    points = freeproton.flux_average(t, c, histogram, NUBAR)
    assert points.sum() * 0.005 * 0.0025 == pytest.approx(mean_sigma, rel=2e-3, abs=0)
    coarse_t, coarse_c = np.meshgrid(np.arange(0.05, 3.0, 0.1), np.arange(-0.95, 1.0, 0.1), indexing="ij")
    cells = freeproton.members(coarse_t.ravel(), coarse_c.ravel(), NUBAR, [1.03], flux=histogram,
                               cell=(np.full(coarse_t.size, 0.1), np.full(coarse_t.size, 0.1)))
    assert cells.sum() * 0.1 * 0.1 == pytest.approx(mean_sigma, rel=1e-6, abs=0)  # every energy's line, in cells
    e_star, _ = freeproton.source_energy(0.5, 0.8, NUBAR.lepton_mass)  # the line of E* passes through the point
    assert freeproton.cos_at_q2(e_star, 2 * M * (e_star - 0.5 - NUBAR.lepton_mass), NUBAR.lepton_mass) \
        == pytest.approx(0.8, abs=1e-12)


def test_a_flux_has_a_density_integrating_to_one(histogram, tmp_path):
    energy = np.linspace(0, 4, 400_001)
    assert np.trapezoid(histogram.density(energy), energy) == pytest.approx(1.0, abs=1e-4)
    assert histogram.density([0.85, 3.5, -1.0]).tolist() == pytest.approx(
        [1 / (0.1 * sum(np.exp(-((np.arange(0, 3, 0.1) - 0.8) ** 2)))), 0.0, 0.0], rel=1e-5)  # Φ written to 6 digits
    (tmp_path / "two.csv").write_text("E,phi\n0.5,1\n1.0,1\n1.5,2\n")
    samples = flux.read_flux(tmp_path / "two.csv", emax=1.25)  # Φ linear between samples, cut at 1.25 GeV: ∫Φ = 0.8125
    assert samples.density([0.75, 1.25, 1.125]).tolist() == pytest.approx([1 / 0.8125, 0.0, 1.25 / 0.8125])


def test_a_molecule_adds_its_protons_for_antineutrinos_only():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        carbon, ch2 = (neutrino.total_cross_section(None, "12C", [0.5, 1.0], flavor="numubar", per="nucleus",
                                                    hydrogen=h) for h in (0, 2))
        per_proton = neutrino.total_cross_section(None, "12C", [0.5, 1.0], flavor="numubar", hydrogen=2)
        neutrons = [neutrino.total_cross_section(None, "12C", [1.0], per="nucleus", hydrogen=h).mean for h in (0, 2)]
        drawn = neutrino.total_cross_section("enxs-any-fast", "12C", [1.0], flavor="numubar", per="nucleus",
                                             hydrogen=2, axial_mass_std=0.05)
    protons = freeproton.total(np.array([0.5, 1.0]), NUBAR)
    assert ch2.mean == pytest.approx(carbon.mean + 2 * protons, rel=1e-12)
    assert per_proton.mean == pytest.approx(ch2.mean / 8, rel=1e-12)  # 6 + 2 protons
    assert "12C + 2 H" in ch2.metadata["convention"] and "free protons" in ch2.metadata["physics"]
    assert neutrons[0] == pytest.approx(neutrons[1], rel=1e-12)  # ν: nothing on free protons
    water, oxygen = (neutrino.double_differential(None, "16O", [0.75], [0.8], energy=1.0, hydrogen=h).mean
                     for h in (2, 0))  # ν at one E_ν: no line to average, so no cells needed
    assert water == pytest.approx(oxygen, rel=1e-12) and oxygen > 0
    hydrogen = drawn.members[:, 0] - neutrino.total_cross_section(
        "enxs-any-fast", "12C", [1.0], flavor="numubar", per="nucleus", axial_mass_std=0.05).members[:, 0]
    assert np.std(hydrogen) > 0.02 * np.mean(hydrogen)  # each member's own M_A on its protons too


def test_free_protons_are_refused_where_they_have_no_density(tmp_path):
    with pytest.raises(EnxsError, match="free protons at one E_nu = 1 GeV: their d²σ/dT dcos θ is a line"):
        neutrino.double_differential(None, "16O", [0.5], [0.8], flavor="numubar", energy=1.0, hydrogen=2)
    with pytest.raises(EnxsError, match="a cell of zero width"):
        neutrino.double_differential(None, "16O", [0.5], [0.8], flavor="numubar", energy=1.0, hydrogen=2,
                                     cell=(0.1, 0.0))
    with pytest.raises(EnxsError, match="--hydrogen -1: the free protons"):
        neutrino.total_cross_section(None, "16O", [1.0], hydrogen=-1)
    with pytest.raises(EnxsError, match="--hydrogen N"):
        neutrino.total_cross_section(None, "1H", [1.0], flavor="numubar")
    water = neutrino.double_differential(None, "16O", [0.7], [0.8], flavor="numubar", energy=1.0, hydrogen=2,
                                         cell=(0.1, 0.1), per="nucleus")  # the line crosses the cell at T ≈ 0.72 GeV
    oxygen = neutrino.double_differential(None, "16O", [0.7], [0.8], flavor="numubar", energy=1.0,
                                          cell=(0.1, 0.1), per="nucleus")
    line = freeproton.cell_average(1.0, 0.7, 0.8, (0.1, 0.1), NUBAR)
    assert line > 0 and water.mean == pytest.approx(oxygen.mean + 2 * line, rel=1e-12)
    result = enxs("neutrino", "enxs-any-fast", "--nucleus", "16O",
                  "--flavor", "numubar", "--energy", "1", "--tmu", "0.5", "--cos", "0.8", "--hydrogen", "2",
                  "--output", str(tmp_path / "w.csv"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "is a line" in result.stderr and not (tmp_path / "w.csv").exists()
    result = enxs("neutrino", "enxs-any-fast", "--nucleus", "1H", "--flavor",
                  "numubar", "--total", "--energy", "1")
    assert result.returncode == 2 and "--hydrogen N (CH: --nucleus 12C --hydrogen 1" in result.stderr


def test_the_fermi_gas_tends_to_the_lines_cell_averages_as_k_fermi_vanishes():
    """The kernel's Fermi gas (k_F = 20 MeV, no shift or Pauli blocking, 64 × 64 points per cell) against the line's
    cell averages: an independent check of the cells' edges in T and cos θ and of the line's place."""
    t, c, d = np.array([0.65, 0.75, 0.35]), np.array([0.8, 0.8, 0.5]), 0.1
    x, w = np.polynomial.legendre.leggauss(64)
    tt, cc = np.broadcast_arrays(t[:, None, None] + d / 2 * x[:, None], c[:, None, None] + d / 2 * x)
    k = ccqe.kernel(1.0, torch.as_tensor(tt), torch.as_tensor(cc), 0.02, 0.0, NUBAR, pauli=False)
    gas = ((k.factor * ccqe.fermi_gas_scaling(k.psi)).numpy() * w[:, None] * w).sum((1, 2)) / 4
    line = freeproton.cell_average(1.0, t, c, (np.full(3, d), np.full(3, d)), NUBAR)
    assert line[:2] == pytest.approx(gas[:2], rel=3e-3, abs=0) and line[2] == gas[2] == 0  # the line misses (0.35, 0.5)


def test_a_molecules_sigma_is_drawn(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from enxs.cli.neutrino import plot_neutrino

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plot_neutrino("enxs-any-fast", "16O", "numubar", None, None, 3.0, None, True, tmp_path / "water.png",
                      hydrogen=2)
    assert (tmp_path / "water.png").stat().st_size > 10_000
    result = enxs("plot", "enxs-12C-fast", "--energy", "1", "--angle", "30",
                  "--hydrogen", "2", "--output", str(tmp_path / "e.png"))
    assert result.returncode == 2 and "--hydrogen: not used for a spectrum" in result.stderr
