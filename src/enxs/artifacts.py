"""The model directory: ``manifest.json`` (a :class:`Manifest`, versioned JSON Schema
shipped in the package) + ``weights.safetensors``.

No pickle anywhere: tensors go to safetensors, everything else to JSON. Loading checks the
manifest against the schema and its configuration field by field, the SHA-256 of the
weights, and the data the model was trained on (by file name, size and SHA-256, never by
a machine path: a different file of that name in the data directory is warned about).
Manifests of schema version 1 are migrated on load; newer versions are refused. Writes are
atomic (temporary file, then rename), and the manifest is written last, so an interrupted
save leaves no loadable half-model.

Training checkpoints live in the same directory (``checkpoint.safetensors``, its metadata in
its header, and a readable copy ``checkpoint.json``) until the run finishes. Only the functions that
read or write tensors import torch: a command reads a manifest, and refuses what does not fit it, fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError, safe_open

from enxs import __version__
from enxs.config import Config, ConfigError
from enxs.errors import EnxsError
from enxs.files import atomic_write, sha256, write_json
from enxs.nuclei import Nucleus, UnknownNucleusError
from enxs.zeroshot import ZeroShot

if TYPE_CHECKING:
    import torch

    from enxs.network import EnsembleNet

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_META = "checkpoint.json"
_CHECKPOINT_KEY = "enxs_checkpoint"
_DIGEST_KEY = "enxs_tensors_sha256"


class ModelFileError(EnxsError):
    """A model directory that is missing, corrupt, or of another schema version."""


class NucleusChoiceError(EnxsError):
    """A prediction for a nucleus the model cannot describe, or without the nucleus it needs."""


class DataChangedWarning(UserWarning):
    """The data directory's file differs from the one the model was trained on."""


