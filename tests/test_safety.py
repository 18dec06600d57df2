"""What a new user hit on a fresh clone: ONNX files older runtimes load, one rule for existing
outputs, one-line errors, nuclei that exist, zero-shot said, and the Python API."""

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from cli_runner import enxs, one_line_error
from enxs import archive, files, onnx_io, runs
from enxs.nuclei import Nucleus, UnknownNucleusError
from enxs.predict import Ensemble, ExtrapolationWarning
from enxs.toy import make_toy_table

SHIPPED, ANY, RESPONSES = "enxs-12C-fast", "enxs-any-fast", "enxs-any-responses-fast"
PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "kowal-c12-onnx"


@pytest.mark.parametrize(("model", "nucleus", "responses"), [(SHIPPED, None, False), (ANY, "40Ar", False),
                                                               (RESPONSES, "16O", True)])
def test_onnx_files_have_the_published_members_ir_version_and_opset(model, nucleus, responses):
    ensemble = Ensemble.load(model)
    proto = onnx_io.member_graph(ensemble.model, 0, "m", ensemble.target(nucleus), responses)
    assert proto.ir_version == 8 and {o.domain or "": o.version for o in proto.opset_import}[""] == 17


def test_every_point_is_outside_for_a_nucleus_beyond_the_trained_ones_and_for_unknown_coverage(monkeypatch):
    ensemble = Ensemble.load(ANY)
    assert ensemble.everywhere_outside(Nucleus.parse("40Ar")) is None
    assert "208Pb lies outside the range of A and k_F" in ensemble.everywhere_outside(Nucleus.parse("208Pb"))
    monkeypatch.setattr(ensemble.manifest, "coverage", None)
    assert "coverage of enxs-any-fast is unknown" in ensemble.everywhere_outside(Nucleus.parse("40Ar"))


def test_export_sidecar_states_what_the_graph_outputs_and_the_spread(tmp_path):
    ensemble = Ensemble.load(ANY)
    argon = Nucleus.parse("40Ar")
    summary = onnx_io.export(ensemble.model.select([0, 1]), argon, tmp_path / "Ar40",
                             zero_shot_note=ensemble.zero_shot_note(argon))
    sidecar = json.loads((tmp_path / "Ar40" / "enxs-export.json").read_text())
    assert summary["directory"] == str(tmp_path / "Ar40")  # --out named like the member directory: no Ar40/Ar40
    assert "output_factor" not in sidecar and "already inside the graph" in sidecar["output"]
    assert "ddof = 1" in sidecar["ensemble"] and sidecar["zero_shot"] and "zero-shot" in sidecar["zero_shot_note"]
    assert sidecar["onnx_ir_version"] == 8


def test_an_existing_file_is_kept_unless_overwrite_whoever_wrote_it(tmp_path):
    args = ("predict", SHIPPED, "--energy", 0.68, "--angle", 60, "--omega", "0.1:0.3:3", "--output", "p.csv")
    assert enxs(*args, cwd=tmp_path).returncode == 0
    before = (tmp_path / "p.csv").read_text()
    one_line_error(enxs(*args, cwd=tmp_path), "exists", "--overwrite")
    assert (tmp_path / "p.csv").read_text() == before
    assert enxs(*args, "--overwrite", cwd=tmp_path).returncode == 0
    plot = ("plot", SHIPPED, "--energy", 0.68, "--angle", 60, "--output", "f.png")
    assert enxs(*plot, cwd=tmp_path).returncode == 0
    one_line_error(enxs(*plot, cwd=tmp_path), "exists", "--overwrite")  # its own figure too
    assert enxs(*plot, "--overwrite", cwd=tmp_path).returncode == 0


