"""Reading the QES archive (Benhar, Day, Sick, Rev. Mod. Phys. 80, 189 (2008)) files.

One file per nucleus, ``<A><Symbol>.dat``, whitespace-separated, one measured point per line:

    Z  A  E[GeV]  θ[deg]  ω[GeV]  σ[nb/sr/GeV]  Δσ_stat  [Δσ_sys]  label

(8 columns; 9 where a systematic error is given). ``#`` starts a comment. A malformed line
is an error naming the file and line, never skipped. What the reader does with the
archive's quirks, reported in :class:`ReadReport`:

- an exactly repeated line (12C.dat has one) is dropped, keeping the first;
- zero-error points are kept here and excluded by the ``nonzero_error`` selection cut
  (an error of 0 means the uncertainty is unknown, and would give the point infinite weight);
- zero or negative cross sections are kept: they are legitimate data for a χ².
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from enxs import kinematics
from enxs.errors import EnxsError
from enxs.nuclei import Nucleus, UnknownNucleusError

#: Table columns with units (the ``load_archive`` schema).
COLUMNS = {
    "nucleus": "nucleus name, e.g. '12C'",
    "Z": "proton number",
    "A": "mass number",
    "E": "beam energy [GeV]",
    "theta": "scattering angle [deg]",
    "omega": "energy transfer ω [GeV]",
    "sigma": "d²σ/dΩdω [nb/sr/GeV]",
    "stat_err": "statistical (random) uncertainty [nb/sr/GeV]",
    "sys_err": "systematic uncertainty where the file gives one, else NaN [nb/sr/GeV]",
    "dataset": "dataset label (INSPIRE-style citation key)",
    "file": "source file name",
    "line": "line number in the source file (1-based)",
    "cos_theta": "cos θ",
    "Q2": "Q² = 2E(E−ω)(1−cos θ) [GeV²]",
    "q": "|q| = sqrt(Q² + ω²) [GeV]",
    "x": "Bjorken x = Q²/(2Mω), M the nucleon mass",
    "W": "invariant mass W [GeV], NaN where W² < 0",
    "scale": "output scale S(E, θ) = σ/y of the network output y [nb/sr/GeV]",
}

ENV_DATA_DIR = "ENXS_DATA_DIR"


class ArchiveError(EnxsError):
    """A data file that cannot be read, or a nucleus that cannot be found."""


@dataclass(frozen=True)
class LineError:
    """One malformed line: ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class ReadReport:
    """What the reader did with one file's quirks (line numbers, 1-based)."""

    file: str
    raw_points: int = 0
    duplicates_dropped: list[int] = field(default_factory=list)
    zero_error: list[int] = field(default_factory=list)
    nonpositive_sigma: list[int] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    def notes(self) -> list[str]:
        """Human-readable lines describing each quirk handled."""
        out = []
        if self.duplicates_dropped:
            out.append(f"dropped {len(self.duplicates_dropped)} exactly repeated line(s): "
                       f"{_lines(self.duplicates_dropped)}")
        if self.zero_error:
            out.append(f"{len(self.zero_error)} zero-error point(s) kept, excluded by the "
                       f"'nonzero_error' cut: {_lines(self.zero_error)}")
        if self.nonpositive_sigma:
            out.append(f"{len(self.nonpositive_sigma)} point(s) with σ ≤ 0 kept (valid in a χ²)")
        return out


