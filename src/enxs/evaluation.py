"""Evaluating an ensemble on measured points: the stored train/test split, or a nucleus."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from enxs import archive, metrics
from enxs.artifacts import DataChangedWarning, Manifest
from enxs.datasets import dataset_info, tag_nucleus, total_error
from enxs.files import sha256
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, member_predictions, member_spread
from enxs.transfer import a_factor


class ChangedDataError(archive.ArchiveError):
    """The data directory's file of a nucleus the model was trained on holds other data: its stored split does not
    apply (``stored_split``)."""


def predict_table(model: EnsembleNet, table: pd.DataFrame) -> np.ndarray:
    """Member predictions σ [K, N] (nb/sr/GeV) at a table's points, each with its own nucleus."""
    sigma = np.zeros((model.draws, len(table)))
    for (z, a), rows in table.groupby(["Z", "A"]).indices.items():
        part = table.iloc[rows]
        sigma[:, rows] = member_predictions(model, part.E.to_numpy(), part.theta.to_numpy(), part.omega.to_numpy(),
                                            Nucleus(int(z), int(a)))
    return sigma


def metrics_on(model: EnsembleNet, table: pd.DataFrame, manifest: Manifest, factor: float = 1.0) -> dict:
    """Metrics (enxs.metrics) of the model's prediction × factor on these points."""
    return metrics_of_members(predict_table(model, table) * factor, table, manifest)


def metrics_of_members(sigma: np.ndarray, table: pd.DataFrame, manifest: Manifest) -> dict:
    """Metrics of member predictions σ [K, N] (nb/sr/GeV) at the table's points; the
    manifest supplies the point-to-point systematic and normalization overrides."""
    norm = {k: dataset_info(k, manifest.norm_overrides).norm_unc for k in table.dataset.unique()}
    return metrics.evaluate(table.sigma, total_error(table, manifest.config.train.p2p_sys), table.stat_err,
                            sigma.mean(0), member_spread(sigma), table.dataset, norm)


def evaluate_split(model: EnsembleNet, train: pd.DataFrame, test: pd.DataFrame, manifest: Manifest) -> dict:
    """Metrics on the training and the held-out test points; per nucleus too for several."""
    result = {"train": metrics_on(model, train, manifest), "test": metrics_on(model, test, manifest)}
    if len(manifest.nuclei) > 1:
        result["by_nucleus"] = {n.name: {"train": metrics_on(model, train[train.nucleus == n.name], manifest),
                                         "test": metrics_on(model, test[test.nucleus == n.name], manifest)}
                                for n in manifest.nuclei}
    return result


def stored_split(manifest: Manifest, data_dir: str | os.PathLike | None = None,
                 nuclei: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's training and test points (of ``nuclei``, default all it was trained on),
    read from the data directory's files of the training data's names; a file whose SHA-256
    differs is refused (the stored split would not apply)."""
    records = {r["nucleus"]: r for r in manifest.data or []}
    if not manifest.split or not records:
        raise archive.ArchiveError("this model records no train/test split (imported?); evaluate with --nucleus")
    parts: dict[str, list[pd.DataFrame]] = {"train": [], "test": []}
    for name in nuclei or list(manifest.split):
        record = records[name]
        path = archive.resolve_data_dir(data_dir) / record["name"]
        if not path.is_file():
            raise archive.ArchiveError(f"{path}: missing, the {name} data this model was trained on: give the data "
                                       f"directory that holds it (--data-dir or $ENXS_DATA_DIR)")
        if (found := sha256(path)) != record["sha256"]:
            raise ChangedDataError(
                f"{path}: a different file (sha256 {found[:12]}…), not the data this model was trained on (sha256 "
                f"{record['sha256'][:12]}…): the stored train/test split does not apply; evaluate on all its points "
                f"with --nucleus {name}")
        table = manifest.config.selection.apply(archive.read_file(path)[0])
        if len(manifest.nuclei) > 1:
            table = tag_nucleus(table, name)
        for part in parts:
            parts[part].append(table[table.line.isin(manifest.split[name][f"{part}_lines"])])
    return pd.concat(parts["train"], ignore_index=True), pd.concat(parts["test"], ignore_index=True)


def evaluate_model(model_ref: str | os.PathLike | Ensemble, nucleus: str | None = None,
                   data_dir: str | os.PathLike | None = None, data_file: str | os.PathLike | None = None,
                   scale_by_a: bool = False) -> dict[str, Any]:
    """Metrics of a model directory or shipped model (or a loaded :class:`enxs.predict.Ensemble`).

    Without ``nucleus``/``data_file``: on the model's stored train/test split (``stored_split``).
    Otherwise on every selected point of that nucleus or file (``all``; for a nucleus the
    model was trained on, also its ``train`` and ``test`` points where the data directory's file is the one it was
    trained on, else a :class:`DataChangedWarning` says why they are absent), optionally scaling the
    prediction of a one-nucleus model by A_target/A_model (the A/12 baseline).
    """
    ensemble = Ensemble.of(model_ref)
    model, manifest = ensemble.model, ensemble.manifest
    result: dict[str, Any] = {"model": ensemble.name, "model_nuclei": [n.name for n in manifest.nuclei]}
    if nucleus is None and data_file is None:
        if scale_by_a:
            raise archive.ArchiveError("--scale-a scales to another nucleus: name it (--nucleus or --data-file); "
                                       "the stored split is the model's own")
        train, test = stored_split(manifest, data_dir)
        return result | {"nucleus": manifest.name, **evaluate_split(model, train, test, manifest)}
    path = archive.data_path(nucleus or manifest.name, data_file, data_dir)  # the file, when given, decides
    table = manifest.config.selection.apply(archive.read_file(path)[0])
    if table.empty:
        raise archive.ArchiveError(f"{path}: no point passes the selection")
    target = Nucleus.from_za(int(table.Z.iloc[0]), int(table.A.iloc[0]))
    if nucleus is not None and Nucleus.parse(nucleus) != target:
        raise archive.ArchiveError(f"{path} holds {target.name} data, not {Nucleus.parse(nucleus).name}: "
                                   f"the nucleus is taken from the file, name none or the same")
    if scale_by_a and manifest.nucleus is None:
        raise archive.ArchiveError("--scale-a scales a one-nucleus model; this one takes the nucleus as input")
    factor = a_factor(target, manifest.nucleus) if scale_by_a else 1.0
    if manifest.nucleus not in (None, target) and not scale_by_a:
        warnings.warn(f"{ensemble.name} describes {manifest.name} only: its cross sections are compared unscaled with "
                      f"{target.name} data (--scale-a for the A/{manifest.nucleus.A} baseline; enxs finetune carries "
                      f"the model to {target.name})", stacklevel=2)
    ensemble.warn_zero_shot(target)
    result |= {"nucleus": target.name, "zero_shot": ensemble.zero_shot(target), "scale_factor": factor,
               "all": metrics_on(model, table, manifest, factor)}
    if target.name in (manifest.split or {}) and data_file is None:
        try:
            train, test = stored_split(manifest, data_dir, [target.name])
        except ChangedDataError:
            warnings.warn(f"{path} differs from the {target.name} data {ensemble.name} was trained on: metrics on "
                          f"all its points only (the stored train/test split does not apply to it)",
                          DataChangedWarning, stacklevel=2)
        else:
            result |= {"train": metrics_on(model, train, manifest), "test": metrics_on(model, test, manifest)}
    return result
