"""Writing files safely: checksums, atomic writes (a temporary file in the same directory,
renamed over the target only when complete, so that an interruption never leaves a
half-written file under the real name), and the one rule for outputs.

The rule, checked here before any work: an existing file is kept unless ``--overwrite``,
whoever wrote it; an output directory (a model, an ONNX or HEPData export) must be new or
empty; a study directory may be re-entered to reuse its finished runs, but its reports are
replaced only with ``--overwrite`` and a directory holding files a study did not write is
refused. The directory an output goes into must exist: enxs creates no missing parents,
so a mistyped path fails at once instead of scattering files."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from enxs.errors import EnxsError

STUDY_MARKER = "enxs-study.json"


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path``; nothing is left on failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8"))


class OutputError(EnxsError):
    """An output path that the rule for outputs (module docstring) refuses."""


def _check_parent(path: Path, option: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: directory {parent} does not exist (create it first: mkdir -p {parent})")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{option} {path}: directory {parent} is not writable")


def check_output_file(path: Path, option: str = "--output", overwrite: bool = False) -> None:
    """Refuse an output file that exists (unless ``overwrite``), is a directory, or whose
    directory is missing or not writable."""
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a directory; give a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"{option} {path}: exists; give --overwrite to replace it")
    _check_parent(path, option)


def check_output_directory(path: Path, option: str = "--out") -> None:
    """Refuse an output directory that is a file, is not empty, or whose parent is missing."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file; give a new or empty directory")
    if path.is_dir() and any(path.iterdir()):
        raise OutputError(f"{option} {path}: exists and is not empty; give a new or empty directory")
    _check_parent(path, option)


def check_study_directory(path: Path, reports: list[str], overwrite: bool = False, option: str = "--out") -> None:
    """Refuse a study directory that is a file, that holds files no study wrote (no
    :data:`STUDY_MARKER`), or whose ``reports`` exist (unless ``overwrite``)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file; give a directory for the study")
    if path.is_dir() and any(path.iterdir()) and not (path / STUDY_MARKER).is_file():
        raise OutputError(f"{option} {path}: holds files enxs reproduce did not write (no {STUDY_MARKER}); "
                          f"give a new or empty directory")
    existing = [name for name in reports if (path / name).exists()]
    if existing and not overwrite:
        raise OutputError(f"{option} {path}: {', '.join(existing)} exist(s); give --overwrite to replace the "
                          f"report (finished runs under {path / 'runs'} are reused either way)")
    _check_parent(path, option)
