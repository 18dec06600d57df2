"""The transfer-learning study of Graczyk et al. (PRL 135, 052502) as numbers: every target
× scenario {all, last2} × train fraction {0.7, 0.1}, with two baselines on the same test
points — the A/12-scaled carbon ensemble and the same network trained from scratch on the
same training points with the same epoch budget.

Runs are keyed by a hash of what they are (config, data checksum, parent weights), so a
re-run reuses finished fine-tunes and resumes interrupted ones.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enxs import anystudy, archive, artifacts, executors, runs
from enxs.config import Finetune, Scratch, build_config, finetune_base, scratch_baseline_base
from enxs.context import DEFAULT_CONTEXT, Context
from enxs.datasets import total_error
from enxs.errors import EnxsError
from enxs.evaluation import metrics_of_members
from enxs.files import STUDY_MARKER, check_study_directory, write_json
from enxs.metrics import REGIONS, median_by_region
from enxs.nuclei import Nucleus, parse_nuclei
from enxs.predict import member_predictions, member_quantiles
from enxs.transfer import a_factor

ZERO_SHOT_TARGETS = anystudy.ZERO_SHOT_TARGETS
ANY_REPORT = "any-nucleus.md"

TARGETS = ("6Li", "16O", "27Al", "40Ca", "56Fe")
FRACTIONS = (0.7, 0.1)
METHODS = ("A/12 carbon", "from scratch", "fine-tuned all", "fine-tuned last2")


@dataclass
class Cell:
    """One nucleus × train fraction: its test points and every method's results on them."""

    nucleus: str
    fraction: float
    table: pd.DataFrame  # selected points of the nucleus
    train_lines: list[int]
    results: dict[str, dict[str, Any]]  # method → {"metrics", "regions", "model_dir", "members"}


def study_specs(base: str, preset: str, nucleus: str, fraction: float, context: Context, members: int | None,
                seed: int) -> dict[str, runs.RunSpec]:
    """The three trained methods for one cell."""
    parent = artifacts.read_manifest(artifacts.resolve_model(base)).config
    path = str(context.data_path(nucleus))
    options = {"members": members, "seed": seed}
    specs = {}
    for scenario in ("all", "last2"):
        start = Finetune(parent=artifacts.model_reference(base), scenario=scenario)
        config = build_config(finetune_base(parent, preset), start, train_fraction=fraction, **options)
        specs[f"fine-tuned {scenario}"] = runs.RunSpec(nucleus, path, config, device=context.device)
    config = build_config(scratch_baseline_base(parent, preset), Scratch(), train_fraction=fraction, **options)
    specs["from scratch"] = runs.RunSpec(nucleus, path, config, device=context.device)
    return specs


def run_study(base: str, preset: str, executor: executors.LocalExecutor, context: Context, targets=TARGETS,
              fractions=FRACTIONS, members: int | None = None, seed: int = 0) -> list[Cell]:
    """Plan every run of the study, train (or reuse) them all, then evaluate all methods on each
    cell's test points."""
    base_model, base_manifest = artifacts.load_model(base)
    cells_specs = {(n, f): study_specs(base, preset, n, f, context, members, seed) for n in targets for f in fractions}
    jobs = [executors.Job(s, f"{n} {f:g} {m}") for (n, f), specs in cells_specs.items() for m, s in specs.items()]
    finished = iter(executor.run_all(jobs))
    cells = []
    for (nucleus, fraction), specs in cells_specs.items():
        dirs = {m: next(finished) for m in specs}
        first = artifacts.read_manifest(dirs["fine-tuned all"])
        table = first.config.selection.apply(archive.read_file(specs["fine-tuned all"].data_files[0])[0])
        test = table[table.line.isin(first.split[nucleus]["test_lines"])]
        results = {}
        factor = a_factor(Nucleus.parse(nucleus), base_manifest.nucleus)
        results["A/12 carbon"] = _evaluate(base_model, base_manifest, test, factor, None)
        for method, directory in dirs.items():
            model, manifest = artifacts.load_model(directory)
            results[method] = _evaluate(model, manifest, test, 1.0, directory)
        cells.append(Cell(nucleus, fraction, table, first.split[nucleus]["train_lines"], results))
    return cells