@dataclass
class Manifest:
    """What a model directory holds. ``kind``: pretrain | finetune | imported. ``nuclei``: the
    nuclei it was trained on (one, or several for a model with nucleus inputs). Per nucleus:
    ``data``, the training data by name, size and SHA-256; ``split``, the train and test
    points by line number; ``coverage``, the training settings [E, θ, ω_min, ω_max] (GeV,
    deg, GeV, GeV) for the extrapolation flag (None: unknown). ``training``: member seeds,
    best epochs and validation χ²/N. ``metrics``: train/test metrics at the end."""

    kind: str
    nuclei: list[Nucleus]
    config: Config
    members: int
    data: list[dict[str, Any]] | None = None
    split: dict[str, dict[str, list[int]]] | None = None
    coverage: dict[str, list[list[float]]] | None = None
    coverage_source: str = "training points"
    lam: dict[str, Any] | None = None
    datasets: dict[str, Any] = field(default_factory=dict)
    norm_overrides: dict[str, float] = field(default_factory=dict)
    parent: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    enxs_version: str = __version__
    weights_sha256: str = ""
    parameters_per_member: int = 0

    @property
    def nucleus(self) -> Nucleus | None:
        """The one nucleus of a one-nucleus model; None for a model of several."""
        return self.nuclei[0] if len(self.nuclei) == 1 else None

    @property
    def name(self) -> str:
        """The nucleus, or ``any`` for a model of several."""
        return self.nucleus.name if self.nucleus else "any"

    def target(self, nucleus: str | Nucleus | None, model: str) -> Nucleus:
        """The nucleus the model (called ``model`` in messages) predicts: a one-nucleus model's own, or any
        nucleus for a model with nucleus inputs."""
        own = self.nucleus
        if nucleus is None:
            if own is None:
                trained = ", ".join(n.name for n in self.nuclei)
                raise NucleusChoiceError(f"{model} describes any nucleus (trained on {trained}): "
                                         f"name the nucleus to predict, e.g. 40Ar")
            return own
        target = nucleus if isinstance(nucleus, Nucleus) else Nucleus.parse(nucleus)
        if self.config.model.nucleus_inputs == "none" and target != own:
            raise NucleusChoiceError(f"{model} describes {own.name} only: fine-tune it to {target.name} "
                                     f"(enxs finetune) or use a model of several nuclei")
        if target.A == 1 and target != own:
            raise NucleusChoiceError(f"{target.name}: a free nucleon is no nucleus (its inclusive cross section is "
                                     f"the elastic line and the resonances, no quasielastic peak); {model} is "
                                     f"carried to nuclei, A ≥ 2")
        return target

    def to_json(self) -> dict[str, Any]:
        config, one = self.config.to_dict(), self.nucleus
        return {
            "schema_version": SCHEMA_VERSION, "enxs_version": self.enxs_version, "kind": self.kind,
            "nucleus": one.name if one else None, "Z": one.Z if one else None, "A": one.A if one else None,
            "nuclei": [n.name for n in self.nuclei], "created": self.created,
            "config": config,
            "architecture": {**config["model"], "members": self.members,
                             "parameters_per_member": self.parameters_per_member},
            "weights": {"file": WEIGHTS, "sha256": self.weights_sha256},
            "data": self.data, "split": self.split, "datasets": self.datasets, "lambda": self.lam,
            "training": self.training, "coverage": self.coverage, "coverage_source": self.coverage_source,
            "norm_overrides": self.norm_overrides, "parent": self.parent, "source": self.source,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, d: Any, path: Path) -> Manifest:
        """Validate (schema, configuration, nucleus) and build; errors name the file and field."""
        d = _migrate(d, path)
        _check_schema(d, path)
        try:
            config = Config.from_dict(d["config"])
        except ConfigError as exc:
            raise ModelFileError(f"{path}: field config: {exc}") from None
        try:
            nuclei = [Nucleus.parse(n) for n in d["nuclei"]]
        except UnknownNucleusError as exc:
            raise ModelFileError(f"{path}: field nuclei: {exc}") from None
        if len(nuclei) == 1 and (d["nucleus"], d["Z"], d["A"]) != (nuclei[0].name, nuclei[0].Z, nuclei[0].A):
            raise ModelFileError(f"{path}: fields nucleus, Z, A ({d['nucleus']}, {d['Z']}, {d['A']}) contradict "
                                 f"nuclei {d['nuclei']}")
        if len(nuclei) > 1 and config.model.nucleus_inputs == "none":
            raise ModelFileError(f"{path}: field config.model.nucleus_inputs: several nuclei need nucleus inputs")
        return cls(kind=d["kind"], nuclei=nuclei, config=config, members=d["architecture"]["members"],
                   data=d.get("data"), split=d.get("split"), coverage=d.get("coverage"),
                   coverage_source=d.get("coverage_source", "training points"), lam=d.get("lambda"),
                   datasets=d.get("datasets") or {}, norm_overrides=d.get("norm_overrides") or {},
                   parent=d.get("parent"), source=d.get("source"), training=d.get("training"),
                   metrics=d.get("metrics"), created=d.get("created", ""), enxs_version=d["enxs_version"],
                   weights_sha256=d["weights"]["sha256"],
                   parameters_per_member=d["architecture"].get("parameters_per_member", 0))


def data_record(path: Path, raw_points: int, selected_points: int, notes: list[str]) -> dict[str, Any]:
    """How a manifest names its training data: file name, size and SHA-256 (no machine path)."""
    return {"name": path.name, "size": path.stat().st_size, "sha256": sha256(path), "raw_points": raw_points,
            "selected_points": selected_points, "reader_notes": notes}


def _schema() -> dict[str, Any]:
    return json.loads((resources.files("enxs") / "data" / "manifest.schema.json").read_text(encoding="utf-8"))


def _check_schema(d: Any, path: Path) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_schema()).iter_errors(d))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ModelFileError(f"{path}: field {where}: {error.message}")


