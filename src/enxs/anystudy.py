"""The any-nucleus study: how well one ensemble trained on many nuclei describes a nucleus
it has never seen (zero-shot, leave one nucleus out), and whether it is a better base for
fine-tuning on little data than the carbon ensemble.

For each target nucleus: an ensemble trained on every other nucleus file of the data
directory (keyed by what it is, reused when run again); its prediction on the target's test
points of the transfer study's 1:9 split (the same points as the carbon columns) and on all
the target's points; then fine-tuned from that base at 1:9 and 7:3 in both scenarios. Every
cell reports the median and 90th percentile of |rel dev|, χ²/N and 1σ coverage, the last
also separately for the points outside the base's training coverage, and the ensemble's
median relative spread beside the target's distance from the trained nuclei.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enxs import archive, artifacts, runs
from enxs.evaluation import metrics_of_members, predict_table
from enxs.metrics import score_cell
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, ExtrapolationWarning, member_spread
from enxs.training import split_points

ZERO_SHOT_TARGETS = ("6Li", "12C", "16O", "27Al", "40Ca", "56Fe")
ZERO_SHOT_FRACTION = 0.1  # the test points are those of the transfer study's 1:9 split


def distance(target: Nucleus, trained: list[Nucleus]) -> float:
    """How far a nucleus lies from the trained ones: the smallest |Δ A^{1/3}|."""
    return min(abs(target.A ** (1 / 3) - n.A ** (1 / 3)) for n in trained)


def zero_shot(model_dir: Path, target: str, table: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """Metrics of a base that never saw ``target`` on its test points and on all its points."""
    ensemble = Ensemble.load(model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        outside = ensemble.predict(test.E, test.theta, test.omega, nucleus=target).outside_coverage
    sigma = predict_table(ensemble.model, test)
    m = ensemble.manifest
    result = {"test": metrics_of_members(sigma, test, m),
              "all": metrics_of_members(predict_table(ensemble.model, table), table, m),
              "median_rel_spread": float(np.median(member_spread(sigma) / np.abs(sigma.mean(0)))),
              "distance": distance(Nucleus.parse(target), m.nuclei), "n_outside": int(outside.sum())}
    for part, mask in (("inside", ~outside), ("outside", outside)):
        result[part] = metrics_of_members(sigma[:, mask], test[mask], m) if mask.sum() >= 5 else None
    return result


def run_any_study(preset: str, executor: runs.LocalExecutor, data_dir=None, members: int | None = None,
                  seed: int = 0, targets=ZERO_SHOT_TARGETS, fractions=(0.7, 0.1)) -> list[dict[str, Any]]:
    """Train (or reuse) a base without each target, score it zero-shot, fine-tune it; one row per
    target. Two stages, each one plan: the bases, then the fine-tunes that start from them."""
    bases = executor.run_all([runs.Job(runs.pretrain_spec("all", preset, exclude=t, data_dir=data_dir,
                                                          members=members, seed=seed), f"{t} zero-shot base")
                              for t in targets])
    tuned = [(t, f, scenario) for t in targets if t != "12C" for f in fractions for scenario in ("all", "last2")]
    base_of = dict(zip(targets, bases, strict=True))
    jobs = [runs.Job(runs.finetune_spec(str(base_of[t]), t, scenario, f, data_dir=data_dir, members=members,
                                        seed=seed), f"{t} {f:g} from any-nucleus base, {scenario}")
            for t, f, scenario in tuned]
    finetuned = dict(zip(tuned, executor.run_all(jobs), strict=True))
    rows = []
    for target, base in base_of.items():
        path = archive.find_nucleus_file(target, data_dir)
        table = artifacts.read_manifest(base).config.selection.apply(archive.read_file(path)[0])
        _, test_rows = split_points(len(table), ZERO_SHOT_FRACTION, seed)
        row = {"nucleus": target, "zero_shot": zero_shot(base, target, table, table.iloc[test_rows]), "finetuned": {}}
        for (t, fraction, scenario), directory in finetuned.items():
            if t == target:
                row["finetuned"][(fraction, scenario)] = artifacts.read_manifest(directory).metrics["test"]
        rows.append(row)
    return rows


def carbon_check(any_model: str, carbon_model: str, data_dir=None) -> dict[str, dict] | None:
    """Both models on carbon's own test points (the stored split of the carbon model)."""
    from enxs.evaluation import metrics_on, stored_split

    try:
        carbon_model_, carbon_manifest = artifacts.load_model(carbon_model)
        model, manifest = artifacts.load_model(any_model)
    except artifacts.ModelFileError:
        return None
    _, test = stored_split(carbon_manifest, data_dir)
    return {carbon_model: metrics_on(carbon_model_, test, carbon_manifest),
            any_model: metrics_on(model, test, manifest)}


def report_lines(rows: list[dict[str, Any]], transfer: dict[tuple[str, float], dict[str, Any]],
                 carbon: dict[str, dict] | None) -> list[str]:
    """The any-nucleus sections of the report (Markdown lines)."""
    lines = ["## Any nucleus: zero-shot (leave one nucleus out)", "",
             "Each base is trained on every nucleus file but the target's; numbers on the target's test points "
             "of the 1:9 split (the carbon columns' points) and on all its points. Cells: median \\|rel dev\\| · "
             "90th percentile · χ²/N · 1σ coverage.", "",
             "| nucleus | n test | carbon × A/12 | carbon fine-tuned all 1:9 | any-nucleus zero-shot (test) "
             "| zero-shot, all points | coverage inside / outside training coverage (n outside) "
             "| median relative spread | distance ΔA^{1/3} |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        z, c = r["zero_shot"], transfer.get((r["nucleus"], 0.1), {})
        cov = " / ".join("—" if z[p] is None else f"{z[p]['coverage_1sigma']:.0%}" for p in ("inside", "outside"))
        lines.append(f"| {r['nucleus']} | {z['test']['n']} | {score_cell(c.get('A/12 carbon'))} "
                     f"| {score_cell(c.get('fine-tuned all'))} | {score_cell(z['test'])} | {score_cell(z['all'])} "
                     f"| {cov} ({z['n_outside']}) | {z['median_rel_spread']:.1%} | {z['distance']:.2f} |")
    lines += ["", "## Fine-tuned from the any-nucleus base (trained without the target)", "",
              "Test points of each split; the carbon-based columns on the same points. Cells as above.", "",
              "| nucleus | train:test | carbon base, all | carbon base, last2 | any base, all | any base, last2 |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        for fraction in sorted({f for f, _ in r["finetuned"]}, reverse=True):
            c = transfer.get((r["nucleus"], fraction), {})
            cols = [score_cell(c.get(f"fine-tuned {s}")) for s in ("all", "last2")]
            cols += [score_cell(r["finetuned"].get((fraction, s))) for s in ("all", "last2")]
            lines.append(f"| {r['nucleus']} | {round(fraction * 10)}:{round((1 - fraction) * 10)} | "
                         + " | ".join(cols) + " |")
    if carbon:
        lines += ["", "## Carbon must not suffer", "", "| model | on carbon's test points |", "|---|---|"]
        lines += [f"| {label} {name} | {score_cell(t)} |" for label, (name, t) in zip(("carbon", "all nuclei"),
                                                                               carbon.items(), strict=False)]
    return [*lines, ""]
