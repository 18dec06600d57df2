"""enxs: electron–nucleus inclusive cross sections d²σ/dΩdω from DNN ensembles.

The Python API: ``load_archive`` (measured points), ``pretrain``, ``finetune``, ``resume``
(training runs that write a model directory and return an :class:`Ensemble`),
``Ensemble.load(...).predict`` (σ with spread and coverage flags), ``predict_responses`` (R_L, R_T),
``evaluate`` (metrics), ``export_onnx`` (NuWro's files), ``neutrino_cross_section`` and
``neutrino_total`` (CCQE d²σ/dT dcos θ and σ(E_ν), or flux-averaged, with bands), ``read_flux``,
``export_genie`` (the CCQE hadron tensor as GENIE's tables); ``Context`` (data directory,
device, threads) for run descriptions and studies. Every error a user can fix is an
:class:`EnxsError`. Heavy modules (pandas, torch) load on first use, so ``import enxs`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_archive": ("enxs.archive", "load_archive"),
    "Selection": ("enxs.selection", "Selection"),
    "Nucleus": ("enxs.nuclei", "Nucleus"),
    "Ensemble": ("enxs.predict", "Ensemble"),
    "pretrain": ("enxs.runs", "pretrain"),
    "finetune": ("enxs.runs", "finetune"),
    "resume": ("enxs.runs", "resume"),
    "evaluate": ("enxs.evaluation", "evaluate_model"),
    "predict_responses": ("enxs.responses", "predict_responses"),
    "export_onnx": ("enxs.onnx_io", "export_ensemble"),
    "export_genie": ("enxs.hadrontensor", "export"),
    "neutrino_cross_section": ("enxs.neutrino", "double_differential"),
    "neutrino_total": ("enxs.neutrino", "total_cross_section"),
    "read_flux": ("enxs.flux", "read_flux"),
    "EnxsError": ("enxs.errors", "EnxsError"),
    "Context": ("enxs.context", "Context"),
}

__all__ = [
    "Context",
    "Ensemble",
    "EnxsError",
    "Nucleus",
    "Selection",
    "__version__",
    "evaluate",
    "export_genie",
    "export_onnx",
    "finetune",
    "load_archive",
    "neutrino_cross_section",
    "neutrino_total",
    "predict_responses",
    "pretrain",
    "read_flux",
    "resume",
]


def __dir__() -> list[str]:
    """The API with the names that load on first use, for completion and ``help(enxs)``."""
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'enxs' has no attribute {name!r}")