def _migrate(d: Any, path: Path) -> Any:
    """Schema version 1 → 2 (typed start and split sections, training record, no machine
    paths); a version newer than this enxs knows is refused."""
    version = d.get("schema_version") if isinstance(d, dict) else None
    if version == SCHEMA_VERSION:
        return d
    if version != 1 or not isinstance(d.get("config"), dict):
        raise ModelFileError(f"{path}: schema version {version!r} is not supported (this enxs {__version__} reads "
                             f"versions 1 and {SCHEMA_VERSION}; a newer enxs wrote it?)")
    d = json.loads(json.dumps(d))
    config, kind = d["config"], d.get("kind")
    train, transfer = config.get("train", {}), config.pop("transfer", {})
    fraction = transfer.get("train_fraction", 0.7) if kind in ("finetune", "scratch") else \
        round(1 - train.pop("test_fraction", 0.1), 12)
    train.pop("test_fraction", None)
    config["split"] = {"train_fraction": fraction, "seed": train.get("seed", 0)}
    if kind == "finetune":
        config["start"] = {"kind": "finetune", "parent": str((d.get("parent") or {}).get("model", "unknown")),
                           "scenario": transfer.get("scenario", "all"), "scale_by_a": transfer.get("scale_by_a", True)}
    elif kind == "imported":
        config["start"] = {"kind": "imported", "source": Path((d.get("source") or {}).get("directory", "")).name}
    else:
        config["start"] = {"kind": "scratch"}
    name = d.get("nucleus")
    d["nuclei"] = [name]
    if isinstance(d.get("data"), dict):
        d["data"].pop("file", None)
        d["data"] = [{"nucleus": name, **d["data"]}]
    if isinstance(d.get("split"), dict):
        d["split"] = {name: d["split"]}
    if d.get("coverage") is not None:
        d["coverage"] = {name: d["coverage"]}
    if isinstance(d.get("parent"), dict):
        d["parent"] = {"nuclei": [d["parent"].get("nucleus")], "weights_sha256": d["parent"].get("weights_sha256")}
    if isinstance(d.get("source"), dict) and "directory" in d["source"]:
        d["source"]["directory"] = Path(d["source"]["directory"]).name
    d["training"] = {k: d.pop(k) for k in ("member_seeds", "best_epoch", "best_validation_chi2_per_point",
                                           "epochs_run") if k in d} or None
    d["schema_version"] = SCHEMA_VERSION
    return d


def save_model(directory: str | os.PathLike, model: EnsembleNet, manifest: Manifest) -> Path:
    """Write the weights, then the manifest (with the weights' SHA-256)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    atomic_write(weights, lambda p: save_file(state, str(p), metadata={"format": "enxs"}))
    manifest.weights_sha256, manifest.members = sha256(weights), model.members
    manifest.parameters_per_member = model.parameter_count()
    write_json(directory / MANIFEST, manifest.to_json())
    return directory


def read_manifest(directory: str | os.PathLike) -> Manifest:
    """The manifest of a model directory, validated (schema, configuration, nucleus)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelFileError(f"{directory}: not an enxs model directory (no {MANIFEST})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: corrupt manifest ({exc})") from exc
    return Manifest.from_json(raw, path)


def warn_if_data_changed(manifest: Manifest, directory: Path | str) -> None:
    """Warn when the data directory holds a file of the training data's name with other contents:
    called where the stored split meets the data (``plot --with-data`` marking training points;
    ``evaluation.stored_split`` refuses such a file outright), not on every load."""
    from enxs.archive import ArchiveError, resolve_data_dir

    try:
        data_dir = resolve_data_dir()
    except ArchiveError:
        return
    for record in manifest.data or []:
        candidate = data_dir / record["name"]
        if candidate.is_file() and sha256(candidate) != record["sha256"]:
            warnings.warn(f"{candidate} differs from the {record['name']} that {directory} was trained on "
                          f"(sha256 {record['sha256'][:12]}…): its stored split and metrics refer to the "
                          f"other file", DataChangedWarning, stacklevel=3)


