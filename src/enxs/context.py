"""Where a job runs: the QES archive directory, the torch device and the CPU threads, taken once
from the command line's ``--data-dir``, ``--device``, ``--threads`` (or the Python API's arguments)
and handed whole to run descriptions, studies and executors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from enxs import archive


@dataclass(frozen=True)
class Context:
    """``data_dir``: the archive directory (None: ``$ENXS_DATA_DIR``, else the default, as
    ``archive.resolve_data_dir``; resolved where data are read, so a run from a ``--data-file``
    needs none); ``device``: a torch device name; ``threads``: CPU threads for torch (None: one
    per core this process may use)."""

    data_dir: str | os.PathLike | None = None
    device: str = "cpu"
    threads: int | None = None

    @property
    def archive_dir(self) -> Path:
        """The archive directory, checked (``archive.ArchiveError`` if it does not exist)."""
        return archive.resolve_data_dir(self.data_dir)

    def nucleus_names(self) -> list[str]:
        """Every nucleus with a file in the archive directory, by A."""
        return list(archive.nucleus_files(self.data_dir))

    def data_path(self, nucleus: str, data_file: str | os.PathLike | None = None) -> Path:
        """``data_file`` when given, else the nucleus' file in the archive directory (absolute)."""
        return archive.data_path(nucleus, data_file, self.data_dir).resolve()

    def use_threads(self) -> None:
        """Set torch's CPU threads (class docstring)."""
        torch.set_num_threads(self.threads or len(os.sched_getaffinity(0)))


#: $ENXS_DATA_DIR (else the default archive directory), the CPU, one thread per core.
DEFAULT_CONTEXT = Context()
