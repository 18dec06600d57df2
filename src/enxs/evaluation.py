"""Evaluating an ensemble on measured points: the stored train/test split, or a nucleus."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from enxs import archive, metrics
from enxs.artifacts import Manifest, load_model
from enxs.datasets import dataset_info, total_error
from enxs.files import sha256
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import member_predictions, member_spread


def metrics_on(model: EnsembleNet, table: pd.DataFrame, manifest: Manifest, factor: float = 1.0) -> dict:
    """Metrics (enxs.metrics) of the model's prediction × factor on these points."""
    sigma = member_predictions(model, table.E.to_numpy(), table.theta.to_numpy(), table.omega.to_numpy())
    return metrics_of_members(sigma * factor, table, manifest)


def metrics_of_members(sigma: np.ndarray, table: pd.DataFrame, manifest: Manifest) -> dict:
    """Metrics of member predictions σ [K, N] (nb/sr/GeV) at the table's points; the
    manifest supplies the point-to-point systematic and normalization overrides."""
    norm = {k: dataset_info(k, manifest.norm_overrides).norm_unc for k in table.dataset.unique()}
    return metrics.evaluate(table.sigma, total_error(table, manifest.config.train.p2p_sys), table.stat_err,
                            sigma.mean(0), member_spread(sigma), table.dataset, norm)


def evaluate_split(model: EnsembleNet, selected: pd.DataFrame, train_idx, test_idx, manifest: Manifest) -> dict:
    """Metrics on the training and the held-out test points."""
    return {"train": metrics_on(model, selected.iloc[train_idx], manifest),
            "test": metrics_on(model, selected.iloc[test_idx], manifest)}


def evaluate_model(model_ref: str | os.PathLike, nucleus: str | None = None,
                   data_dir: str | os.PathLike | None = None, data_file: str | os.PathLike | None = None,
                   scale_by_a: bool = False) -> dict[str, Any]:
    """Metrics of a model directory or shipped model.

    Without ``nucleus``/``data_file``: on the model's stored train/test split, read from the
    data directory's file of the training data's name (it must be the same file: same
    SHA-256). Otherwise on every selected point of that nucleus or file, optionally scaling
    the prediction by A_target/A_model (the A/12 baseline).
    """
    model, manifest = load_model(model_ref)
    selection = manifest.config.selection
    result: dict[str, Any] = {"model": str(model_ref), "model_nucleus": manifest.nucleus.name}
    if nucleus is None and data_file is None and manifest.split and manifest.data:
        path = archive.resolve_data_dir(data_dir) / manifest.data["name"]
        if not path.is_file() or (found := sha256(path)) != manifest.data["sha256"]:
            what = "missing" if not path.is_file() else f"a different file (sha256 {found[:12]}…)"
            raise archive.ArchiveError(
                f"{path}: {what}, not the data this model was trained on (sha256 {manifest.data['sha256'][:12]}…): "
                f"the stored train/test split does not apply; evaluate with --nucleus or --data-file instead")
        table = selection.apply(archive.read_file(path)[0])
        lines = table.line.to_numpy()
        for part in ("train", "test"):
            rows = np.flatnonzero(np.isin(lines, manifest.split[f"{part}_lines"]))
            result[part] = metrics_on(model, table.iloc[rows], manifest)
        result["nucleus"] = manifest.nucleus.name
        return result
    path = archive.data_path(nucleus or manifest.nucleus.name, data_file, data_dir)
    table = selection.apply(archive.read_file(path)[0])
    if table.empty:
        raise archive.ArchiveError(f"{path}: no point passes the selection")
    target = Nucleus.from_za(int(table.Z.iloc[0]), int(table.A.iloc[0]))
    factor = target.A / manifest.A if scale_by_a else 1.0
    result |= {"nucleus": target.name, "scale_factor": factor, "all": metrics_on(model, table, manifest, factor)}
    return result
