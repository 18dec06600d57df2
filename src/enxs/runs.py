"""A training run, from data files to a model directory: pre-training, fine-tuning and the
from-scratch baseline alike (they differ only in ``config.start`` and ``config.split``).
Resumable: ``run.json`` records what the run is, checkpoints record how far it got.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from enxs import archive, artifacts
from enxs.artifacts import Manifest
from enxs.config import (
    FINETUNE_TRAIN,
    TRANSFER_TRAIN_FRACTION,
    Config,
    Finetune,
    Scratch,
    build_config,
    finetune_base,
    preset_config,
    read_config_file,
)
from enxs.context import DEFAULT_CONTEXT, Context, environment, resolve_device
from enxs.coverage import coverage_settings
from enxs.datasets import dataset_info, experiment_of, tag_nucleus
from enxs.errors import EnxsError
from enxs.evaluation import evaluate_split
from enxs.files import check_output_directory, write_json
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus, parse_nuclei
from enxs.predict import Ensemble
from enxs.training import (
    RNG_SCHEME,
    EpochReport,
    PointSet,
    Trainer,
    split_points,
    split_settings,
)
from enxs.transfer import no_own_parts, scale_to_nucleus, trainable_parts, without_own_parts

RUN_FILE = "run.json"
#: How the σ and response networks of several nuclei see them (descriptors.py; docs/method.md).
MULTI_NUCLEUS_INPUTS = "shape"
#: The default model of several nuclei: the physics-structured one, with normalizations drawn per
#: replica (coverage of zero-shot nuclei 45% → 55% on the validation nuclei) and c_L free below q ≈ 0.2 GeV
#: (trained nuclei's χ²/N 12.4 → 9.7, zero-shot unchanged; docs/method.md).
STRUCTURED = {"model": {"output": "superscaling", "nucleus_inputs": "physics", "longitudinal_cut": 2.0,
                        "nucleus_prior": 0.1, "longitudinal_basis": "cubic", "longitudinal_low_q": 0.2,
                        "transverse_smoothness": 0.01},
              "train": {"fluctuate_norm": True}}
#: Manifest kind of each start.
KIND = {"scratch": "pretrain", "finetune": "finetune", "imported": "imported"}


class RunError(EnxsError):
    """A run that cannot start or resume (no usable data, existing output, …)."""


@dataclass
class RunSpec:
    """What a run is: enough to start it again or resume it (stored as run.json, a record
    of this machine: it names the data files by their paths here). One nucleus or several:
    ``nuclei`` and ``data_files`` in the same order (a single name and path are accepted)."""

    nuclei: list[str]
    data_files: list[str]
    config: Config
    norm_overrides: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    data_sha256: list[str] | None = None  # recorded when the run starts, checked on resume

    def __post_init__(self) -> None:
        self.nuclei = [self.nuclei] if isinstance(self.nuclei, str) else list(self.nuclei)
        self.data_files = [self.data_files] if isinstance(self.data_files, str) else list(self.data_files)

    @property
    def kind(self) -> str:
        return KIND[self.config.start.kind]

    @property
    def name(self) -> str:
        """The nucleus, or ``any`` for several."""
        return self.nuclei[0] if len(self.nuclei) == 1 else "any"

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "config": self.config.to_dict()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunSpec:
        return cls(**{**d, "config": Config.from_dict(d["config"])})


def choose_nuclei(nucleus: str, exclude: str | None = None, context: Context = DEFAULT_CONTEXT) -> list[str]:
    """``12C``, a comma-separated list, or ``all`` (every nucleus file in the context's data
    directory), less the comma-separated ``exclude``; names normalized (``parse_nuclei``)."""
    names = context.nucleus_names() if nucleus.strip().lower() == "all" else parse_nuclei("--nucleus", nucleus)
    dropped = set(parse_nuclei("--exclude", exclude or ""))
    unknown = dropped - set(names)
    if unknown:
        raise RunError(f"--exclude {', '.join(sorted(unknown))}: not among the nuclei to train on ({', '.join(names)})")
    chosen = [n for n in names if n not in dropped]
    if not chosen:
        raise RunError(f"--nucleus {nucleus} --exclude {exclude}: no nucleus left to train on")
    return chosen


def pretrain_spec(nucleus: str, preset: str, *, exclude: str | None = None, data_file=None,
                  context: Context = DEFAULT_CONTEXT, **options: Any) -> RunSpec:
    """A pre-training run on one nucleus or several (``choose_nuclei``): the preset with
    ``options`` (``build_config``'s: config_file, assignments, members, epochs, seed,
    train_fraction). Several nuclei need nucleus inputs: unless the configuration names them,
    the structured model (``STRUCTURED``, under the user's options), or where the user names an
    output (``model.output=responses``, ``=sigmoid``) that network with ``MULTI_NUCLEUS_INPUTS``.
    The σ-only recipe: ``nucleus_inputs=shape`` (or ``model.output=sigmoid``)."""
    nuclei = choose_nuclei(nucleus, exclude, context)
    if data_file is not None and len(nuclei) > 1:
        raise RunError("--data-file holds one nucleus; give one --nucleus with it")
    base = preset_config(preset)
    chosen = user_model_keys(options) & {"output", "nucleus_inputs"}
    if len(nuclei) > 1 and not chosen:  # the structured recipe under the user's options
        base = replace(base, model=replace(base.model, **STRUCTURED["model"]),
                       train=replace(base.train, **STRUCTURED["train"]))
    config = build_config(base, Scratch(), **options)
    if len(nuclei) > 1 and config.model.nucleus_inputs == "none":  # a network the user chose
        config = replace(config, model=replace(config.model, nucleus_inputs=MULTI_NUCLEUS_INPUTS))
    if config.model.nucleus_prior > 0:  # the structured model's own parts: one per nucleus trained on
        config = replace(config, model=replace(config.model, own_nuclei=",".join(nuclei)))
    return RunSpec(nuclei, [str(context.data_path(n, data_file)) for n in nuclei], config, device=context.device)


def user_model_keys(options: dict[str, Any]) -> set[str]:
    """The ``model.*`` keys a user's options set (``--set model.key=…`` items and the config file's
    ``model`` section)."""
    keys = {item.split("=")[0].strip().removeprefix("model.") for item in options.get("assignments") or []
            if item.strip().startswith("model.")}
    if options.get("config_file") is not None:
        keys |= set(read_config_file(options["config_file"]).get("model", {}))
    return keys


def finetune_spec(parent: str, nucleus: str, scenario: str = "all", train_fraction: float = TRANSFER_TRAIN_FRACTION,
                  *, scale_by_a: bool | None = None, norm_overrides: dict[str, float] | None = None, data_file=None,
                  context: Context = DEFAULT_CONTEXT, **options: Any) -> RunSpec:
    """A fine-tuning run from ``parent`` (directory or shipped name) with the fine-tuning
    schedule of the parent's preset (``fast`` for other presets) and ``options`` as above.
    The output is scaled by A/A_parent from a one-nucleus parent; a parent with nucleus
    inputs already knows the target's A (no factor)."""
    target = Nucleus.parse(nucleus)
    parent_config = artifacts.read_manifest(artifacts.resolve_model(parent)).config
    preset = parent_config.preset if parent_config.preset in FINETUNE_TRAIN else "fast"
    if scale_by_a is None:
        scale_by_a = parent_config.model.nucleus_inputs == "none"
    start = Finetune(parent=artifacts.model_reference(parent), scenario=scenario, scale_by_a=scale_by_a)
    config = build_config(finetune_base(parent_config, preset), start, train_fraction=train_fraction, **options)
    config = replace(config, model=no_own_parts(config.model))
    path = context.data_path(target.name, data_file)
    return RunSpec(target.name, str(path), config, norm_overrides or {}, device=context.device)


