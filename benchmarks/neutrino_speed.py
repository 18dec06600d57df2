"""Neutrino cross-section speed, side by side in one run on this machine:

- σ(E_ν) of carbon ν_μ at 29 energies (0.2–3 GeV; 128 × 64 (q, ω) nodes each) by the Fermi gas
  (the kernel alone, the same code) and by a model (its network, the kernel and the coverage flags), and with the
  model's transverse enhancement (its TE(q) table for the nucleus, computed once per model and nucleus, timed
  apart);
- d²σ/dT dcos θ over MiniBooNE's ν_μ flux on its 18 × 20 grid (bin centres);
- a GENIE hadron-tensor export of argon (10 MeV steps to 2 GeV);
- the model's network alone on random (q, ω): member-points per second and GFLOP/s against the float32
  matrix-product peak measured in the same run.

    python benchmarks/neutrino_speed.py [--model enxs-any-fast] [--points 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from train_speed import matmul_peak

from enxs import ccqe, hadrontensor, modelscaling, neutrino, superscaling
from enxs.context import DEFAULT_CONTEXT
from enxs.descriptors import describe
from enxs.neutrinostudy import default_directory, load_inputs
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble

ENERGIES = np.linspace(0.2, 3.0, 29)


def best_time(fn, repeat: int) -> float:
    """The fastest of ``repeat`` runs after a warm-up [s]."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def network_flops(model) -> float:
    """Multiply-add FLOPs of one forward pass of one member at one point: its layers' weight matrices [K, in, out]
    (``network.EnsembleNet``'s blocks and head)."""
    return sum(2 * w.shape[-2] * w.shape[-1] for name, w in model.named_parameters()
               if name.endswith(".linear.weight") or name == "head.weight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enxs-any-fast")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # zero-shot and coverage warnings: the speed is the point here
    ensemble = Ensemble.load(args.model)
    carbon, argon = Nucleus.parse("12C"), Nucleus.parse("40Ar")
    _, _, flux = load_inputs(default_directory(DEFAULT_CONTEXT))
    t_mu, cos = (a.ravel() for a in np.meshgrid(np.arange(0.25, 2.0, 0.1), np.arange(-0.95, 1.0, 0.1), indexing="ij"))

    gas = best_time(lambda: neutrino.total_cross_section(None, carbon, ENERGIES), args.repeat)
    model = best_time(lambda: neutrino.total_cross_section(ensemble, carbon, ENERGIES), args.repeat)
    enhanced = best_time(lambda: neutrino.total_cross_section(ensemble, carbon, ENERGIES, transverse_enhancement=True),
                         args.repeat)
    table = best_time(lambda: modelscaling._enhancement(ensemble, carbon), args.repeat)  # uncached: its cost
    grid = best_time(lambda: neutrino.double_differential(ensemble, carbon, t_mu, cos, flux=flux), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        export = best_time(lambda: hadrontensor.export(ensemble, argon, Path(tmp) / f"g{time.perf_counter_ns()}"), 1)

    rng = np.random.default_rng(0)
    q = torch.as_tensor(rng.uniform(0.1, 2.0, args.points))
    omega = q * torch.as_tensor(rng.uniform(0.01, 0.99, args.points))
    d = describe(carbon)
    kernel = ccqe.Kernel(superscaling.psi_prime(q, omega, d.k_fermi, d.e_shift), torch.ones_like(q), q, omega)
    members = ensemble.model.draws
    scaling = best_time(lambda: modelscaling.scaling_members(ensemble, carbon, kernel, "LT"), args.repeat)
    peak = matmul_peak()
    achieved = members * args.points * network_flops(ensemble.model) / scaling / 1e9

    print(f"model {args.model}, {members} members, torch threads {torch.get_num_threads()}")
    print(f"sigma(E_nu), carbon numu, {len(ENERGIES)} energies: Fermi gas {gas:.2f} s, model {model:.2f} s "
          f"({model / gas:.1f}x the kernel alone); with the transverse enhancement {enhanced:.2f} s (its TE(q) "
          f"table, once per model and nucleus, {table:.2f} s)")
    print(f"d2sigma over MiniBooNE's flux, {len(t_mu)} points (bin centres): {grid:.2f} s")
    print(f"GENIE export of 40Ar (40,000 (omega, q) points, nu and nubar): {export:.2f} s")
    print(f"scaling functions f_L, f_T and the quasielastic share at {args.points:,} points: {scaling:.2f} s, "
          f"{members * args.points / scaling / 1e6:.2f} M member-points/s, network {achieved:.1f} GFLOP/s = "
          f"{achieved / peak:.1%} of the float32 matrix-product peak ({peak:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
