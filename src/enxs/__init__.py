"""enxs: electron–nucleus inclusive cross sections d²σ/dΩdω from DNN ensembles.

Heavy modules (pandas, torch) load on first use, so ``import enxs`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_archive": ("enxs.archive", "load_archive"),
    "Selection": ("enxs.selection", "Selection"),
    "Nucleus": ("enxs.nuclei", "Nucleus"),
    "Ensemble": ("enxs.predict", "Ensemble"),
}

__all__ = ["Ensemble", "Nucleus", "Selection", "__version__", "load_archive"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'enxs' has no attribute {name!r}")