def load_points(spec: RunSpec) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The selected points of the run's data files (one table; with several nuclei each
    dataset label gets ``@nucleus``), and the manifest's records of the data."""
    tables, records = [], []
    for name, file in zip(spec.nuclei, spec.data_files, strict=True):
        path = Path(file)
        table, report = archive.read_file(path, Nucleus.parse(name))
        selected = spec.config.selection.apply(table)
        if len(selected) < 10:
            raise RunError(f"{path}: only {len(selected)} point(s) pass the selection; at least 10 are needed")
        if len(spec.nuclei) > 1:
            selected = tag_nucleus(selected, name)
        tables.append(selected)
        records.append({"nucleus": name, **artifacts.data_record(path, report.raw_points, len(selected),
                                                                 report.notes())})
    return pd.concat(tables, ignore_index=True), records


def split_by_nucleus(table: pd.DataFrame, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) rows: each nucleus split on its own (``split.train_fraction``, ``split.seed``,
    by points or by whole (E, θ) settings: ``split.unit``)."""
    train, test = [], []
    split = config.split
    for _, rows in table.groupby("nucleus", sort=False).indices.items():
        if split.unit == "setting":
            part = table.iloc[rows]
            setting = part.E.round(6).astype(str) + "/" + part.theta.round(4).astype(str)
            tr, te = split_settings(setting.to_numpy(), split.train_fraction, split.seed)
        else:
            tr, te = split_points(len(rows), split.train_fraction, split.seed)
        train.append(rows[tr])
        test.append(rows[te])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def build_model(spec: RunSpec) -> tuple[EnsembleNet, set[str] | None, list, Manifest | None]:
    """Fresh seeded members, or the parent's members scaled by A/A_parent for a fine-tune;
    with the parameters to train, the modules to keep frozen and the parent's manifest."""
    config, start = spec.config, spec.config.start
    if not isinstance(start, Finetune):
        with torch.random.fork_rng():  # the Trainer redraws every member from its own seed
            return EnsembleNet(config.model, config.train.members), None, [], None
    parent, parent_manifest = artifacts.load_model(start.parent)
    first, count = config.train.first_member, config.train.members
    if first + count > parent.members:
        raise RunError(f"{start.parent} has {parent.members} members; cannot fine-tune {first + count}")
    model = without_own_parts(parent.select(list(range(first, first + count))), Nucleus.parse(spec.nuclei[0]))
    if start.scale_by_a:
        if parent_manifest.nucleus is None:
            raise RunError(f"{start.parent} describes several nuclei: it needs no A/A_parent factor "
                           f"(start.scale_by_a=false)")
        scale_to_nucleus(model, Nucleus.parse(spec.nuclei[0]), parent_manifest.nucleus)
    trainable, frozen = trainable_parts(model, start.scenario)
    return model, trainable, frozen, parent_manifest