def load_model(name_or_path: str | os.PathLike, manifest: Manifest | None = None) -> tuple[EnsembleNet, Manifest]:
    """Load a model directory or shipped model: manifest validated, weights verified. ``manifest``: the one
    :func:`read_manifest` already gave for it, not read (and validated) again."""
    import torch
    from safetensors.torch import load_file

    from enxs.network import EnsembleNet

    directory = resolve_model(name_or_path)
    manifest = manifest or read_manifest(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise ModelFileError(f"{weights}: weights file missing")
    if sha256(weights) != manifest.weights_sha256:
        raise ModelFileError(f"{weights}: checksum differs from the manifest's (corrupt or replaced file)")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{weights}: unreadable weights ({exc})") from exc
    model = EnsembleNet(manifest.config.model, manifest.members)
    if model.parts is not None and "parts.layers" not in state:  # own parts written before they shifted layers
        state["parts.layers"] = torch.zeros_like(model.parts.layers)  # zero shifts: the model as it was trained
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{weights}: weights do not match the manifest's architecture") from exc
    if model.is_structured and manifest.nucleus is None:
        model.zero_shot = ZeroShot(manifest.nuclei, manifest.config.train.seed)
    return model.eval(), manifest


def shipped_models_dir() -> Path:
    return Path(str(resources.files("enxs") / "models"))


def shipped_models() -> dict[str, Path]:
    """Name → directory of the models shipped inside the package."""
    root = shipped_models_dir()
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / MANIFEST).is_file()}


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A model directory path, or the name of a shipped model."""
    path = Path(name_or_path)
    if (path / MANIFEST).is_file():
        return path
    shipped = shipped_models()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    if path.exists():
        raise ModelFileError(f"{path}: not an enxs model directory (no {MANIFEST})")
    names = ", ".join(shipped) or "none"
    raise ModelFileError(f"unknown model {str(name_or_path)!r}: not a directory, nor a shipped model ({names})")


def model_reference(name_or_path: str | os.PathLike) -> str:
    """How a run records the model it starts from: a shipped model's name, else the
    directory's absolute path (a record of this machine, like run.json)."""
    directory = resolve_model(name_or_path)
    return str(name_or_path) if str(name_or_path) in shipped_models() else str(directory.resolve())


def save_checkpoint(directory: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a resumable training checkpoint: one safetensors file, renamed into place, that carries
    its JSON metadata and the SHA-256 of its tensors in its header, so a kill at any moment leaves the
    previous checkpoint or the new one, whole. ``checkpoint.json`` is a readable copy of the metadata
    written after it (one checkpoint behind if the kill fell between the two)."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    header = {_CHECKPOINT_KEY: json.dumps(meta), _DIGEST_KEY: _tensor_digest(tensors)}
    atomic_write(directory / CHECKPOINT, lambda p: save_file(tensors, str(p), metadata=header))
    write_json(directory / CHECKPOINT_META, meta)


def _tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names and bytes, in name order."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def has_checkpoint(directory: Path) -> bool:
    """Whether a run directory holds a checkpoint."""
    return (directory / CHECKPOINT).is_file()


def _checkpoint_header(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{path}: not a readable checkpoint ({exc})") from exc
    if _CHECKPOINT_KEY not in header or _DIGEST_KEY not in header:
        raise ModelFileError(f"{path}: not a checkpoint this enxs can resume from (no metadata in its header)")
    return header


def checkpoint_meta(directory: Path) -> dict[str, Any]:
    """The metadata (epoch, history, ...) of a run directory's checkpoint, from the checkpoint itself."""
    return json.loads(_checkpoint_header(directory / CHECKPOINT)[_CHECKPOINT_KEY])


def load_checkpoint(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors.torch import load_file

    if not has_checkpoint(directory):
        raise ModelFileError(f"{directory}: no checkpoint to resume from")
    path = directory / CHECKPOINT
    header = _checkpoint_header(path)
    try:
        tensors = load_file(str(path))
    except SafetensorError as exc:
        raise ModelFileError(f"{path}: corrupt checkpoint ({exc})") from exc
    if _tensor_digest(tensors) != header[_DIGEST_KEY]:
        raise ModelFileError(f"{path}: checkpoint checksum mismatch (its tensors differ from what was written)")
    return tensors, json.loads(header[_CHECKPOINT_KEY])


def remove_checkpoint(directory: Path) -> None:
    for name in (CHECKPOINT, CHECKPOINT_META):
        (directory / name).unlink(missing_ok=True)