def _lines(numbers: list[int], limit: int = 5) -> str:
    shown = ", ".join(f"line {n}" for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def parse_file(path: str | os.PathLike) -> tuple[pd.DataFrame, ReadReport]:
    """Parse one archive file into raw rows, collecting every malformed line.

    Returns the table (columns Z … line of :data:`COLUMNS`, no derived columns) and the
    report; the caller decides whether ``report.errors`` is fatal.
    """
    path = Path(path)
    report = ReadReport(file=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path}: cannot read: {exc}") from exc
    rows, seen = [], set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        row, message = _parse_line(line)
        if message:
            report.errors.append(LineError(str(path), number, message))
            continue
        report.raw_points += 1
        key = tuple(line.split())
        if key in seen:
            report.duplicates_dropped.append(number)
            continue
        seen.add(key)
        row["line"] = number
        rows.append(row)
    columns = ["Z", "A", "E", "theta", "omega", "sigma", "stat_err", "sys_err", "dataset", "line"]
    table = pd.DataFrame(rows, columns=columns)
    table["file"] = path.name
    report.errors += _file_errors(table, path, report)
    if len(table):
        report.zero_error = table.loc[table.stat_err == 0, "line"].tolist()
        report.nonpositive_sigma = table.loc[table.sigma <= 0, "line"].tolist()
    return table, report


def _file_errors(table: pd.DataFrame, path: Path, report: ReadReport) -> list[LineError]:
    """Errors of the file as a whole: no data line, or lines of another nucleus than the
    file's (named by the file, ``16O.dat``, else by the first line)."""
    if table.empty:
        return [] if report.errors else [LineError(str(path), 0, "no data lines")]
    try:
        expected = Nucleus.parse(path.stem)
        source = f"the file name's {expected.name}"
    except UnknownNucleusError:
        expected = Nucleus(int(table.Z.iloc[0]), int(table.A.iloc[0]))
        source = f"line {int(table.line.iloc[0])}'s Z={expected.Z}, A={expected.A}"
    other = table[(table.Z != expected.Z) | (table.A != expected.A)]
    return [LineError(str(path), int(r.line), f"Z={r.Z}, A={r.A} differs from {source}: one nucleus per file")
            for r in other.itertuples()]


_NUMERIC = ("Z", "A", "E", "theta", "omega", "sigma", "stat_err")


def _parse_line(line: str) -> tuple[dict, str | None]:
    """One data line → (row, None) or ({}, what is wrong)."""
    fields = line.split()
    if len(fields) not in (8, 9):
        return {}, f"expected 8 or 9 columns (Z A E θ ω σ Δσ_stat [Δσ_sys] label), found {len(fields)}"
    names = [*_NUMERIC, "sys_err"] if len(fields) == 9 else list(_NUMERIC)
    row: dict = {"sys_err": np.nan, "dataset": fields[-1]}
    for name, text in zip(names, fields[:-1], strict=True):
        try:
            value = float(text)
        except ValueError:
            return {}, f"column '{name}' is not a number: {text!r}"
        if not np.isfinite(value):
            return {}, f"column '{name}' is not finite: {text!r}"
        row[name] = value
    if _looks_numeric(fields[-1]):
        return {}, f"last column should be a dataset label, found the number {fields[-1]!r}"
    for name in ("Z", "A"):
        if row[name] != int(row[name]) or row[name] < 1:
            return {}, f"column '{name}' must be a positive integer, found {row[name]:g}"
    if row["Z"] > 118:
        return {}, f"Z={row['Z']:g} is not an element"
    if row["A"] < row["Z"]:
        return {}, f"A={row['A']:g} is smaller than Z={row['Z']:g}"
    if row["stat_err"] < 0 or (len(fields) == 9 and row["sys_err"] < 0):
        return {}, "negative uncertainty"
    if row["E"] <= 0:
        return {}, f"beam energy must be > 0 GeV, found {row['E']:g}"
    if not 0 < row["theta"] <= 180:
        return {}, f"scattering angle must lie in (0, 180] degrees, found {row['theta']:g}"
    if not 0 <= row["omega"] < row["E"]:
        return {}, f"energy transfer must lie in [0, E = {row['E']:g}) GeV, found {row['omega']:g}"
    row["Z"], row["A"] = int(row["Z"]), int(row["A"])
    return row, None


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_file(path: str | os.PathLike, nucleus: Nucleus | None = None) -> tuple[pd.DataFrame, ReadReport]:
    """Read one archive file into the full :data:`COLUMNS` table.

    Raises :class:`ArchiveError` on the first malformed line (``file:line: what``), saying
    how many more there are; ``enxs data check`` lists them all.
    """
    table, report = parse_file(path)
    if report.errors:
        more = len(report.errors) - 1
        suffix = f" (and {more} more bad line(s); run 'enxs data check')" if more else ""
        raise ArchiveError(f"{report.errors[0]}{suffix}")
    found = Nucleus.from_za(int(table.Z.iloc[0]), int(table.A.iloc[0]))
    if nucleus is not None and (nucleus.Z, nucleus.A) != (found.Z, found.A):
        raise ArchiveError(f"{path}: holds {found.name} (Z={found.Z}, A={found.A}), not {nucleus.name}")
    return with_kinematics(table, found.name), report


def with_kinematics(table: pd.DataFrame, nucleus_name: str) -> pd.DataFrame:
    """Add the nucleus name and the derived columns cos_theta, Q2, q, x, W, scale."""
    out = table.copy()
    out.insert(0, "nucleus", nucleus_name)
    e, t, w = out.E.to_numpy(), out.theta.to_numpy(), out.omega.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cos_theta"] = np.cos(np.radians(t))
        out["Q2"] = kinematics.q2(e, t, w)
        out["q"] = kinematics.three_momentum_transfer(e, t, w)
        out["x"] = kinematics.bjorken_x(e, t, w)
        out["W"] = kinematics.invariant_mass(e, t, w)
        out["scale"] = kinematics.output_scale(e, t)
    return out[list(COLUMNS)].reset_index(drop=True)


def default_data_dir() -> Path:
    """The per-user data directory (``platformdirs`` user data dir / ``enxs/qes-archive``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("enxs")) / "qes-archive"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` if given, else ``$ENXS_DATA_DIR``, else :func:`default_data_dir`."""
    chosen = data_dir or os.environ.get(ENV_DATA_DIR) or default_data_dir()
    path = Path(chosen).expanduser()
    if not path.is_dir():
        how = "--data-dir" if data_dir else (ENV_DATA_DIR if os.environ.get(ENV_DATA_DIR) else "default")
        what = "is a file, not a directory" if path.exists() else "does not exist"
        raise ArchiveError(f"data directory {path} ({how}) {what}; point --data-dir or {ENV_DATA_DIR} at the QES "
                           f"archive")
    return path


_FILE_NAME = re.compile(r"^(\d+)([A-Z][a-z]?)\.dat$")


def nucleus_files(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Map nucleus name → file for every ``<A><Symbol>.dat`` in the data directory, by A."""
    directory = resolve_data_dir(data_dir)
    found = {}
    for path in directory.iterdir():
        match = _FILE_NAME.match(path.name)
        if match and path.is_file():
            found[path.stem] = path
    return dict(sorted(found.items(), key=lambda kv: (int(_FILE_NAME.match(kv[1].name)[1]), kv[0])))


def data_path(nucleus: str, data_file: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None) -> Path:
    """The data of a run or an evaluation: ``data_file`` when given (any file in the archive
    format), else the nucleus' file in the data directory."""
    if data_file is not None:
        path = Path(data_file)
        if not path.is_file():
            raise ArchiveError(f"{path}: no such data file")
        return path
    return find_nucleus_file(nucleus, data_dir)


def find_nucleus_file(nucleus: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The file ``<A><Symbol>.dat`` for a nucleus name such as ``12C`` or ``197Au``."""
    name = Nucleus.parse(nucleus).name
    files = nucleus_files(data_dir)
    if name not in files:
        known = ", ".join(files) or "none"
        raise ArchiveError(f"no data file {name}.dat in {resolve_data_dir(data_dir)} (nuclei found: {known})")
    return files[name]


def load_archive(
    nuclei: str | list[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    files: list[str | os.PathLike] | None = None,
) -> pd.DataFrame:
    """Load measured cross sections as one table (columns and units: :data:`COLUMNS`).

    Args:
        nuclei: names like ``"12C"`` (or paths of files in the archive format), or a list of
            them; None for every file in the directory.
        data_dir: the archive directory (default: ``$ENXS_DATA_DIR`` or the per-user one).
        files: explicit files in the archive format, read in addition (or instead).
    """
    paths: list[Path] = []
    if files:
        paths += [Path(f) for f in files]
    if nuclei is not None or not files:
        names = [nuclei] if isinstance(nuclei, str) else nuclei
        if names is None:
            paths += list(nucleus_files(data_dir).values())
        else:
            paths += [Path(n) if Path(n).is_file() else find_nucleus_file(n, data_dir) for n in names]
    tables = [read_file(p)[0] for p in paths]
    if not tables:
        raise ArchiveError(f"no data files found in {resolve_data_dir(data_dir)}")
    return pd.concat(tables, ignore_index=True)



def read_citations(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Short references 'Author, Journal Volume, Pages (Year)' from ``citations.bib``, by key."""
    path = resolve_data_dir(data_dir) / "citations.bib"
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    out = {}
    for match in re.finditer(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        fields = {k.lower(): " ".join(v.split())
                  for k, v in re.findall(r'(\w+)\s*=\s*"(.*?)"', match[2], flags=re.S)}
        parts = [fields.get("author", "").split(" and ")[0],
                 " ".join(x for x in (fields.get("journal") or fields.get("school", ""),
                                      fields.get("volume", ""), fields.get("pages", "")) if x)]
        ref = ", ".join(p for p in parts if p)
        out[match[1].strip()] = f"{ref} ({fields['year']})" if "year" in fields else ref
    return out


def write_file(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table in the archive's 8-column format (for toy data and user exports)."""
    lines = [
        f"{r.Z:3d} {r.A:3d} {r.E:9.4f} {r.theta:8.3f} {r.omega:9.5f} {r.sigma:12.5e} {r.stat_err:12.5e} {r.dataset}"
        for r in table.itertuples()
    ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