def check_norm_overrides(overrides: dict[str, float], labels: list[str], spec: RunSpec) -> None:
    """Refuse a normalization override for a dataset (experiment) the data do not hold."""
    experiments = list(dict.fromkeys(experiment_of(label) for label in labels))
    unknown = sorted(set(overrides) - set(experiments) - set(labels))
    if unknown:
        files = ", ".join(Path(f).name for f in spec.data_files)
        raise RunError(f"--norm {', '.join(unknown)}: no such dataset in {files}; "
                       f"its datasets: {', '.join(experiments)}")


@dataclass
class Prepared:
    """A run's data, checked and split: the selected points, the files' records, train and test rows,
    the training points as tensors."""

    selected: pd.DataFrame
    data: list[dict[str, Any]]
    train_idx: np.ndarray
    test_idx: np.ndarray
    points: PointSet


def prepare(spec: RunSpec) -> Prepared:
    """Load, check and split a run's data (all validation before anything is written)."""
    selected, data = load_points(spec)
    check_norm_overrides(spec.norm_overrides, list(dict.fromkeys(selected.dataset)), spec)
    if len(spec.nuclei) > 1 and spec.config.model.nucleus_inputs == "none":
        raise RunError("a model of several nuclei needs nucleus inputs: set model.nucleus_inputs")
    train_idx, test_idx = split_by_nucleus(selected, spec.config)
    points = PointSet.from_table(selected, spec.norm_overrides, spec.config.train.p2p_sys,
                                 spec.config.model.nucleus_inputs)
    return Prepared(selected, data, train_idx, test_idx, points)


def execute(spec: RunSpec, out_dir: str | os.PathLike, *, resume: bool = False,
            on_epoch: Callable[[EpochReport], None] | None = None) -> Manifest:
    """Run (or resume) training and write the model directory; returns its manifest."""
    out, config = Path(out_dir), spec.config
    if not resume:
        if (out / artifacts.MANIFEST).is_file() or (out / RUN_FILE).is_file():
            raise RunError(f"{out} already holds a model or a run; use --resume or another --out")
        check_output_directory(out, "--out")
    device = resolve_device(spec.device)
    run = prepare(spec)
    model, trainable, frozen, parent = build_model(spec)
    trainer = Trainer(model.to(device), run.points.to(device), run.train_idx, config, trainable=trainable,
                      frozen_modules=frozen, fresh=parent is None)
    if resume:
        if spec.data_sha256 not in (None, [d["sha256"] for d in run.data]):
            raise RunError(f"{', '.join(spec.data_files)}: changed since this run started (sha256 differs); "
                           f"start a new run instead of resuming")
        if artifacts.has_checkpoint(out):  # killed before its first checkpoint: start at epoch 0
            trainer.load_state(*artifacts.load_checkpoint(out))
    else:
        out.mkdir(exist_ok=True)
        write_json(out / RUN_FILE, {**spec.to_json(), "data_sha256": [d["sha256"] for d in run.data]})

    def checkpoint(t: Trainer) -> None:
        tensors, meta = t.state()
        artifacts.save_checkpoint(out, {k: v.cpu() for k, v in tensors.items()}, meta)

    started = time.perf_counter()
    trainer.fit(on_epoch=on_epoch, on_checkpoint=checkpoint)
    training = {"rng_scheme": RNG_SCHEME, "member_seeds": trainer.seeds,
                "best_epoch": trainer.best_epoch.cpu().tolist(),
                "best_validation_chi2_per_point": [round(v, 4) for v in trainer.best_val.cpu().tolist()],
                "epochs_run": trainer.epoch, "fit_seconds_last_invocation": round(time.perf_counter() - started, 1),
                "environment": environment(device)}
    manifest = write_model(spec, out, run, trainer.model.cpu().eval(), trainer.lam.cpu().numpy(), training, parent)
    artifacts.remove_checkpoint(out)
    return manifest


