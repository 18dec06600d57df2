import subprocess
import sys
import time

from cli_runner import enxs, enxs_process, one_line_error


def test_summary_lists_every_nucleus_with_raw_counts(archive_dir):
    result = enxs("data", "summary", "--data-dir", str(archive_dir))
    assert result.returncode == 0, result.stdout
    for name, count in [("12C", 2883), ("16O", 126), ("56Fe", 2429), ("2H", 2135)]:
        assert any(name in line and str(count) in line for line in result.stdout.splitlines())


def test_show_lists_datasets_with_norm_and_reference():
    result = enxs("data", "show", "12C")
    assert result.returncode == 0, result.stdout
    assert "Barreau:1983ht" in result.stdout and "2.0%" in result.stdout
    assert "Phys. Rev." in result.stdout


def test_check_names_every_bad_line(archive_dir, tmp_path):
    lines = (archive_dir / "16O.dat").read_text().splitlines()
    lines[4] = "  8  16   0.537  37.100 banana 1.0e+03 1.0e+01 Anghinolfi:1996vm"
    lines[8] = "  8  16   0.537"
    bad = tmp_path / "16O.dat"
    bad.write_text("\n".join(lines) + "\n")
    result = enxs("data", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:5:" in result.stdout and f"{bad}:9:" in result.stdout
    (tmp_path / "notes.txt").write_text("not a nucleus file")
    result = enxs("data", "check", str(tmp_path), str(archive_dir / "12C.dat"))  # a directory
    assert result.returncode == 1 and f"{bad}:5:" in result.stdout and "in 2 file(s)" in result.stdout
    result = enxs("data", "check", str(tmp_path / "sub"))  # the error as `enxs` prints it
    assert result.returncode == 2 and "sub: no such file or directory" in result.stderr
    (tmp_path / "sub").mkdir()
    result = enxs("data", "check", str(tmp_path / "sub"))
    assert result.returncode == 2 and "sub: no nucleus file" in result.stderr


def test_check_good_files_exits_zero():
    result = enxs("data", "check")
    assert result.returncode == 0 and "OK: 10 file(s)" in result.stdout


def test_errors_are_one_line_and_nonzero(tmp_path):
    proc = enxs_process("data", "show", "99Zz")  # the console script's own process, as a user runs it
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Zz" in proc.stderr
    proc = enxs_process("data", "summary", "--data-dir", tmp_path / "nowhere")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    (tmp_path / "afile").write_text("not a directory")
    one_line_error(enxs("data", "summary", "--data-dir", tmp_path / "afile"), "afile (--data-dir) is a file, not a "
                                                                           "directory")


def test_version_is_fast_and_does_not_import_torch():
    start = time.perf_counter()
    script = (
        "import sys; from enxs.cli.main import run; sys.argv=['enxs','--version']\n"
        "try: run()\nexcept SystemExit: pass\n"
        "print('torch' in sys.modules, 'pandas' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.split()[-2:] == ["False", "False"], proc.stdout + proc.stderr
    assert "enxs 0.1.0" in proc.stdout
    assert time.perf_counter() - start < 5  # generous: a cold interpreter on a loaded CI box


def test_table_headers_keep_their_units():
    result = enxs("data", "summary")
    assert "θ [deg]" in result.stdout and "Q² [GeV²]" in result.stdout


def test_a_directory_without_nucleus_files_is_one_error_for_summary_and_check(tmp_path):
    for command in ("summary", "check"):
        result = enxs("data", command, "--data-dir", str(tmp_path))
        assert result.returncode == 2 and "no nucleus file (<A><Symbol>.dat" in result.stderr, result.stderr
