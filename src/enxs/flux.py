"""Neutrino flux tables: the energies E_ν [GeV] a flux-averaged neutrino cross section is averaged over,
and their weights (``enxs.neutrino``).

A table is a histogram (bin edges, Φ per bin) or samples Φ(E_ν) (linear between them). Either is
integrated with ``NODES_PER_INTERVAL`` Gauss–Legendre energies in every piece of at most ``PIECE_WIDTH``
of each bin or interval, not at bin centres alone: for a fixed lepton (T, cos θ) the quasielastic peak
is a few tens of MeV wide in E_ν, as narrow as MiniBooNE's 50 MeV bins, and centres alone put bumps
into flux-averaged spectra (measured on MiniBooNE's grid with ``enxs-any-fast``: up to 37% off in a bin
at bin centres, 21% bin-averaged, against 16 nodes per bin; 4 nodes: 1.4% and 0.3%). Wider bins are
cut into pieces: with 4 nodes in each 0.25 GeV bin of a flux up to 10 GeV the Fermi gas on argon was
up to 71% off at forward angles and low T (against 64 nodes per bin); with its five pieces, 1.6%.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from enxs.errors import EnxsError
from enxs.leptonbins import FLAVORS, lepton_mass

#: Gauss–Legendre energies in each bin or interval of a flux table (module docstring).
NODES_PER_INTERVAL = 4
#: The widest piece of a bin or interval that NODES_PER_INTERVAL energies integrate [GeV] (module docstring).
PIECE_WIDTH = 0.05
#: A flux reaching above this E_ν [GeV] (after ``emax``) is refused: its energies are likely in MeV, and a quasielastic
#: cross section is flat long before.
HIGHEST_ENERGY = 1000.0


class FluxError(EnxsError):
    """A flux table that cannot be read, or has no flux for the flavour asked for."""


@dataclass(frozen=True)
class Flux:
    """Neutrino energies E_ν [GeV] with weights summing to one (the flux's shape), and where it comes from; the
    table's intervals (``low``, ``high`` [GeV]) with its density at their ends [GeV⁻¹], normalized as the weights
    (linear between samples, constant in a bin), by rising ``low``."""

    energy: np.ndarray
    weight: np.ndarray
    source: str
    low: np.ndarray
    high: np.ndarray
    at_low: np.ndarray
    at_high: np.ndarray

    def density(self, energy) -> np.ndarray:
        """The flux's normalized density φ(E_ν) [GeV⁻¹] (∫φ = 1 over the table), 0 outside it."""
        energy = np.asarray(energy, float)
        i = np.clip(np.searchsorted(self.low, energy, side="right") - 1, 0, None)  # the interval starting below
        inside = (energy >= self.low[i]) & (energy < self.high[i])
        share = (energy - self.low[i]) / (self.high[i] - self.low[i])
        return np.where(inside, self.at_low[i] + share * (self.at_high[i] - self.at_low[i]), 0.0)


def read_flux(path: str | Path, flavor: str = "numu", emax: float | None = None) -> Flux:
    """A flux table: two columns (E_ν [GeV], Φ) or bin edges (E_low, E_high [GeV]) and one column per
    flavour (ν_μ, ν̄_μ, ν_e, ν̄_e, as MiniBooNE's published file; Φ per bin); lines that are not numbers
    are skipped. Integrated over each interval or bin with ``NODES_PER_INTERVAL`` energies in every piece of at most
    ``PIECE_WIDTH`` (module docstring), Φ linear between samples, constant in a bin; cut at ``emax`` [GeV] (a bin across
    it keeps its share below). A table reaching above ``HIGHEST_ENERGY`` after the cut is refused (MeV, likely)."""
    path = Path(path)
    lepton_mass(flavor)  # an unknown flavour: one line naming them
    if emax is not None and not emax > 0:
        raise FluxError(f"--emax {emax:g}: must be > 0 GeV")
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        raise FluxError(f"--flux {path}: cannot read ({exc.strerror})") from None
    rows, line_numbers = [], []
    for number, line in enumerate(lines, 1):
        try:
            row = [float(v) for v in line.replace(",", " ").split()]
        except ValueError:
            continue
        if len(row) >= 2:
            rows.append(row)
            line_numbers.append(number)
    if len(rows) < 2 or len({len(r) for r in rows}) != 1:
        raise FluxError(f"--flux {path}: expected a table of numbers, (E_nu, flux) or (E_low, E_high, fluxes...)")
    table = np.asarray(rows)
    if not np.isfinite(table).all():
        raise FluxError(f"--flux {path}:{line_numbers[np.flatnonzero(~np.isfinite(table).all(1))[0]]}: "
                        "not a finite number (nan or inf)")
    x, w = np.polynomial.legendre.leggauss(NODES_PER_INTERVAL)
    if table.shape[1] == 2:
        if not np.all(np.diff(table[:, 0]) > 0):
            line = line_numbers[np.flatnonzero(np.diff(table[:, 0]) <= 0)[0] + 1]
            raise FluxError(f"--flux {path}:{line}: the energies of an (E_nu, flux) table must rise")
        low, high, phi = table[:-1, 0], table[1:, 0], table[:, 1]
    else:
        column = 2 + list(FLAVORS).index(flavor) if table.shape[1] > 3 else 2
        if column >= table.shape[1]:
            raise FluxError(f"--flux {path}: no column for {flavor} (it has {table.shape[1] - 2} flux column(s))")
        low, high, phi = table[:, 0], table[:, 1], table[:, column]
    if (phi < 0).any():
        raise FluxError(f"--flux {path}:{line_numbers[np.flatnonzero(phi < 0)[0]]}: a negative flux")
    if not (high > low).all():  # a binned table's rows (an (E_nu, flux) table's energies rise, checked above)
        raise FluxError(f"--flux {path}:{line_numbers[np.flatnonzero(~(high > low))[0]]}: a bin's upper edge must lie "
                        "above its lower edge")
    if emax is not None:  # intervals cut at emax: a bin across it keeps its share below (Φ constant in a bin)
        below = low < emax
        if not below.any():
            raise FluxError(f"--flux {path}: no positive flux at or below --emax {emax:g} GeV (its lowest energy: "
                            f"{low.min():g} GeV)")
        if table.shape[1] != 2:
            phi = (phi * (np.minimum(high, emax) - low) / (high - low))[below]
        low, high = low[below], np.minimum(high, emax)[below]
    if high.max() > HIGHEST_ENERGY:
        raise FluxError(f"--flux {path}: energies up to {high.max():g} GeV; enxs reads E_nu in GeV: convert a table "
                        f"in MeV, or cut it with --emax")
    pieces = np.maximum(np.ceil((high - low) / PIECE_WIDTH - 1e-9), 1).astype(int)
    interval = np.repeat(np.arange(len(low)), pieces)
    step = ((high - low) / pieces)[interval]
    start = low[interval] + step * (np.arange(len(interval)) - np.repeat(np.cumsum(pieces) - pieces, pieces))
    energy = (start + step / 2)[:, None] + (step / 2)[:, None] * x  # [pieces, nodes]
    weight = (np.interp(energy, table[:, 0], phi) * step[:, None] if table.shape[1] == 2
              else (phi / pieces)[interval][:, None] * np.ones_like(x)) * w / 2
    energy, weight = energy.ravel(), weight.ravel()
    keep = (energy > 0) & np.isfinite(weight) & (weight > 0)
    if not keep.any():
        cut = "" if emax is None else f" at or below --emax {emax:g} GeV"
        raise FluxError(f"--flux {path}: no positive flux{cut}")
    norm = weight[keep].sum()
    ends = ([np.interp(v, table[:, 0], phi) / norm for v in (low, high)] if table.shape[1] == 2
            else [phi / (high - low) / norm] * 2)
    order = np.argsort(low, kind="stable")  # for ``Flux.density``'s search
    return Flux(energy[keep], weight[keep] / norm, str(path), *(v[order] for v in (low, high, *ends)))