def test_missing_parents_are_refused_for_files_and_directories_alike(tmp_path):
    one_line_error(enxs("predict", SHIPPED, "--energy", 1, "--angle", 30, "--omega", 0.3, "--output",
                          "nodir/x.csv", cwd=tmp_path), "does not exist")
    one_line_error(enxs("pretrain", "--preset", "smoke", "--out", "nodir/sub/x", cwd=tmp_path), "does not exist")
    one_line_error(enxs("export", "onnx", SHIPPED, "--out", "nodir/sub", cwd=tmp_path), "does not exist")
    one_line_error(enxs("import", "onnx", PEER, "--out", "nodir/peer", cwd=tmp_path), "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_out_naming_an_existing_file_is_one_line(tmp_path):
    (tmp_path / "exists.txt").write_text("x")
    one_line_error(enxs("export", "onnx", SHIPPED, "--out", "exists.txt", cwd=tmp_path), "is a file")
    one_line_error(enxs("pretrain", "--preset", "smoke", "--out", "exists.txt", cwd=tmp_path), "is a file")
    assert (tmp_path / "exists.txt").read_text() == "x"


def test_study_directory_rule(tmp_path):
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "report.md").write_text("my notes")
    with pytest.raises(files.OutputError, match="did not write"):
        files.check_study_directory(tmp_path / "rep", ["report.md"])
    (tmp_path / "rep" / files.STUDY_MARKER).write_text("{}")
    with pytest.raises(files.OutputError, match="--overwrite"):
        files.check_study_directory(tmp_path / "rep", ["report.md"])
    files.check_study_directory(tmp_path / "rep", ["report.md"], overwrite=True)
    files.check_study_directory(tmp_path / "new", ["report.md"])
    assert (tmp_path / "rep" / "report.md").read_text() == "my notes"


def test_points_file_without_rows_and_ambiguous_input_are_refused(tmp_path):
    (tmp_path / "empty.csv").write_text("E,theta,omega\n")
    one_line_error(enxs("predict", SHIPPED, "--input", "empty.csv", cwd=tmp_path), "no points")
    (tmp_path / "ok.csv").write_text("E,theta,omega\n1,30,0.3\n")
    one_line_error(enxs("predict", SHIPPED, "--input", "ok.csv", "--energy", 5, cwd=tmp_path), "not both")


@pytest.mark.parametrize("name", ["999C", "2C", "300U"])
def test_nuclei_that_do_not_exist_are_refused(name):
    with pytest.raises(UnknownNucleusError, match="NIST isotope table"):
        Nucleus.parse(name)


def test_known_isotopes_are_accepted():
    assert [Nucleus.parse(n).A for n in ("1H", "3H", "3He", "40Ar", "208Pb", "238U")] == [1, 3, 3, 40, 208, 238]


def test_zero_shot_is_said_on_screen_and_in_the_file(tmp_path):
    result = enxs("predict", ANY, "--nucleus", "40Ar", "--energy", 2.222, "--angle", 15.541, "--omega",
                  "0.1:0.9:3", "--output", "ar.csv", cwd=tmp_path)
    assert result.returncode == 0 and "zero-shot" in result.stderr
    header = [line for line in (tmp_path / "ar.csv").read_text().splitlines() if line.startswith("#")]
    assert "# zero_shot: True" in header and any("zero-shot" in line for line in header)
    result = enxs("predict", ANY, "--nucleus", "12C", "--energy", 0.68, "--angle", 60, "--omega", 0.3,
                  "--output", "c.csv", cwd=tmp_path)
    assert "zero-shot" not in result.stderr and "# zero_shot: False" in (tmp_path / "c.csv").read_text()


