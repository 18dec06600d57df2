"""Training speed of the stacked ensemble against a loop over K separate models.

Prints, from one run on this machine: member-epochs per second of the stacked ensemble and
of a Python loop over K ``nn.Sequential`` networks of the same architecture (each with its
own Adam), their ratio, and the stacked ensemble's achieved GFLOP/s against a float32
matrix-multiply peak measured in the same run.

    python benchmarks/train_speed.py                     # paper architecture, K = 50
    python benchmarks/train_speed.py --width 64 --depth 4 --no-norm   # the fast preset
    python benchmarks/train_speed.py --device cuda       # on a GPU (its float32 matmul peak, TF32 off)

A last line times the response network (``model.output='responses'``: inputs from (q, ω),
two outputs, the Rosenbluth weights) against the σ network of the same size, stacked, in
the same run.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from torch import nn

from enxs.config import ModelConfig
from enxs.network import EnsembleNet

N_TRAIN = 2310  # carbon training points with the default selection and split


DEVICE = torch.device("cpu")


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(size: int = 2048, seconds: float = 2.0) -> float:
    """float32 GFLOP/s of square matrix products on this device (best of repeated runs)."""
    if DEVICE.type == "cuda":
        size = 8192
    a, b = torch.randn(size, size, device=DEVICE), torch.randn(size, size, device=DEVICE)
    torch.mm(a, b)
    sync()
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = max(best, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    return best


def flops_per_member_step(depth: int, width: int, batch: int) -> float:
    """Matrix-multiply FLOPs of one forward + backward step for one member (≈ 3 × forward)."""
    macs = 5 * width + (depth - 1) * width * width + width
    return 3 * 2 * batch * macs


def time_steps(step, steps: int) -> float:
    step()  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps


def stacked_step(config: ModelConfig, members: int, batch: int):
    model = EnsembleNet(config, members).to(DEVICE).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, foreach=True)  # as enxs.training: exact per member
    # physical inputs (the response network takes logarithms of q and ω): E/20, ω/20 ≤ E/20, θ/180, cos θ, Q²/100
    u = torch.rand(members, batch, 3) * 0.9 + 0.05
    energy, omega, theta = 5 * u[..., 0], 5 * u[..., 0] * u[..., 1], 180 * u[..., 2]
    big_q2 = 2 * energy * (energy - omega) * (1 - torch.cos(torch.deg2rad(theta)))
    x = torch.stack([energy / 20, omega / 20, theta / 180, torch.cos(torch.deg2rad(theta)), big_q2 / 100], -1)
    x, target = x.to(DEVICE), torch.rand(members, batch, device=DEVICE)

    def step():
        opt.zero_grad(set_to_none=True)
        ((model(x) - target) ** 2).mean(1).sum().backward()
        opt.step()

    return step


def loop_step(config: ModelConfig, members: int, batch: int):
    def make():
        layers, fan_in = [], 5
        for _ in range(config.depth):
            layers += [nn.Linear(fan_in, config.width)]
            layers += [nn.BatchNorm1d(config.width, momentum=0.01)] if config.norm == "batch" else []
            layers += [nn.ReLU()]
            fan_in = config.width
        return nn.Sequential(*layers, nn.Linear(fan_in, 1), nn.Sigmoid()).train()

    models = [make().to(DEVICE) for _ in range(members)]
    opts = [torch.optim.Adam(m.parameters(), lr=1e-4, fused=True) for m in models]  # the loop at its fastest
    x, target = torch.rand(members, batch, 5, device=DEVICE), torch.rand(members, batch, device=DEVICE)

    def step():
        for k, (m, o) in enumerate(zip(models, opts, strict=True)):
            o.zero_grad(set_to_none=True)
            ((m(x[k]).squeeze(-1) - target[k]) ** 2).mean().backward()
            o.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-norm", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 as on the CPU
    config = ModelConfig(depth=args.depth, width=args.width, norm="none" if args.no_norm else "batch")
    torch.manual_seed(0)
    peak = matmul_peak()
    t_stacked = time_steps(stacked_step(config, args.members, args.batch), args.steps)
    t_loop = time_steps(loop_step(config, args.members, args.batch), args.steps)
    per_epoch = N_TRAIN / args.batch  # optimizer steps per member-epoch
    me_stacked = args.members / (t_stacked * per_epoch)
    me_loop = args.members / (t_loop * per_epoch)
    gflops = args.members * flops_per_member_step(args.depth, args.width, args.batch) / t_stacked / 1e9
    where = torch.cuda.get_device_name() if DEVICE.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"machine: {where}, torch {torch.__version__}")
    print(f"architecture: {args.depth}×{args.width}, norm={config.norm}, K={args.members}, batch {args.batch}")
    print(f"float32 matmul peak:       {peak:8.1f} GFLOP/s")
    print(f"stacked ensemble:          {me_stacked:8.2f} member-epochs/s  ({t_stacked * 1e3:.1f} ms/step)")
    print(f"loop over K nn.Sequential: {me_loop:8.2f} member-epochs/s  ({t_loop * 1e3:.1f} ms/step)")
    print(f"speed-up stacked/loop:     {t_loop / t_stacked:8.2f}×")
    print(f"stacked achieved:          {gflops:8.1f} GFLOP/s = {gflops / peak:.0%} of the matmul peak")
    t_response = time_steps(stacked_step(replace(config, output="responses"), args.members, args.batch), args.steps)
    print(f"response network / σ network, stacked: {t_response / t_stacked:.2f}× the time per step")


if __name__ == "__main__":
    main()
