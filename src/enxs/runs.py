"""A training run, from data files to a model directory: pre-training, or fine-tuning as a
start mode of the same loop. Resumable: ``run.json`` records what the run is, checkpoints
record how far it got.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from enxs import archive, artifacts
from enxs.config import Config
from enxs.datasets import dataset_info
from enxs.evaluation import evaluate_split
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import coverage_settings
from enxs.training import EpochReport, PointSet, Trainer, split_points
from enxs.transfer import scale_to_nucleus, trainable_parts

RUN_FILE = "run.json"


class RunError(ValueError):
    """A run that cannot start or resume (no usable data, existing output, …)."""


@dataclass
class RunSpec:
    """What a run is: enough to start it again or resume it (stored as run.json)."""

    kind: str  # pretrain | finetune | scratch (fresh network on a transfer split: the baseline)
    nucleus: str
    data_file: str
    config: dict[str, Any]
    norm_overrides: dict[str, float] = field(default_factory=dict)
    parent: str | None = None
    device: str = "cpu"
    data_sha256: str | None = None  # recorded when the run starts, checked on resume

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def load_points(spec: RunSpec, config: Config) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The selected table of the run's data file, and the manifest's data record."""
    path = Path(spec.data_file)
    table, report = archive.read_file(path, Nucleus.parse(spec.nucleus))
    selected = config.selection.apply(table)
    if len(selected) < 10:
        raise RunError(f"{path}: only {len(selected)} point(s) pass the selection; at least 10 are needed")
    record = {"file": str(path), "name": path.name, "sha256": archive.file_checksum(path),
              "raw_points": report.raw_points, "selected_points": len(selected),
              "selection": config.selection.to_dict(), "reader_notes": report.notes()}
    return selected, record


def split_for(spec: RunSpec, config: Config, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices: test_fraction held out for pre-training, 1 − F for transfer."""
    if spec.kind in ("finetune", "scratch"):
        return split_points(n, 1 - config.transfer.train_fraction, config.train.seed)
    return split_points(n, config.train.test_fraction, config.train.seed)


def build_model(spec: RunSpec, config: Config) -> tuple[EnsembleNet, set[str] | None, list, dict | None]:
    """Fresh seeded model for pre-training; parent members scaled by A/A_parent for transfer."""
    if spec.kind in ("pretrain", "scratch"):
        with torch.random.fork_rng():
            torch.manual_seed(config.train.seed)
            return EnsembleNet(config.model, config.train.members), None, [], None
    parent, parent_manifest = artifacts.load_model(spec.parent)
    if config.train.members > parent.members:
        raise RunError(f"{spec.parent} has {parent.members} members; cannot fine-tune {config.train.members}")
    model = parent.select(list(range(config.train.members)))
    if config.transfer.scale_by_a:
        scale_to_nucleus(model, Nucleus.parse(spec.nucleus).A, int(parent_manifest["A"]))
    trainable, frozen = trainable_parts(model, config.transfer.scenario)
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
            on_epoch: Callable[[EpochReport], None] | None = None) -> dict[str, Any]:
    """Run (or resume) training and write the model directory; returns its manifest."""
    out = Path(out_dir)
    if not resume and ((out / artifacts.MANIFEST).exists() or (out / RUN_FILE).exists()):
        raise RunError(f"{out} already holds a model or a run; use --resume or another --out")
    config = Config.from_dict(spec.config)
    device = resolve_device(spec.device)
    selected, data_record = load_points(spec, config)  # all validation before anything is written
    check_norm_overrides(spec.norm_overrides, list(dict.fromkeys(selected.dataset)), spec.data_file)
    train_idx, test_idx = split_for(spec, config, len(selected))
    model, trainable, frozen, parent = build_model(spec, config)
    points = PointSet.from_table(selected, spec.norm_overrides, config.train.p2p_sys)
    trainer = Trainer(model.to(device), points.to(device), train_idx, config, trainable=trainable,
                      frozen_modules=frozen, fresh=spec.kind != "finetune")
    if resume:
        if spec.data_sha256 not in (None, data_record["sha256"]):
            raise RunError(f"{spec.data_file} changed since this run started (sha256 differs); "
                           f"start a new run instead of resuming")
        if artifacts.has_checkpoint(out):  # killed before its first checkpoint: start at epoch 0
            trainer.load_state(*artifacts.load_checkpoint(out))
    else:
        out.mkdir(parents=True, exist_ok=True)
        artifacts.write_json(out / RUN_FILE, {**spec.to_json(), "data_sha256": data_record["sha256"]})

    def checkpoint(t: Trainer) -> None:
        tensors, meta = t.state()
        artifacts.save_checkpoint(out, {k: v.cpu() for k, v in tensors.items()}, meta)

    trainer.fit(on_epoch=on_epoch, on_checkpoint=checkpoint)
    model = trainer.model.cpu().eval()
    lam = trainer.lam.cpu().numpy()
    nucleus = Nucleus.parse(spec.nucleus)
    manifest: dict[str, Any] = {
        "kind": spec.kind, "nucleus": nucleus.name, "Z": nucleus.Z, "A": nucleus.A,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(), "member_seeds": trainer.seeds,
        "data": data_record,
        "split": {"train_lines": selected.line.iloc[train_idx].tolist(),
                  "test_lines": selected.line.iloc[test_idx].tolist()},
        "datasets": {k: {"norm_unc": dataset_info(k, spec.norm_overrides).norm_unc,
                         "norm_source": dataset_info(k, spec.norm_overrides).norm_source}
                     for k in points.labels},
        "lambda": {"labels": points.labels, "per_member": np.round(lam, 6).tolist()},
        "best_epoch": trainer.best_epoch.cpu().tolist(),
        "best_validation_chi2_per_point": [round(v, 4) for v in trainer.best_val.cpu().tolist()],
        "epochs_run": trainer.epoch,
        "coverage": coverage_settings(selected.iloc[train_idx]),
        "norm_overrides": spec.norm_overrides,
        "parent": ({"model": str(spec.parent), "nucleus": parent["nucleus"], "A": parent["A"],
                    "weights_sha256": parent["weights"]["sha256"]} if parent else None),
    }
    manifest["metrics"] = evaluate_split(model, selected, train_idx, test_idx, manifest)
    artifacts.save_model(out, model, manifest)
    artifacts.remove_checkpoint(out)
    return json.loads((out / artifacts.MANIFEST).read_text())


def resume_spec(out_dir: str | os.PathLike) -> RunSpec:
    path = Path(out_dir) / RUN_FILE
    if not path.is_file():
        raise RunError(f"{out_dir}: nothing to resume (no {RUN_FILE})")
    if (Path(out_dir) / artifacts.MANIFEST).is_file():
        raise RunError(f"{out_dir}: this run already finished")
    return RunSpec(**json.loads(path.read_text(encoding="utf-8")))
