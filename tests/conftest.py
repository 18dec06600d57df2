"""Shared fixtures: the QES archive beside the repository (as in CI), and toy data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = Path(os.environ.get("ENXS_DATA_DIR", REPO.parent / "shared" / "data" / "qes-archive"))


@pytest.fixture(scope="session")
def archive_dir() -> Path:
    if not (ARCHIVE / "12C.dat").is_file():
        pytest.fail(f"QES archive not found at {ARCHIVE}; set ENXS_DATA_DIR")
    return ARCHIVE


@pytest.fixture(autouse=True)
def _data_dir_env(monkeypatch):
    """Point enxs at the archive where it exists; tests that need data ask for ``archive_dir``."""
    if (ARCHIVE / "12C.dat").is_file():
        monkeypatch.setenv("ENXS_DATA_DIR", str(ARCHIVE))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped where torch sees no CUDA device."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
