import numpy as np
import pytest

import enxs
from enxs import archive
from enxs.nuclei import Nucleus, UnknownNucleusError
from enxs.selection import Selection
from enxs.toy import make_toy_table

RAW_COUNTS = {"2H": 2135, "3H": 540, "3He": 2475, "4He": 2724, "6Li": 133, "12C": 2883,
              "16O": 126, "27Al": 628, "40Ca": 1339, "56Fe": 2429}
CARBON_DATASETS = {"Barreau:1983ht": 795, "Arrington:1998ps": 398, "Fomin:2010ei": 359,
                   "Day:1993md": 316, "Baran:1988tw": 263, "Sealock:1989nx": 250,
                   "Zeller:1973ge": 223, "Bagdasaryan:1988hp": 134, "Arrington:1995hs": 56,
                   "O'Connell:1987ag": 54, "Whitney:1974hr": 35}


@pytest.mark.parametrize(("name", "count"), RAW_COUNTS.items())
def test_raw_counts_match_the_archive_readme(archive_dir, name, count):
    table, report = archive.read_file(archive_dir / f"{name}.dat")
    assert report.raw_points == count
    assert len(table) == count - len(report.duplicates_dropped)
    assert (table.nucleus == name).all()


def test_carbon_datasets_and_quirks(archive_dir):
    table, report = archive.read_file(archive_dir / "12C.dat")
    counts = table.dataset.value_counts().to_dict()
    counts["Arrington:1998ps"] += 1  # the duplicated row, dropped by the reader
    assert counts == CARBON_DATASETS
    assert report.duplicates_dropped == [2396]
    # the peer's reference set: no Zeller, ω ≥ 0.03 GeV → 2568 rows, 2567 once deduplicated
    assert Selection().mask(table).sum() == 2567


def test_nine_column_rows_keep_their_systematic(archive_dir):
    table, _ = archive.read_file(archive_dir / "3He.dat")
    fomin = table[table.dataset == "Fomin:2010ei"]
    assert fomin.sys_err.notna().sum() == 82
    assert table.sys_err.notna().sum() == 82


def test_zero_errors_and_negative_sigma_are_reported(archive_dir):
    _, report = archive.read_file(archive_dir / "40Ca.dat")
    assert len(report.zero_error) == 2
    assert len(report.nonpositive_sigma) == 2  # archive README: 2 zero or negative in 40Ca
    table = enxs.load_archive("40Ca")
    assert not (Selection().apply(table).stat_err == 0).any()


def test_load_archive_columns_and_derived(archive_dir):
    table = enxs.load_archive(["12C", "16O"], data_dir=archive_dir)
    assert list(table.columns) == list(archive.COLUMNS)
    assert set(table.nucleus) == {"12C", "16O"}
    row = table.iloc[0]
    assert row.Q2 == pytest.approx(2 * row.E * (row.E - row.omega) * (1 - np.cos(np.radians(row.theta))))


def test_unknown_nucleus_and_missing_file(archive_dir):
    with pytest.raises(UnknownNucleusError):
        Nucleus.parse("12Xx")
    with pytest.raises(UnknownNucleusError, match="unknown nucleus 40: write it as A then symbol"):
        Nucleus.parse(40)  # a number, not a name
    with pytest.raises(archive.ArchiveError, match=r"197Au\.dat"):
        archive.find_nucleus_file("197Au", archive_dir)


def test_a_new_nucleus_file_is_found(tmp_path):
    toy = make_toy_table(seed=1, nucleus="197Au", n_datasets=1, settings_per_dataset=1)
    archive.write_file(toy, tmp_path / "197Au.dat")
    assert list(archive.nucleus_files(tmp_path)) == ["197Au"]
    table = archive.load_archive("197Au", data_dir=tmp_path)
    assert (table.Z == 79).all() and len(table) == len(toy)


