"""Writing files safely: checksums, and atomic writes (a temporary file in the same
directory, renamed over the target only when complete, so that an interruption never
leaves a half-written file under the real name)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