def write_model(spec: RunSpec, out: Path, run: Prepared, model: EnsembleNet, lam: np.ndarray,
                training: dict[str, Any], parent: Manifest | None) -> Manifest:
    """Evaluate a trained ensemble ([K, D] normalizations ``lam``) on its split and write its directory."""
    train, test = run.selected.iloc[run.train_idx], run.selected.iloc[run.test_idx]
    manifest = artifacts.Manifest(
        kind=spec.kind, nuclei=[Nucleus.parse(n) for n in spec.nuclei], config=spec.config, members=model.members,
        data=run.data,
        split={n: {"train_lines": train.line[train.nucleus == n].tolist(),
                   "test_lines": test.line[test.nucleus == n].tolist()} for n in spec.nuclei},
        coverage={n: coverage_settings(train[train.nucleus == n]) for n in spec.nuclei},
        lam={"labels": run.points.labels, "per_member": np.round(np.asarray(lam, np.float64), 6).tolist()},
        datasets={k: {"norm_unc": (info := dataset_info(k, spec.norm_overrides)).norm_unc,
                      "norm_source": info.norm_source} for k in run.points.labels},
        norm_overrides=spec.norm_overrides,
        parent=({"nuclei": [n.name for n in parent.nuclei], "weights_sha256": parent.weights_sha256}
                if parent else None),
        training=training,
    )
    manifest.metrics = evaluate_split(model, train, test, manifest)
    artifacts.save_model(out, model, manifest)
    return manifest


def interrupted_message(out: Path, epoch: int | None, command: str) -> str:
    """What to tell a user whose run was interrupted: where it stopped and how to resume."""
    if not (out / RUN_FILE).is_file():
        return f"interrupted before training started; nothing was written to {out}"
    saved = artifacts.checkpoint_meta(out)["epoch"] if artifacts.has_checkpoint(out) else None
    where = f"last checkpoint epoch {saved}" if saved is not None else "no checkpoint yet (resuming starts at epoch 0)"
    return f"interrupted at epoch {epoch or 0}; {where}; resume with `enxs {command} --resume {out}`"


def resume_spec(out_dir: str | os.PathLike) -> RunSpec:
    """The run recorded in ``out_dir`` (unfinished: no model written yet)."""
    out = Path(out_dir)
    if (out / artifacts.MANIFEST).is_file():
        raise RunError(f"{out}: this run already finished")
    if not (out / RUN_FILE).is_file():
        raise RunError(f"{out}: nothing to resume (no {RUN_FILE})")
    return RunSpec.from_json(json.loads((out / RUN_FILE).read_text(encoding="utf-8")))


def pretrain(nucleus: str, out: str | os.PathLike, preset: str = "fast", *, exclude: str | None = None,
             data_file=None, data_dir=None, device: str = "cpu",
             on_epoch: Callable[[EpochReport], None] | None = None, **options: Any) -> Ensemble:
    """Train an ensemble from scratch on ``nucleus`` (``"12C"``, ``"12C,16O"`` or ``"all"``) and
    write it to the new directory ``out``; returns it loaded. ``options``: members, epochs, seed,
    train_fraction, config_file, assignments (``["train.lr=1e-3"]``), as ``enxs pretrain``."""
    spec = pretrain_spec(nucleus, preset, exclude=exclude, data_file=data_file, context=Context(data_dir, device),
                         **options)
    execute(spec, out, on_epoch=on_epoch)
    return Ensemble.load(out)


def finetune(parent: str | os.PathLike, nucleus: str, out: str | os.PathLike, scenario: str = "all",
             train_fraction: float = TRANSFER_TRAIN_FRACTION, *, norm_overrides: dict[str, float] | None = None,
             data_file=None, data_dir=None, device: str = "cpu",
             on_epoch: Callable[[EpochReport], None] | None = None, **options: Any) -> Ensemble:
    """Fine-tune every member of ``parent`` (a directory or shipped name) to ``nucleus`` on
    ``train_fraction`` of its points, writing the new directory ``out``; returns it loaded."""
    spec = finetune_spec(str(parent), nucleus, scenario, train_fraction, norm_overrides=norm_overrides,
                         data_file=data_file, context=Context(data_dir, device), **options)
    execute(spec, out, on_epoch=on_epoch)
    return Ensemble.load(out)


def resume(out: str | os.PathLike, on_epoch: Callable[[EpochReport], None] | None = None) -> Ensemble:
    """Continue the interrupted run in ``out``; returns the finished ensemble."""
    execute(resume_spec(out), out, resume=True, on_epoch=on_epoch)
    return Ensemble.load(out)