def _evaluate(model, manifest, test: pd.DataFrame, factor: float, directory) -> dict[str, Any]:
    sigma = member_predictions(model, test.E.to_numpy(), test.theta.to_numpy(), test.omega.to_numpy()) * factor
    lam = manifest.lam if directory else None  # the baseline's λ_k are carbon's
    mean_lambda = ({k: float(v) for k, v in zip(lam["labels"], np.mean(lam["per_member"], 0), strict=True)}
                   if lam else {})
    return {"metrics": metrics_of_members(sigma, test, manifest), "model": model, "manifest": manifest,
            "regions": median_by_region(test.sigma, sigma.mean(0), test.x, test.W),
            "train_lambda": mean_lambda, "model_dir": str(directory) if directory else None, "factor": factor}


# -- the report ---------------------------------------------------------------------------

def _figure_name(nucleus: str, fraction: float) -> str:
    return f"{nucleus}-{round(fraction * 100)}.png"


def report_files(targets, fractions) -> list[str]:
    """What the transfer study writes into its directory: ``report.md`` and one figure per cell."""
    return ["report.md", *(_figure_name(n, f) for n in targets for f in fractions)]


def write_report(cells: list[Cell], out: Path, header: dict[str, Any]) -> Path:
    """Markdown report with PNG figures in ``out``; returns the Markdown path."""
    lines = ["# enxs transfer-learning study", ""]
    lines += [f"- {k}: {v}" for k, v in header.items()] + [""]
    lines += ["All numbers on each cell's **test points** (never used in training or model selection). "
              "Median |rel dev| = median |σ_model/σ_data − 1| with no normalization applied; χ²/N with λ_k "
              "profiled on the test points; coverage = fraction of points with |σ_data − σ_model| ≤ "
              "√(spread² + Δσ²).", ""]
    lines += ["## Summary: test median |rel dev|", "",
              "| nucleus | train:test | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)]
    for c in cells:
        row = [f"{c.results[m]['metrics']['median_abs_rel_dev']:.1%}" for m in METHODS]
        lines.append(f"| {c.nucleus} | {_ratio(c.fraction)} | " + " | ".join(row) + " |")
    lines += ["", "## Per configuration", "",
              "| nucleus | train:test | method | n test | χ²/N | median \\|rel dev\\| | 1σ coverage | pull width "
              "| λ_k (training, mean over members) |", "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        for m in METHODS:
            r = c.results[m]
            t = r["metrics"]
            lam = ", ".join(f"{k} {v:.3f}" for k, v in r["train_lambda"].items()) or "—"
            lines.append(f"| {c.nucleus} | {_ratio(c.fraction)} | {m} | {t['n']} | {t['chi2_per_point']:.2f} | "
                         f"{t['median_abs_rel_dev']:.1%} | {t['coverage_1sigma']:.0%} | {t['pull_width']:.2f} "
                         f"| {lam} |")
    lines += ["", "## By kinematic region (test median |rel dev|, points in brackets)", "",
              "Regions: x > 1.25 below the QE peak; 0.75 < x ≤ 1.25 QE peak; then W < 1.15 GeV dip, "
              "1.15–1.35 GeV Δ, above: higher W.", ""]
    lines += ["| nucleus | train:test | method | " + " | ".join(REGIONS) + " |",
              "|---|---|---|" + "---|" * len(REGIONS)]
    for c in cells:
        for m in METHODS:
            reg = c.results[m]["regions"]
            cols = [f"{reg[r]['median_abs_rel_dev']:.1%} ({reg[r]['n']})" if r in reg else "—" for r in REGIONS]
            lines.append(f"| {c.nucleus} | {_ratio(c.fraction)} | {m} | " + " | ".join(cols) + " |")
    lines += ["", "## Figures", ""]
    for c in cells:
        name = _figure_name(c.nucleus, c.fraction)
        _figure(c, out / name)
        lines += [f"### {c.nucleus}, train:test {_ratio(c.fraction)}", "", f"![{c.nucleus}]({name})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ratio(fraction: float) -> str:
    return f"{round(fraction * 10)}:{round((1 - fraction) * 10)}"


def _showcase_settings(table: pd.DataFrame, panels: int) -> list[tuple[float, float]]:
    """The best-measured (E, θ) setting in each of ``panels`` beam-energy ranges (equal
    counts of settings), so the figures span quasielastic to inelastic kinematics."""
    sizes = table.groupby(["E", "theta"]).size().reset_index(name="n").sort_values("E")
    groups = np.array_split(np.arange(len(sizes)), min(panels, len(sizes)))
    return [tuple(sizes.iloc[g].sort_values("n").iloc[-1][["E", "theta"]]) for g in groups]


def _figure(cell: Cell, path: Path, panels: int = 3) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from enxs import plots

    settings = _showcase_settings(cell.table, panels)
    fig, axes = plt.subplots(1, len(settings), figsize=(4.6 * len(settings), 3.8), squeeze=False)
    colors = {"fine-tuned all": "C0", "fine-tuned last2": "C1", "from scratch": "C2"}
    for ax, (energy, theta) in zip(axes[0], settings, strict=False):
        pts = cell.table[(cell.table.E == energy) & (cell.table.theta == theta)].sort_values("omega")
        omega = np.linspace(pts.omega.min(), min(pts.omega.max(), 0.999 * energy), 150)
        for method, result in cell.results.items():
            sigma = member_predictions(result["model"], energy, theta, omega) * result["factor"]
            if method == "A/12 carbon":
                plots.curve(ax, omega, sigma.mean(0), "carbon × A/12")
            else:
                plots.band(ax, omega, sigma.mean(0), *member_quantiles(sigma), method, colors[method])
        plots.data_points(ax, pts, total_error(pts), pts.line.isin(cell.train_lines).to_numpy())
        plots.label_spectrum(ax, cell.nucleus, energy, theta)
        ax.set_ylim(bottom=0)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class StudyError(EnxsError):
    """A study asked for what it cannot do: a target without data, no nucleus to leave out."""


def check_inputs(studies, context: Context, base: str, targets, any_targets, any_model: str | None,
                 neutrino_data: Path | None) -> None:
    """What ``reproduce``'s studies read, checked before anything is written: the targets' data files,
    the any-nucleus study's nuclei to leave out, the models named and MiniBooNE's files; one
    error each, before any run."""
    from enxs import neutrinostudy

    if "any" in studies and not any_targets:
        raise StudyError("--any-nucleus none: the any-nucleus study has no nucleus to leave out (name some, or "
                         "leave 'any' out of --studies)")
    named = [("--nucleus", targets)] * ("transfer" in studies) + [("--any-nucleus", any_targets)] * ("any" in studies)
    available = context.nucleus_names() if named else []
    for option, names in named:
        missing = [name for name in parse_nuclei(option, names) if name not in available]
        if missing:
            raise StudyError(f"{option} {missing[0]}: no {missing[0]}.dat in {context.archive_dir} (nuclei found: "
                             f"{', '.join(available)})")
    for model in (base if set(studies) - {"neutrino"} else None, any_model):
        if model is not None:
            artifacts.resolve_model(model)
    if "neutrino" in studies:
        neutrinostudy.load_inputs(neutrino_data or neutrinostudy.default_directory(context))


def reproduce(base: str, preset: str, out: Path, context: Context = DEFAULT_CONTEXT, members: int | None = None,
              seed: int = 0, targets=TARGETS, fractions=FRACTIONS, on_run=None, any_targets=ZERO_SHOT_TARGETS,
              any_model: str | None = None, any_members: int | None = None,
              studies=("transfer",), overwrite: bool = False, neutrino_data: Path | None = None,
              executor: executors.LocalExecutor | None = None) -> list[Path]:
    """Run the studies and write their reports: ``transfer`` writes ``out/report.md`` (the
    carbon-based transfer study); ``any`` writes ``out/any-nucleus.md`` (``anystudy``: leave one of
    ``any_targets`` out, the recipes beside the carbon baselines, fine-tuned from the default
    recipe's base; with ``any_model``, that model against ``base`` on carbon's test points);
    ``responses`` writes ``out/responses.md`` (``responsestudy``); ``neutrino`` writes
    ``out/neutrino.md`` (``neutrinostudy``, with ``any_model`` or enxs-any-fast). The runs train in
    this process, or with ``executor`` (``executors.RayExecutor``) on Ray, in ``out/runs``. The directory
    follows the rule for study directories (:func:`enxs.files.check_study_directory`): runs
    finished there are reused, reports replaced only with ``overwrite``. ``context``: the data
    directory and the device every run uses."""
    from enxs import __version__, neutrinostudy, responsestudy

    reports = [*(responsestudy.REPORT_FILES if "responses" in studies else ()),
               *(report_files(targets, fractions) if "transfer" in studies else ()),
               *([ANY_REPORT, *anystudy.RESPONSE_FIGURES] if "any" in studies else ()),
               *(neutrinostudy.REPORT_FILES if "neutrino" in studies else ())]
    context.check(data=set(studies) != {"neutrino"} or neutrino_data is None)
    check_inputs(studies, context, base, targets, any_targets, any_model, neutrino_data)
    check_study_directory(out, reports, overwrite)
    start = time.time()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    earlier = json.loads((out / STUDY_MARKER).read_text()).get("studies", []) if (out / STUDY_MARKER).is_file() else []
    write_json(out / STUDY_MARKER, {"written_by": f"enxs {__version__}", "studies": sorted({*earlier, *studies}),
                                    "note": "a directory of enxs reproduce: its reports and its runs (reused when "
                                            "reproduce runs here again)"})

    executor = executor or executors.LocalExecutor(out / "runs", on_run)
    written = []
    if "neutrino" in studies:
        written.append(neutrinostudy.write_report(any_model or "enxs-any-fast", out, neutrino_data
                                                  or neutrinostudy.default_directory(context)))
    if "responses" in studies:
        written.append(responsestudy.run_response_study(preset, out, executor, context, members, seed, base))
    if "any" in studies and any_targets:
        rows = anystudy.run_any_study(preset, executor, base, context, any_members or members, seed, any_targets,
                                      fractions)
        carbon = anystudy.carbon_check(any_model, base, context) if any_model else None
        several = any_model is not None and artifacts.read_manifest(artifacts.resolve_model(any_model)).nucleus is None
        header = {"enxs": __version__, "preset": preset, "carbon model": base, "seed": seed,
                  "members": any_members or members or "the preset's",
                  "wall time of this invocation (runs reused from earlier invocations are not retrained)":
                  f"{time.time() - start:.0f} s"}
        lines = ["# enxs any-nucleus study", "", *(f"- {k}: {v}" for k, v in header.items()), "",
                 *anystudy.report_lines(rows, carbon), *(anystudy.response_lines(any_model, out) if several else [])]
        (out / ANY_REPORT).write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(out / ANY_REPORT)
    if "transfer" not in studies:
        return written
    cells = run_study(base, preset, executor, context, targets, fractions, members, seed)
    header = {"enxs": __version__, "preset": preset, "base model": base, "seed": seed,
              "members": cells[0].results["fine-tuned all"]["model"].members if cells else members,
              "wall time of this invocation (runs reused from earlier invocations are not retrained)":
              f"{time.time() - start:.0f} s"}
    return [write_report(cells, out, header), *written]
