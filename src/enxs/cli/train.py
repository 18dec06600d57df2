"""``enxs pretrain``, ``enxs finetune``, ``enxs evaluate``, ``enxs models``."""

from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from enxs.cli.common import (
    CLIError,
    DataDir,
    LogProgress,
    Threads,
    console,
    interrupted_status,
    job_context,
    make_app,
    refuse_unused,
    say,
    warnings_on_screen,
)
from enxs.errors import Interrupted

Members = Annotated[int | None, typer.Option(min=1, help="Ensemble members K (default: the preset's).")]
Epochs = Annotated[int | None, typer.Option(min=1, help="Training epochs (default: the preset's).")]
Seed = Annotated[int | None, typer.Option(
    min=0, help="Seed of everything random: the test split, then each member's seed (its replica, validation "
         "split, initial weights and batch order), derived from it.")]
Device = Annotated[str, typer.Option(help="Torch device: cpu, or cuda where this machine and torch build have it.")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="JSON config file (sections model/train/selection).")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Override: SECTION.KEY=VALUE (repeatable).")]
Out = Annotated[Path | None, typer.Option("--out", help="Model directory to write.")]
Resume = Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted run in this directory.")]
Executor = Annotated[str, typer.Option(
    "--executor", help="local (this process) or ray: the members train in chunks on Ray workers (pip install "
                       "'enxs[ray]'), merged into the same model directory.")]
Address = Annotated[str | None, typer.Option(
    "--address", help="With --executor ray: a Ray cluster HOST:PORT (or auto); default: a local Ray.")]
Workers = Annotated[int | None, typer.Option(
    "--workers", min=1, show_default=False, help="With --executor ray: chunks (and local Ray CPUs; default 2).")]


def check_executor(executor: str, address: str | None, workers: int | None) -> int:
    """The executor options checked before any work (Ray installed where asked for; --address and
    --workers only with it); returns the number of Ray workers."""
    if executor not in ("local", "ray"):
        raise CLIError(f"--executor {executor!r}: choose local or ray")
    if executor == "local":
        refuse_unused({"--address": address is not None, "--workers": workers is not None}, "without --executor ray")
        return 1
    from enxs.executors import ray_module

    ray_module()  # the one-line error without the extra
    return workers or 2


def refuse_mistyped(nuclei: dict[str, str | None] | None = None, preset: str | None = None,
                    models: tuple[str | None, ...] = ()) -> None:
    """A mistyped nucleus (``{option: names}``; ``all`` is the data directory's, checked with it), preset or model
    refused before torch loads: one line in about a second, not after torch's seconds. The run checks them again
    with its data."""
    from enxs import artifacts
    from enxs.config import preset_config
    from enxs.nuclei import parse_nuclei

    for option, names in (nuclei or {}).items():
        if names is not None and names.strip().lower() != "all":
            parse_nuclei(option, names)
    if preset is not None:
        preset_config(preset)
    for model in models:
        if model is not None:
            artifacts.resolve_model(model)


