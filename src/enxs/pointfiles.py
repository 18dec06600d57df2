"""Files of kinematic points and predictions: reading (E, θ, ω) or (q, ω) from a CSV file,
and writing a table (a :class:`enxs.predict.Prediction`, responses) as CSV, Parquet or JSON
with its metadata.

Units: E, q and ω in GeV, θ in degrees, cross sections in nb/sr/GeV, responses in GeV⁻¹
(named in every column and in the metadata written with the table). Every file written
here carries its provenance, ``written_by: enxs <version>`` (first CSV line, JSON
``metadata``, Parquet schema metadata).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from enxs import __version__
from enxs.errors import EnxsError
from enxs.files import atomic_write

if TYPE_CHECKING:
    from enxs.predict import Prediction

FORMATS = (".csv", ".parquet", ".json")
COLUMN_NAMES = {"E": ("e", "e_gev", "energy"), "theta": ("theta", "theta_deg", "angle"),
                "omega": ("omega", "omega_gev", "nu"), "q": ("q", "q_gev"),
                "T": ("t", "t_gev", "tmu", "t_mu", "t_mu_gev", "t_e", "t_e_gev"),
                "cos": ("cos", "cos_theta", "costheta", "cos_theta_mu", "cos_theta_e"),
                "dT": ("dt", "dt_gev", "dt_mu_gev", "dt_e_gev"), "dcos": ("dcos", "dcos_theta", "dcos_theta_mu",
                                                                          "dcos_theta_e"),
                "p": ("p", "p_gev", "pmu", "p_mu", "p_mu_gev", "p_e", "p_e_gev"),
                "dp": ("dp", "dp_gev", "dp_mu_gev", "dp_e_gev")}
KINEMATIC_COLUMNS = ("E_GeV", "theta_deg", "omega_GeV")
KINEMATIC_UNITS = "E_GeV [GeV], theta_deg [deg], omega_GeV [GeV]"
MEMBERS_NOTE = ("one column per ensemble member (draw): the mean and band of the prediction are over these columns, "
                "and the model's covariance between two points is the covariance of their rows over the members "
                "(ddof = 1)")
COVERAGE_NOTE = ("1 where no training setting lies within |ln E/E_k| <= 0.25, |theta - theta_k| <= 10 deg, "
                 "omega from the setting's lowest measured omega to its highest + 0.1 E, or below the elastic "
                 "line; 1 everywhere when the model's training data are unknown")


class PointFileError(EnxsError):
    """A points file that cannot be read: a missing column or a cell that is not a number."""


class LineNames(Sequence[str]):
    """``FILE:LINE`` of each point of a points file (``lines``: its line numbers), made only when one is asked for:
    an error names one point, and a million names would cost more than the file's parsing."""

    def __init__(self, path: Path, lines: list[int]):
        self.path, self.lines = path, lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i: int) -> str:
        return f"{self.path}:{self.lines[i]}"


def read_points(path: Path, names: tuple[str, ...] = ("E", "theta", "omega"),
                check: Callable[..., None] | None = None, optional: tuple[str, ...] = ()) -> tuple:
    """The columns ``names`` (default E [GeV], θ [deg], ω [GeV]; or q, ω [GeV]; or a lepton's cos θ with its T or
    p [GeV]) of a CSV file, then those of ``optional`` (None where absent; e.g. a cell's dT, dcos)
    (accepted spellings: :data:`COLUMN_NAMES`; blank lines and lines starting with ``#`` skipped).

    ``check`` (e.g. :func:`enxs.kinematics.check_kinematics`) is called with the columns and
    ``rows``, the ``FILE:LINE`` of each point, so that its error names the line.
    """
    try:  # numbers parsed as numbers; a column with any other cell kept as the text the user wrote
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        kept = [n for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
        text = "\n".join(lines[n - 1] for n in kept)
        table = pd.read_csv(io.StringIO(text), comment="#", skipinitialspace=True, keep_default_na=False,
                            low_memory=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PointFileError(f"{path}: cannot read CSV ({exc})") from exc
    if table.empty:
        raise PointFileError(f"{path}: no points (a header and no rows)")
    rows = LineNames(path, kept[1:])
    lower = {c.strip().lower(): c for c in table.columns}
    out = {}
    for name in names + optional:
        aliases = COLUMN_NAMES[name]
        column = next((lower[a] for a in aliases if a in lower), None)
        if column is None and name in optional:
            out[name] = None
            continue
        if column is None:
            header = table.columns[0] if len(table.columns) == 1 else ""
            hint = f"; the header is one column {header!r}: separate columns by commas" if header else ""
            raise PointFileError(f"{path}: missing column {name!r} (accepted names: {', '.join(aliases)}){hint}")
        cells = table[column]
        parsed = pd.api.types.is_float_dtype(cells) or pd.api.types.is_integer_dtype(cells)  # not bool: True ≠ 1
        values = (cells.to_numpy(float) if parsed else
                  pd.to_numeric(cells.astype(str).str.strip(), errors="coerce").to_numpy(float))
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            written = pd.read_csv(io.StringIO(text), comment="#", skipinitialspace=True, dtype=str,
                                  keep_default_na=False)[column][row]  # as written (1e400, not inf)
            raise PointFileError(f"{rows[row]}: column {column!r} is not a finite number: '{written}'")
        out[name] = values
    points = tuple(out[name] for name in names + optional)
    if check is not None:
        check(*points, rows=rows)
    return points


def write_prediction(prediction: Prediction, path: Path, metadata: dict[str, Any]) -> None:
    """Write the points and their prediction (format by extension, :data:`FORMATS`), atomically,
    with the metadata and units."""
    frame = prediction.to_frame()
    write_table(frame, path, {**metadata, "units": f"{KINEMATIC_UNITS}, cross sections d2sigma/dOmega/domega "
                                                   f"[nb/sr/GeV]", "outside_coverage": COVERAGE_NOTE})


def write_members(points: pd.DataFrame, members: np.ndarray, path: Path, metadata: dict[str, Any]) -> None:
    """Each ensemble member's prediction [K, N] beside the points' kinematic columns, one column per member
    (``member_0`` …), in the format of ``path``: what correlations between points need (``MEMBERS_NOTE``)."""
    columns = pd.DataFrame(np.asarray(members).reshape(len(members), -1).T,
                           columns=[f"member_{k}" for k in range(len(members))])
    frame = pd.concat([points.reset_index(drop=True), columns], axis=1)
    write_table(frame, path, {**metadata, "members": MEMBERS_NOTE})


def write_table(frame: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> None:
    """Write a table (format by extension, :data:`FORMATS`) atomically with its metadata:
    CSV ``# key: value`` lines, Parquet attributes, JSON ``metadata``; signed ``written_by``."""
    header = {"written_by": f"enxs {__version__}", **metadata, "enxs_version": __version__}
    frame = frame.astype({c: int for c in frame.columns if frame[c].dtype == bool})  # flags as 0/1 in every format
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PointFileError(f"{path}: the extension must be one of {', '.join(FORMATS)}")

    def write(tmp: Path) -> None:
        if suffix == ".csv":
            with tmp.open("w", encoding="utf-8") as f:
                f.writelines(f"# {k}: {v}\n" for k, v in header.items())
                frame.to_csv(f, index=False, float_format="%.8g")
        elif suffix == ".parquet":
            frame.attrs = header
            frame.to_parquet(tmp, index=False)
        else:
            tmp.write_text(json.dumps({"metadata": header, "points": frame.to_dict(orient="records")}, indent=1),
                           encoding="utf-8")

    atomic_write(path, write)
