"""A training run, from data files to a model directory: pre-training, fine-tuning and the
from-scratch baseline alike (they differ only in ``config.start`` and ``config.split``).
Resumable: ``run.json`` records what the run is, checkpoints record how far it got.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
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
    build_config,
    finetune_base,
    load_config,
)
from enxs.datasets import dataset_info
from enxs.evaluation import evaluate_split
from enxs.files import write_json
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import coverage_settings
from enxs.training import EpochReport, PointSet, Trainer, split_points
from enxs.transfer import scale_to_nucleus, trainable_parts

RUN_FILE = "run.json"
#: Manifest kind of each start.
KIND = {"scratch": "pretrain", "finetune": "finetune", "imported": "imported"}


class RunError(ValueError):
    """A run that cannot start or resume (no usable data, existing output, …)."""


@dataclass
class RunSpec:
    """What a run is: enough to start it again or resume it (stored as run.json, a record
    of this machine: it names the data file by its path here)."""

    nucleus: str
    data_file: str
    config: Config
    norm_overrides: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    data_sha256: str | None = None  # recorded when the run starts, checked on resume

    @property
    def kind(self) -> str:
        return KIND[self.config.start.kind]

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "config": self.config.to_dict()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunSpec:
        return cls(**{**d, "config": Config.from_dict(d["config"])})


def pretrain_spec(nucleus: str, preset: str, *, data_file=None, data_dir=None, device: str = "cpu",
                  **options: Any) -> RunSpec:
    """A pre-training run: the preset with ``options`` (``build_config``'s: config_file,
    assignments, members, epochs, seed, train_fraction) on the nucleus' data."""
    config = load_config(preset, **options)
    path = archive.data_path(nucleus, data_file, data_dir).resolve()
    return RunSpec(Nucleus.parse(nucleus).name, str(path), config, device=device)


def finetune_spec(parent: str, nucleus: str, scenario: str = "all", train_fraction: float = TRANSFER_TRAIN_FRACTION,
                  *, scale_by_a: bool = True, norm_overrides: dict[str, float] | None = None, data_file=None,
                  data_dir=None, device: str = "cpu", **options: Any) -> RunSpec:
    """A fine-tuning run from ``parent`` (directory or shipped name) with the fine-tuning
    schedule of the parent's preset (``fast`` for other presets) and ``options`` as above."""
    target = Nucleus.parse(nucleus)
    parent_config = artifacts.read_manifest(artifacts.resolve_model(parent)).config
    preset = parent_config.preset if parent_config.preset in FINETUNE_TRAIN else "fast"
    start = Finetune(parent=artifacts.model_reference(parent), scenario=scenario, scale_by_a=scale_by_a)
    config = build_config(finetune_base(parent_config, preset), start, train_fraction=train_fraction, **options)
    path = archive.data_path(target.name, data_file, data_dir).resolve()
    return RunSpec(target.name, str(path), config, norm_overrides or {}, device=device)


def load_points(spec: RunSpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The selected table of the run's data file, and the manifest's record of the data."""
    path = Path(spec.data_file)
    table, report = archive.read_file(path, Nucleus.parse(spec.nucleus))
    selected = spec.config.selection.apply(table)
    if len(selected) < 10:
        raise RunError(f"{path}: only {len(selected)} point(s) pass the selection; at least 10 are needed")
    return selected, artifacts.data_record(path, report.raw_points, len(selected), report.notes())


def build_model(spec: RunSpec) -> tuple[EnsembleNet, set[str] | None, list, Manifest | None]:
    """Fresh seeded members, or the parent's members scaled by A/A_parent for a fine-tune;
    with the parameters to train, the modules to keep frozen and the parent's manifest."""
    config, start = spec.config, spec.config.start
    if not isinstance(start, Finetune):
        with torch.random.fork_rng():
            torch.manual_seed(config.train.seed)
            return EnsembleNet(config.model, config.train.members), None, [], None
    parent, parent_manifest = artifacts.load_model(start.parent)
    if config.train.members > parent.members:
        raise RunError(f"{start.parent} has {parent.members} members; cannot fine-tune {config.train.members}")
    model = parent.select(list(range(config.train.members)))
    if start.scale_by_a:
        scale_to_nucleus(model, Nucleus.parse(spec.nucleus).A, parent_manifest.A)
    trainable, frozen = trainable_parts(model, start.scenario)
    return model, trainable, frozen, parent_manifest


def resolve_device(name: str) -> torch.device:
    """The torch device called ``name``, refused in one line when this machine or build lacks it."""
    available = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
        ["mps"] if torch.backends.mps.is_available() else [])
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RunError(f"device {name!r} is not a device name; available here: {', '.join(available)}") from None
    if device.type not in available:
        raise RunError(f"device {name!r} is not available (torch {torch.__version__} on this machine); "
                       f"available here: {', '.join(available)}")
    return device


