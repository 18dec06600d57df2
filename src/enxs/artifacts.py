"""The model directory: ``manifest.json`` (versioned schema) + ``weights.safetensors``.

No pickle anywhere: tensors go to safetensors, everything else to JSON. Loading checks the
schema version and the SHA-256 of the weights recorded in the manifest and refuses an
unknown version or a corrupt file. Writes are atomic (temporary file, then rename), and
the manifest is written last, so an interrupted save leaves no loadable half-model.

Training checkpoints live in the same directory (``checkpoint.safetensors`` +
``checkpoint.json``) until the run finishes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from enxs import __version__
from enxs.config import Config, ConfigError
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus, UnknownNucleusError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_META = "checkpoint.json"


class ModelFileError(ValueError):
    """A model directory that is missing, corrupt, or of another schema version."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8"))


def save_model(directory: str | os.PathLike, model: EnsembleNet, manifest: dict[str, Any]) -> Path:
    """Write weights, then the manifest (with schema/enxs versions and the weights' SHA-256)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(weights, lambda p: save_file(state, str(p), metadata={"format": "enxs", "schema": "1"}))
    full = {
        "schema_version": SCHEMA_VERSION,
        "enxs_version": __version__,
        **manifest,
        "architecture": {**manifest["config"]["model"], "members": model.members,
                         "parameters_per_member": model.parameter_count()},
        "weights": {"file": WEIGHTS, "sha256": sha256(weights)},
    }
    write_json(directory / MANIFEST, full)
    return directory


def _schema() -> dict[str, Any]:
    return json.loads((resources.files("enxs") / "data" / "manifest.schema.json").read_text(encoding="utf-8"))


def validate_manifest(manifest: Any, path: Path) -> Config:
    """Check a manifest against the shipped JSON Schema and its configuration against
    :class:`enxs.config.Config`; raise :class:`ModelFileError` naming the file and the field."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_schema()).iter_errors(manifest))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ModelFileError(f"{path}: field {field}: {error.message}")
    try:
        config = Config.from_dict(manifest["config"])
    except ConfigError as exc:
        raise ModelFileError(f"{path}: field config: {exc}") from None
    try:
        nucleus = Nucleus.parse(manifest["nucleus"])
    except UnknownNucleusError as exc:
        raise ModelFileError(f"{path}: field nucleus: {exc}") from None
    if (nucleus.Z, nucleus.A) != (manifest["Z"], manifest["A"]):
        raise ModelFileError(f"{path}: fields Z, A ({manifest['Z']}, {manifest['A']}) contradict nucleus "
                             f"{manifest['nucleus']!r}")
    return config


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a model directory, its schema version and fields checked."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelFileError(f"{directory}: not an enxs model directory (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: corrupt manifest ({exc})") from exc
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise ModelFileError(f"{path}: schema version {version!r} is not supported "
                             f"(this enxs {__version__} reads version {SCHEMA_VERSION})")
    validate_manifest(manifest, path)
    return manifest


def load_model(directory: str | os.PathLike) -> tuple[EnsembleNet, dict[str, Any]]:
    """Load a model directory: manifest checked, weights verified against their SHA-256."""
    directory = resolve_model(directory)
    manifest = read_manifest(directory)
    weights = directory / manifest["weights"]["file"]
    if not weights.is_file():
        raise ModelFileError(f"{weights}: weights file missing")
    if sha256(weights) != manifest["weights"]["sha256"]:
        raise ModelFileError(f"{weights}: checksum differs from the manifest's (corrupt or replaced file)")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{weights}: unreadable weights ({exc})") from exc
    model = EnsembleNet(Config.from_dict(manifest["config"]).model, manifest["architecture"]["members"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{weights}: weights do not match the manifest's architecture") from exc
    model.eval()
    return model, manifest


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


def save_checkpoint(directory: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a resumable training checkpoint (tensors first, then the JSON that points at them)."""
    directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(directory / CHECKPOINT, lambda p: save_file(tensors, str(p)))
    write_json(directory / CHECKPOINT_META, {**meta, "sha256": sha256(directory / CHECKPOINT)})


def has_checkpoint(directory: Path) -> bool:
    """Whether a run directory holds a checkpoint (both of its files)."""
    return (directory / CHECKPOINT_META).is_file() and (directory / CHECKPOINT).is_file()


def load_checkpoint(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    meta_path, path = directory / CHECKPOINT_META, directory / CHECKPOINT
    if not has_checkpoint(directory):
        raise ModelFileError(f"{directory}: no checkpoint to resume from")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if sha256(path) != meta.get("sha256"):
        raise ModelFileError(f"{path}: checkpoint checksum mismatch (interrupted write?)")
    return load_file(str(path)), meta


def remove_checkpoint(directory: Path) -> None:
    for name in (CHECKPOINT, CHECKPOINT_META):
        (directory / name).unlink(missing_ok=True)


def config_of(manifest: dict[str, Any]) -> Config:
    return Config.from_dict(manifest["config"])