def test_evaluate_takes_the_nucleus_from_the_data_file(tmp_path, archive_dir):
    part = tmp_path / "16O-part.dat"
    part.write_text("".join((archive_dir / "16O.dat").read_text().splitlines(keepends=True)[:40]))
    result = enxs("evaluate", ANY, "--data-file", part, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nucleus"] == "16O" and not json.loads(result.stdout)["zero_shot"]
    one_line_error(enxs("evaluate", ANY, "--data-file", part, "--nucleus", "12C"), "holds 16O data")
    archive.write_file(make_toy_table(seed=5, nucleus="40Ar", n_datasets=1, settings_per_dataset=2,
                                      points_per_setting=10), tmp_path / "40Ar.dat")
    result = enxs("evaluate", ANY, "--data-file", tmp_path / "40Ar.dat", "--json")
    assert json.loads(result.stdout)["zero_shot"] and "zero-shot: " in result.stderr


def test_negative_mean_responses_are_flagged():
    from enxs.responses import predict_responses

    with pytest.warns(ExtrapolationWarning, match="negative mean"):
        r = predict_responses(Ensemble.load(SHIPPED), 0.5, 0.45)
    assert (r.mean < 0).any() and r.outside_coverage.all()


def test_python_api_broadcasts_reads_paths_and_names_no_cli_flags(archive_dir, tmp_path):
    ensemble = Ensemble.load(SHIPPED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        p = ensemble.predict(np.array([0.68, 1.0])[:, None], 40.0, np.array([0.1, 0.2, 0.3, 0.4]))
    assert p.mean.shape == (2, 4) and p.members.shape == (50, 2, 4) and len(p.to_frame()) == 8
    assert p.to_frame().outside_coverage.dtype == bool
    copy = tmp_path / "my-carbon.dat"
    copy.write_text((archive_dir / "12C.dat").read_text())
    assert len(archive.load_archive(str(copy))) == len(archive.load_archive("12C"))
    with pytest.raises(Exception) as caught:
        Ensemble.load(ANY).predict(1.0, 30.0, 0.3)
    assert "--" not in str(caught.value)


def test_data_summary_names_a_bad_file_and_summarizes_the_others(tmp_path, archive_dir):
    for name in ("12C.dat", "16O.dat"):
        (tmp_path / name).write_text((archive_dir / name).read_text())
    (tmp_path / "27Al.dat").write_text("not a table\n")
    result = enxs("data", "summary", "--data-dir", tmp_path)
    assert result.returncode == 0 and "27Al.dat" in result.stderr and "16O" in result.stdout
    one_line_error(enxs("data", "show", "40Ar", "--data-dir", tmp_path), "40Ar")
    assert "--data-file" not in enxs("data", "show", "40Ar", "--data-dir", tmp_path).stderr


def test_sigterm_during_training_says_how_to_resume(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "enxs", "pretrain", "--preset", "smoke", "--members", "2",
                             "--epochs", "100000", "--out", "run"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "run" / runs.RUN_FILE).is_file() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert "interrupted at epoch" in err and "enxs pretrain --resume run" in err and "Traceback" not in err


def test_errors_before_any_work_print_no_progress_bar(tmp_path):
    result = enxs("finetune", "--from", SHIPPED, "--nucleus", "16O", "--norm", "Nope=0.1", "--out", "x", cwd=tmp_path)
    one_line_error(result, "Nope")
    assert "epoch" not in result.stdout



def test_plot_range_shows_the_whole_model_and_the_legend_names_datasets():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from enxs import plots

    fig, ax = plt.subplots()
    points = pd.DataFrame({"omega": [1.0, 2.0, 3.0], "sigma": [100.0, 300.0, 400.0], "dataset": ["A", "A", "B"]})
    drawn = plots.data_points(ax, points, np.full(3, 20.0), np.array([True, False, True]))
    assert set(drawn) == {"A (train)", "A (test)", "B (train)"}
    mean = np.array([10.0, 420.0, 1452.0])
    plots.y_range(ax, mean, 1.1 * mean, points, np.full(3, 20.0))
    assert ax.get_ylim()[1] >= 1.1 * 1452
    plots.y_range(ax, mean, 1.1 * mean, log=True)
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] < 10
    plt.close(fig)


def test_plot_takes_ylim_and_refuses_a_bad_one(tmp_path):
    args = ("plot", SHIPPED, "--energy", 0.68, "--angle", 60)
    assert enxs(*args, "--ylim", "1,3000", "--log-y", "--output", "a.png", cwd=tmp_path).returncode == 0
    one_line_error(enxs(*args, "--ylim", "5,1", "--output", "b.png", cwd=tmp_path), "--ylim")
