"""Evaluating an ensemble on measured points: the stored train/test split, or a nucleus."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enxs import archive, metrics
from enxs.artifacts import load_model, resolve_model
from enxs.config import Config, ConfigError
from enxs.datasets import dataset_info, total_error
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import member_predictions


def metrics_on(model: EnsembleNet, table: pd.DataFrame, manifest: dict[str, Any], factor: float = 1.0) -> dict:
    """Metrics (enxs.metrics) of the model's prediction × factor on these points."""
    sigma = member_predictions(model, table.E.to_numpy(), table.theta.to_numpy(), table.omega.to_numpy())
    return metrics_of_members(sigma * factor, table, manifest)


def metrics_of_members(sigma: np.ndarray, table: pd.DataFrame, manifest: dict[str, Any]) -> dict:
    """Metrics of member predictions σ [K, N] (nb/sr/GeV) at the table's points; the
    manifest supplies the point-to-point systematic and normalization overrides."""
    p2p = manifest.get("config", {}).get("train", {}).get("p2p_sys")
    overrides = manifest.get("norm_overrides") or {}
    norm = {k: dataset_info(k, overrides).norm_unc for k in table.dataset.unique()}
    spread = sigma.std(0, ddof=1) if len(sigma) > 1 else np.zeros(len(table))  # members or MC samples
    return metrics.evaluate(table.sigma, total_error(table, p2p), table.stat_err, sigma.mean(0), spread,
                            table.dataset, norm)


def evaluate_split(model: EnsembleNet, selected: pd.DataFrame, train_idx, test_idx, manifest) -> dict:
    """Metrics on the training and the held-out test points."""
    return {"train": metrics_on(model, selected.iloc[train_idx], manifest),
            "test": metrics_on(model, selected.iloc[test_idx], manifest)}


def evaluate_model(model_ref: str | os.PathLike, nucleus: str | None = None,
                   data_dir: str | os.PathLike | None = None, data_file: str | os.PathLike | None = None,
                   scale_by_a: bool = False) -> dict[str, Any]:
    """Metrics of a model directory or shipped model.

    Without ``nucleus``/``data_file``: on the model's stored train/test split (the data file
    must be the one it was trained on: same SHA-256). Otherwise on every selected point of
    that nucleus, optionally scaling the prediction by A_target/A_model (the A/12 baseline).
    """
    model_dir = resolve_model(model_ref)
    model, manifest = load_model(model_dir)
    try:
        selection = Config.from_dict(manifest["config"]).selection
    except (ConfigError, KeyError):
        from enxs.selection import Selection

        selection = Selection()
    result: dict[str, Any] = {"model": str(model_ref), "model_nucleus": manifest["nucleus"]}
    if nucleus is None and data_file is None and "split" in manifest:
        record = manifest["data"]
        path = Path(record["file"])
        if not path.is_file() or archive.file_checksum(path) != record["sha256"]:
            path = archive.find_nucleus_file(manifest["nucleus"], data_dir)
        found = archive.file_checksum(path)
        if found != record["sha256"]:
            raise archive.ArchiveError(
                f"{path}: not the data this model was trained on (sha256 {found[:12]}…, manifest "
                f"{record['sha256'][:12]}…): the stored train/test split does not apply; "
                f"evaluate with --nucleus to use all points of this file instead")
        table = selection.apply(archive.read_file(path)[0])
        lines = table.line.to_numpy()
        for part in ("train", "test"):
            rows = np.flatnonzero(np.isin(lines, manifest["split"][f"{part}_lines"]))
            result[part] = metrics_on(model, table.iloc[rows], manifest)
        result["nucleus"] = manifest["nucleus"]
        return result
    path = Path(data_file) if data_file else archive.find_nucleus_file(nucleus or manifest["nucleus"], data_dir)
    table = selection.apply(archive.read_file(path)[0])
    if table.empty:
        raise archive.ArchiveError(f"{path}: no point passes the selection")
    target = Nucleus.from_za(int(table.Z.iloc[0]), int(table.A.iloc[0]))
    factor = target.A / int(manifest["A"]) if scale_by_a else 1.0
    result |= {"nucleus": target.name, "scale_factor": factor, "all": metrics_on(model, table, manifest, factor)}
    return result