GOOD = "  8  16   0.537  37.100  0.100 1.0e+03 1.0e+01 Anghinolfi:1996vm"
FAULTS = {
    "non-numeric": ("  8  16   0.537  37.100  banana 1.0e+03 1.0e+01 X:1", "not a number"),
    "truncated": ("  8  16   0.537", "found 3"),
    "too many columns": (GOOD + " extra more", "found 10"),
    "label missing": ("  8  16   0.537  37.100  0.100 1.0e+03 1.0e+01 2.0e+00", "dataset label"),
    "negative error": ("  8  16   0.537  37.100  0.100 1.0e+03 -1.0e+01 X:1", "negative uncertainty"),
    "non-integer A": ("  8  16.5 0.537  37.100  0.100 1.0e+03 1.0e+01 X:1", "integer"),
    "infinite": ("  8  16   0.537  37.100  inf 1.0e+03 1.0e+01 X:1", "not finite"),
    "zero energy": ("  8  16   0.0  37.100  0.100 1.0e+03 1.0e+01 X:1", "beam energy"),
    "angle in radians?": ("  8  16   0.537  -0.65  0.100 1.0e+03 1.0e+01 X:1", "angle must lie in (0, 180]"),
    "angle beyond 180": ("  8  16   0.537  200.0  0.100 1.0e+03 1.0e+01 X:1", "found 200"),
    "omega in MeV": ("  8  16   0.537  37.100  100 1.0e+03 1.0e+01 X:1", "transfer must lie in [0, E = 0.537) GeV"),
    "negative omega": ("  8  16   0.537  37.100  -0.01 1.0e+03 1.0e+01 X:1", "found -0.01"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_kind_of_malformed_line(tmp_path, fault):
    bad, message = FAULTS[fault]
    path = tmp_path / "16O.dat"
    path.write_text(f"# header\n{GOOD}\n{bad}\n{GOOD.replace('0.100', '0.200')}\n")
    _, report = archive.parse_file(path)
    assert [e.line for e in report.errors] == [3]
    assert message in report.errors[0].message
    with pytest.raises(archive.ArchiveError, match=r"16O.dat:3: "):
        archive.read_file(path)


def test_mixed_nuclei_are_refused(tmp_path):
    path = tmp_path / "16O.dat"
    path.write_text(f"{GOOD}\n{GOOD.replace('  8  16', '  6  12')}\n")
    with pytest.raises(archive.ArchiveError, match=r"16O.dat:2: Z=6, A=12 differs"):
        archive.read_file(path)


def test_toy_truth_is_reproducible():
    a, b = make_toy_table(seed=3), make_toy_table(seed=3)
    assert a.equals(b)
    assert (a.sigma_true > 0).all()
    ratio = (a.sigma / a.sigma_true).groupby(a.dataset).mean()
    assert np.allclose(ratio, a.groupby("dataset").lambda_true.first(), atol=0.02)


def test_files_saved_with_a_byte_order_mark_read_as_without(tmp_path, archive_dir):
    # Windows editors save UTF-8 with a BOM: the archive, point, flux and config files read the same
    from enxs import flux, pointfiles
    from enxs.config import read_config_file

    bom = "\ufeff"
    (tmp_path / "12C.dat").write_text(bom + (archive_dir / "12C.dat").read_text(encoding="utf-8"), encoding="utf-8")
    table, report = archive.read_file(tmp_path / "12C.dat")
    assert not report.errors and len(table) == len(archive.read_file(archive_dir / "12C.dat")[0])
    (tmp_path / "points.csv").write_text(bom + "E,theta,omega\n1,30,0.1\n", encoding="utf-8")
    assert pointfiles.read_points(tmp_path / "points.csv", ("E", "theta", "omega"))[0].tolist() == [1.0]
    (tmp_path / "flux.txt").write_text(bom + "0.5 1\n1.0 2\n", encoding="utf-8")
    assert flux.read_flux(tmp_path / "flux.txt").energy.min() >= 0.5
    (tmp_path / "c.json").write_text(bom + '{"train": {"lr": 0.01}}', encoding="utf-8")
    assert read_config_file(tmp_path / "c.json") == {"train": {"lr": 0.01}}
