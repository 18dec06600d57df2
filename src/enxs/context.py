"""Where a job runs: the QES archive directory, the torch device and the CPU threads, taken once
from the command line's ``--data-dir``, ``--device``, ``--threads`` (or the Python API's arguments)
and handed whole to run descriptions, studies and executors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from enxs import archive, cpu
from enxs.errors import EnxsError


class DeviceError(EnxsError):
    """A torch device this machine or torch build does not have."""


def resolve_device(name: str) -> torch.device:
    """The torch device called ``name``, refused in one line when this machine or build lacks it."""
    available = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
        ["mps"] if torch.backends.mps.is_available() else [])
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"device {name!r} is not a device name; available here: {', '.join(available)}") from None
    if device.type not in available:
        raise DeviceError(f"device {name!r} is not available (torch {torch.__version__} on this machine); "
                          f"available here: {', '.join(available)}")
    return device


@dataclass(frozen=True)
class Context:
    """``data_dir``: the archive directory (None: ``$ENXS_DATA_DIR``, else the default, as
    ``archive.resolve_data_dir``; resolved where data are read, so a run from a ``--data-file``
    needs none); ``device``: a torch device name; ``threads``: CPU threads for torch (None:
    ``cpu.default_threads``, one per core this process may use unless ``OMP_NUM_THREADS`` or a CPU
    quota says fewer)."""

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

    def check(self, data: bool = True) -> Context:
        """This context checked before a job writes anything: its device and (with ``data``) its data
        directory, each refused in one line."""
        resolve_device(self.device)
        if data:
            _ = self.archive_dir
        return self

    def use_threads(self) -> None:
        """Set torch's CPU threads (class docstring)."""
        torch.set_num_threads(self.threads or cpu.default_threads())


def environment(device: torch.device | str) -> dict[str, str | int]:
    """What a trained model's numbers may depend on beyond its configuration and seeds, as its manifest records it
    (``training.environment``, of the invocation that finished the run): torch's version, the device and torch's CPU
    threads. The fast preset's weights are the same on any thread count; the paper preset's batch norm sums in
    another order on another (docs/method.md, "Running on a shared machine")."""
    return {"torch": torch.__version__, "device": str(device), "cpu_threads": torch.get_num_threads()}


#: $ENXS_DATA_DIR (else the default archive directory), the CPU, ``cpu.default_threads``.
DEFAULT_CONTEXT = Context()