def _progress_run(spec, out: Path, resume: bool, command: str) -> dict:
    """Run with a rich progress bar (epoch, train/validation χ²/N, ETA), shown from the first
    epoch on, so that an error found before any work prints no bar. Ctrl-C or SIGTERM: one
    line naming the epoch reached, the last checkpoint and the command that resumes."""
    from contextlib import ExitStack

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from enxs import runs

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("epoch {task.completed}/{task.total}"),
               TextColumn("χ²/N train {task.fields[train]} val {task.fields[val]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    reached: dict = {"epoch": None}
    title = f"{spec.kind} {spec.name}"
    lines = None if console.is_interactive else LogProgress(title, "epoch", spec.config.train.epochs)
    with ExitStack() as stack:
        bar: list = []

        def on_epoch(report) -> None:
            reached["epoch"] = report.epoch
            if report.val_chi2 is not None:
                reached["val"] = f"{report.val_chi2:.3g}"  # the last validation, shown between evaluations
            train, val = f"{report.train_chi2:.3g}", reached.get("val", "…")
            if lines is not None:
                lines(report.epoch, detail=f", χ²/N train {train} val {val}")
                return
            if not bar:
                progress = stack.enter_context(Progress(*columns, console=console, transient=False))
                bar.extend([progress, progress.add_task(title, total=spec.config.train.epochs, train=train, val=val)])
            bar[0].update(bar[1], completed=report.epoch, train=train, val=val)

        try:
            return runs.execute(spec, out, resume=resume, on_epoch=on_epoch)
        except KeyboardInterrupt:
            raise Interrupted(runs.interrupted_message(out, reached["epoch"], command),
                              interrupted_status()) from None


def _print_metrics(manifest, out: Path) -> None:
    m = manifest.metrics
    table = Table(title=escape(f"{manifest.name} model ({', '.join(n.name for n in manifest.nuclei)}) "
                               f"written to {out}"))
    for col in ("points", "n", "χ²/N", "median |rel dev|", "90th pct", "pull mean", "pull width", "1σ coverage"):
        table.add_column(col, justify="right")
    for part in ("train", "test"):
        r = m[part]
        table.add_row(part, str(r["n"]), f"{r['chi2_per_point']:.2f}", f"{r['median_abs_rel_dev']:.2%}",
                      f"{r['p90_abs_rel_dev']:.1%}", f"{r['pull_mean']:+.2f}", f"{r['pull_width']:.2f}",
                      f"{r['coverage_1sigma']:.1%}")
    console.print(table)


@contextmanager
def ray_progress():
    """A progress bar per Ray task (run or chunk), finished as its worker returns; the callback for
    ``executors.RayExecutor``."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bars: dict[str, int] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        def on_event(title: str, event: str, seconds: float) -> None:
            if event == "submitted":
                bars[title] = progress.add_task(f"{title} (Ray)", total=1)
            else:
                progress.update(bars[title], completed=1, description=f"{title}: finished ({seconds:.0f} s)")

        yield on_event


def _on_ray(spec, out: Path, resume: bool, address: str | None, workers: int, command: str):
    """Train in chunks on Ray, a bar per chunk; Ctrl-C says how to continue."""
    from enxs import executors

    try:
        with ray_progress() as on_event:
            manifest = executors.train_in_chunks(spec, out, address, workers, resume=resume, on_event=on_event)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; finished chunks are kept in {out / executors.CHUNKS}: continue with "
                          f"enxs {command} --resume {out} --executor ray", interrupted_status()) from None
    return manifest


#: Options that a resumed run may take: how it runs here, not what it is.
RESUME_OPTIONS = {"resume", "threads", "executor", "address", "workers"}


def refuse_settings_on_resume(ctx: typer.Context) -> None:
    """A resumed run keeps the settings it started with (its run.json): refuse options given for it."""
    refuse_unused({p.opts[0]: p.name not in RESUME_OPTIONS
                   and getattr(ctx.get_parameter_source(p.name), "name", None) == "COMMANDLINE"
                   for p in ctx.command.params},
                  "with --resume: a resumed run keeps the settings it started with (its run.json); give --resume "
                  "DIR alone, or start a new run with --out")


def _start_or_resume(out: Path | None, resume: Path | None, make_spec, command: str, executor: str = "local",
                     address: str | None = None, workers: int | None = None) -> None:
    """Resume the run in ``resume``, or start ``make_spec()`` writing to ``out``; on Ray with
    ``executor='ray'``."""
    from enxs import runs

    workers = check_executor(executor, address, workers)
    if executor == "ray":
        target = resume or out
        if target is None:
            raise CLIError("give --out DIR (or --resume DIR)")
        spec = runs.resume_spec(resume) if resume is not None else make_spec()
        _print_metrics(_on_ray(spec, target, resume is not None, address, workers, command), target)
        return
    if resume is not None:
        _print_metrics(_progress_run(runs.resume_spec(resume), resume, True, command), resume)
    elif out is None:
        raise CLIError("give --out DIR (or --resume DIR)")
    else:
        _print_metrics(_progress_run(make_spec(), out, False, command), out)


def pretrain(
    ctx: typer.Context,
    nucleus: Annotated[str, typer.Option(
        help="Nucleus to train on (12C), several (12C,16O,56Fe), or all: every nucleus file in the data "
             "directory. Several nuclei train one model that takes the nucleus as input.")] = "12C",
    exclude: Annotated[str | None, typer.Option(help="Nuclei to hold out of --nucleus, e.g. 56Fe,40Ca.")] = None,
    preset: Annotated[str, typer.Option(help="paper | fast | smoke")] = "fast",
    members: Members = None, epochs: Epochs = None, seed: Seed = None, device: Device = "cpu",
    config: ConfigFile = None, set_: Sets = None, out: Out = None, resume: Resume = None,
    data_file: Annotated[Path | None, typer.Option(help="Archive-format file instead of <A><Sym>.dat.")] = None,
    data_dir: DataDir = None, threads: Threads = None, executor: Executor = "local", address: Address = None,
    workers: Workers = None,
) -> None:
    """Train an ensemble from scratch and write a model directory.

    The method of Kowal et al., Phys. Rev. C 110, 025501 (2024)."""
    if resume is not None:
        refuse_settings_on_resume(ctx)
    else:
        refuse_mistyped({"--nucleus": nucleus, "--exclude": exclude}, preset)
    from enxs import runs

    context = job_context(data_dir, threads, device)
    _start_or_resume(out, resume, lambda: runs.pretrain_spec(
        nucleus, preset, exclude=exclude, data_file=data_file, context=context, config_file=config,
        assignments=set_, members=members, epochs=epochs, seed=seed), "pretrain", executor, address, workers)


def finetune(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option(
        "--from", help="Pre-trained model: directory or shipped name.", show_default=False)] = None,
    nucleus: Annotated[str | None, typer.Option(help="Target nucleus, e.g. 56Fe.", show_default=False)] = None,
    scenario: Annotated[str, typer.Option(
        help="all: every layer trains; last2: only the last two hidden blocks and the output layer.")] = "all",
    train_fraction: Annotated[float, typer.Option(help="Fraction of the nucleus' points to train on.")] = 0.7,
    members: Members = None, epochs: Epochs = None,
    seed: Annotated[int, typer.Option(
        min=0, help="Seed of everything random: the split of the target's points into train and test, then each "
             "member's seed (replica, validation split, batch order), derived from it.")] = 0,
    device: Device = "cpu", config: ConfigFile = None, set_: Sets = None, out: Out = None, resume: Resume = None,
    norm: Annotated[list[str] | None, typer.Option(help="Normalization uncertainty LABEL=0.03 (repeatable).")] = None,
    data_file: Annotated[Path | None, typer.Option(help="The target's data in the archive format.")] = None,
    data_dir: DataDir = None, threads: Threads = None, executor: Executor = "local", address: Address = None,
    workers: Workers = None,
) -> None:
    """Fine-tune every member of a pre-trained ensemble to another nucleus.

    Transfer learning as in Graczyk et al., Phys. Rev. Lett. 135, 052502 (2025)."""
    if resume is not None:
        refuse_settings_on_resume(ctx)
    if resume is None and (from_ is None or nucleus is None):
        raise CLIError("give --from MODEL and --nucleus TARGET (or --resume DIR)")
    if not 0 < train_fraction < 1:
        raise CLIError(f"--train-fraction {train_fraction:g}: must be in (0, 1)")
    if scenario not in ("all", "last2"):
        raise CLIError(f"--scenario {scenario!r}: choose all or last2")
    if resume is None:
        refuse_mistyped({"--nucleus": nucleus}, models=(from_,))
    from enxs import runs
    from enxs.datasets import parse_norm_overrides

    context = job_context(data_dir, threads, device)
    _start_or_resume(out, resume, lambda: runs.finetune_spec(
        from_, nucleus, scenario, train_fraction, norm_overrides=parse_norm_overrides(norm), data_file=data_file,
        context=context, config_file=config, assignments=set_, members=members, epochs=epochs,
        seed=seed), "finetune", executor, address, workers)


def evaluate(
    model: Annotated[str, typer.Argument(help="Model directory or shipped model name.")],
    nucleus: Annotated[str | None, typer.Option(help="Evaluate on all selected points of this nucleus.")] = None,
    data_file: Annotated[Path | None, typer.Option(help="Evaluate on this archive-format file.")] = None,
    scale_a: Annotated[bool, typer.Option("--scale-a", help="Scale by A_target/A_model (A/12 baseline).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: DataDir = None, threads: Threads = None,
) -> None:
    """Accuracy and calibration per dataset and in total: stored train/test split, or a nucleus."""
    refuse_mistyped({"--nucleus": nucleus}, models=(model,))
    from enxs.evaluation import evaluate_model

    with warnings_on_screen():
        result = evaluate_model(model, nucleus, job_context(data_dir, threads).data_dir, data_file, scale_a)
    if as_json:
        print(json.dumps(result, indent=1))
        return
    for part in ("train", "test", "all"):
        if part not in result:
            continue
        r = result[part]
        zero_shot = " (zero-shot)" if result.get("zero_shot") else ""
        table = Table(title=escape(f"{result['model']} on {result['nucleus']} — {part} points{zero_shot}"))
        for col in ("dataset", "n", "χ²/N", "χ²/N (stat)", "median |rel dev|", "90th pct", "pull mean",
                    "pull width", "1σ coverage", "λ"):
            table.add_column(col, justify="left" if col == "dataset" else "right")
        rows = [*r["datasets"].items(), ("total", {**r, "lambda": None})]
        for label, d in rows:
            table.add_row(label, str(d["n"]), f"{d['chi2_per_point']:.2f}", f"{d['chi2_per_point_stat']:.2f}",
                          f"{d['median_abs_rel_dev']:.2%}", f"{d['p90_abs_rel_dev']:.1%}", f"{d['pull_mean']:+.2f}",
                          f"{d['pull_width']:.2f}",
                          f"{d['coverage_1sigma']:.1%}", "" if d["lambda"] is None else f"{d['lambda']:.3f}")
        console.print(table)


models_app = make_app("Shipped pre-trained models.")


@models_app.command("list")
def models_list() -> None:
    """The models shipped with enxs: name, nucleus, members, architecture, test metrics."""
    from enxs import artifacts

    table = Table(title="shipped models")
    for col in ("name", "trained on", "members", "architecture", "test median |rel dev|", "test 90th pct",
                "test χ²/N", "test 1σ coverage"):
        table.add_column(col)
    for name, path in artifacts.shipped_models().items():
        m = artifacts.read_manifest(path)
        a, t = m.config.model, m.metrics["test"]
        arch = f"{a.depth}×{a.width} {a.activation}, norm={a.norm}, {a.output}" + (
            f", nucleus inputs: {a.nucleus_inputs}" if a.nucleus_inputs != "none" else "")
        table.add_row(name, ", ".join(n.name for n in m.nuclei), str(m.members), arch, f"{t['median_abs_rel_dev']:.2%}",
                      f"{t['p90_abs_rel_dev']:.1%}", f"{t['chi2_per_point']:.2f}", f"{t['coverage_1sigma']:.1%}")
    console.print(table)


def reproduce(
    preset: Annotated[str, typer.Option(help="fast | paper | smoke")] = "fast",
    out: Annotated[Path, typer.Option(help="Report directory (runs are kept under OUT/runs).")] = Path("report"),
    base: Annotated[str, typer.Option(help="Pre-trained carbon model (directory or shipped name).")] = "enxs-12C-fast",
    members: Members = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the splits and the training.")] = 0,
    nuclei: Annotated[list[str] | None,
                      typer.Option("--nucleus", help="Targets (default: 6Li 16O 27Al 40Ca 56Fe).")] = None,
    any_nucleus: Annotated[str, typer.Option(
        help="Zero-shot targets of the any-nucleus study, comma-separated, or none.")] = "6Li,12C,16O,27Al,40Ca,56Fe",
    any_model: Annotated[str | None, typer.Option(
        help="Model of all nuclei to compare with --base on carbon's test points.")] = None,
    any_members: Annotated[int | None, typer.Option(
        min=1, help="Members of the any-nucleus study's ensembles (default: --members, else the preset's).")] = None,
    studies: Annotated[str, typer.Option(
        help="Which studies, comma-separated: transfer (OUT/report.md), any (the any-nucleus study: leave one "
             "nucleus out, recipes and baselines; OUT/any-nucleus.md) and responses (σ vs response models on "
             "held-out spectra, superscaling; OUT/responses.md) and neutrino (CCQE from --any-model against "
             "MiniBooNE, σ(E_ν) tables; OUT/neutrino.md).")]
    = "transfer,any,responses",
    neutrino_data: Annotated[Path | None, typer.Option(
        help="MiniBooNE's CCQE directory (default: $ENXS_NEUTRINO_DIR, else neutrino/miniboone-ccqe beside the "
             "QES archive).")] = None,
    data_dir: DataDir = None, threads: Threads = None, device: Device = "cpu",
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the reports already in OUT (finished runs there are reused either way).")] = False,
    executor: Annotated[str, typer.Option(
        "--executor", help="local (one run after another here) or ray: the study's independent runs fan out over "
                           "Ray workers, one CPU each (pip install 'enxs[ray]').")] = "local",
    address: Address = None, workers: Workers = None,
) -> None:
    """The transfer-learning study (targets × {all, last2} × {7:3, 1:9}) with baselines, the
    any-nucleus study (zero-shot, leave one nucleus out; fine-tuned from those bases) and the
    response study, as reports."""
    any_targets = () if any_nucleus.strip().lower() == "none" else tuple(
        n.strip() for n in any_nucleus.split(",") if n.strip())
    chosen = tuple(s.strip() for s in studies.split(",") if s.strip())
    unknown = set(chosen) - {"transfer", "any", "responses", "neutrino"}
    if unknown or not chosen:
        raise CLIError(f"--studies {studies!r}: choose among transfer, any, responses and neutrino (comma-separated)")
    refuse_mistyped({"--nucleus": ",".join(nuclei or ()) if "transfer" in chosen else None,
                     "--any-nucleus": ",".join(any_targets) if "any" in chosen else None},
                    preset, (base if set(chosen) - {"neutrino"} else None, any_model))  # what the studies use
    from enxs import study
    from enxs.executors import RayExecutor

    context = job_context(data_dir, threads, device)

    def on_run(title, spec):
        say(f"{title}: {spec.kind}, {spec.config.train.epochs} epochs")
        return None

    workers = check_executor(executor, address, workers)
    try:
        with ray_progress() if executor == "ray" else nullcontext() as on_event:
            runner = RayExecutor(out / "runs", address, workers, on_event) if executor == "ray" else None
            paths = study.reproduce(base, preset, out, context, members, seed, tuple(nuclei or study.TARGETS),
                                    study.FRACTIONS, on_run, any_targets, any_model, any_members, chosen, overwrite,
                                    neutrino_data, runner)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; the runs in {out / 'runs'} are kept (checkpoints too): the same command "
                          f"reuses the finished ones and resumes the rest",
                          interrupted_status()) from None
    say(f"report(s) written to {', '.join(map(str, paths))}")