def check_norm_overrides(overrides: dict[str, float], labels: list[str], data_file: str) -> None:
    """Refuse a normalization override for a dataset label the data do not hold."""
    unknown = sorted(set(overrides) - set(labels))
    if unknown:
        raise RunError(f"--norm {', '.join(unknown)}: no such dataset in {Path(data_file).name}; "
                       f"its datasets: {', '.join(labels)}")


def execute(spec: RunSpec, out_dir: str | os.PathLike, *, resume: bool = False,
            on_epoch: Callable[[EpochReport], None] | None = None) -> Manifest:
    """Run (or resume) training and write the model directory; returns its manifest."""
    out, config = Path(out_dir), spec.config
    if not resume and ((out / artifacts.MANIFEST).exists() or (out / RUN_FILE).exists()):
        raise RunError(f"{out} already holds a model or a run; use --resume or another --out")
    device = resolve_device(spec.device)
    selected, data = load_points(spec)  # all validation before anything is written
    check_norm_overrides(spec.norm_overrides, list(dict.fromkeys(selected.dataset)), spec.data_file)
    train_idx, test_idx = split_points(len(selected), config.split.train_fraction, config.split.seed)
    model, trainable, frozen, parent = build_model(spec)
    points = PointSet.from_table(selected, spec.norm_overrides, config.train.p2p_sys)
    trainer = Trainer(model.to(device), points.to(device), train_idx, config, trainable=trainable,
                      frozen_modules=frozen, fresh=parent is None)
    if resume:
        if spec.data_sha256 not in (None, data["sha256"]):
            raise RunError(f"{spec.data_file} changed since this run started (sha256 differs); "
                           f"start a new run instead of resuming")
        if artifacts.has_checkpoint(out):  # killed before its first checkpoint: start at epoch 0
            trainer.load_state(*artifacts.load_checkpoint(out))
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / RUN_FILE, {**spec.to_json(), "data_sha256": data["sha256"]})

    def checkpoint(t: Trainer) -> None:
        tensors, meta = t.state()
        artifacts.save_checkpoint(out, {k: v.cpu() for k, v in tensors.items()}, meta)

    trainer.fit(on_epoch=on_epoch, on_checkpoint=checkpoint)
    model = trainer.model.cpu().eval()
    manifest = artifacts.Manifest(
        kind=spec.kind, nucleus=Nucleus.parse(spec.nucleus), config=config, members=model.members, data=data,
        split={"train_lines": selected.line.iloc[train_idx].tolist(),
               "test_lines": selected.line.iloc[test_idx].tolist()},
        coverage=coverage_settings(selected.iloc[train_idx]),
        lam={"labels": points.labels, "per_member": np.round(trainer.lam.cpu().numpy(), 6).tolist()},
        datasets={k: {"norm_unc": (info := dataset_info(k, spec.norm_overrides)).norm_unc,
                      "norm_source": info.norm_source} for k in points.labels},
        norm_overrides=spec.norm_overrides,
        parent=({"nucleus": parent.nucleus.name, "A": parent.A, "weights_sha256": parent.weights_sha256}
                if parent else None),
        training={"member_seeds": trainer.seeds, "best_epoch": trainer.best_epoch.cpu().tolist(),
                  "best_validation_chi2_per_point": [round(v, 4) for v in trainer.best_val.cpu().tolist()],
                  "epochs_run": trainer.epoch},
    )
    manifest.metrics = evaluate_split(model, selected, train_idx, test_idx, manifest)
    artifacts.save_model(out, model, manifest)
    artifacts.remove_checkpoint(out)
    return manifest


def resume_spec(out_dir: str | os.PathLike) -> RunSpec:
    """The run recorded in ``out_dir`` (unfinished: no model written yet)."""
    out = Path(out_dir)
    if (out / artifacts.MANIFEST).is_file():
        raise RunError(f"{out}: this run already finished")
    if not (out / RUN_FILE).is_file():
        raise RunError(f"{out}: nothing to resume (no {RUN_FILE})")
    return RunSpec.from_json(json.loads((out / RUN_FILE).read_text(encoding="utf-8")))
