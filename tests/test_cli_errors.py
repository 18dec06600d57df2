"""Bad input and faults through the command line: one line naming what and where, a
non-zero exit, no traceback, and nothing of the user's touched."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from cli_runner import enxs, one_line_error
from enxs import artifacts, runs
from enxs.archive import parse_file
from enxs.config import Scratch, build_config, preset_config

SHIPPED = "enxs-12C-fast"


def test_errors_need_nothing_but_the_declared_dependencies(tmp_path):
    # a plain install has no click (typer ≥ 0.29 carries its own): the error path must not import it
    code = ("import sys; sys.modules['click'] = None; sys.argv = ['enxs'] + sys.argv[1:]; "
            "from enxs.cli.main import run; run()")
    for args in (["predict", SHIPPED, "--energy", "0.5", "--angle", "60", "--omega", "0.6"],
                 ["predict", SHIPPED, "--energy", "x"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


def test_bad_input_to_a_model_is_refused_before_torch_loads(tmp_path):
    # what a user mistypes (a model, a nucleus, a preset, a flavour, a kinematic value, a missing file, an existing
    # output) is checked against the options and the model's manifest first: one line in a fraction of the seconds
    # torch takes to load
    (tmp_path / "exists.csv").write_text("keep")
    cases = [(["predict", "enxs-any-fst", "--nucleus", "12C", "--energy", "1", "--angle", "60", "--omega", "0.1"],
              "unknown model 'enxs-any-fst'"),
             (["predict", "enxs-any-fast", "--nucleus", "99Zz", "--energy", "1", "--angle", "60", "--omega", "0.1"],
              "unknown nucleus '99Zz'"),
             (["predict", "enxs-any-fast", "--energy", "1", "--angle", "60", "--omega", "0.1"], "with --nucleus"),
             (["predict", SHIPPED, "--nucleus", "56Fe", "--energy", "1", "--angle", "60", "--omega", "0.1"],
              "describes 12C only"),
             (["predict", SHIPPED, "--energy", "-1", "--angle", "60", "--omega", "0.1"], "beam energy E must be > 0"),
             (["predict", SHIPPED, "--energy", "1", "--angle", "60", "--omega", "0.1", "--output", "exists.csv"],
              "exists"),
             (["responses", "enxs-any-fast", "--nucleus", "1H", "--q", "0.5", "--omega", "0.1"], "free nucleon"),
             (["plot", SHIPPED, "--energy", "1", "--angle", "200", "--output", "p.png"], "θ must lie in (0, 180)"),
             (["tabulate", "enxs-any-fst", "--nucleus", "40Ar", "--out", "g.h5"], "unknown model"),
             (["evaluate", "enxs-12C-fst"], "unknown model"),
             (["evaluate", "enxs-any-fast", "--nucleus", "40Cx"], "unknown nucleus '40Cx'"),
             (["neutrino", "enxs-any-fst", "--nucleus", "40Ar", "--energy", "1", "--tmu", "0.5", "--cos", "0.5"],
              "unknown model"),
             (["neutrino", SHIPPED, "--nucleus", "40Ar", "--energy", "1", "--tmu", "0.5", "--cos", "0.5"],
              "describes 12C only"),
             (["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--flavor", "numuu", "--energy", "1", "--tmu", "0.5",
               "--cos", "0.5"], "--flavor 'numuu': choose one of numu"),
             (["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--flavor", "nue", "--ratio-to", "nmu", "--total",
               "--energy", "0.5:1:3"], "--ratio-to 'nmu'"),
             (["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--total", "--energy", "0.5:x:3"], "--energy"),
             (["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--energy", "1", "--tmu", "0.5", "--cos", "1.2"],
              "--cos 1.2: cos θ must lie in [-1, 1]"),
             (["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--flux", "nofile.csv", "--tmu", "0.5", "--cos",
               "0.5"], "--flux nofile.csv: cannot read"),
             (["neutrino", "enxs-any-fast", "--nucleus", "40Ar", "--input", "nofile.csv"], "nofile.csv"),
             (["plot", "enxs-any-fast", "--nucleus", "40Ar", "--neutrino", "nu_mu", "--energy", "1", "--output",
               "n.png"], "--neutrino 'nu_mu'"),
             (["export", "onnx", "enxs-any-fast", "--nucleus", "1H", "--out", "nuwro"], "free nucleon"),
             (["export", "hepdata", SHIPPED, "--energy", "1", "--angle", "60", "--omega", "0.5:1.5:3", "--out", "hep"],
              "ω must be < beam energy E"),
             (["pretrain", "--nucleus", "12X", "--out", "run"], "--nucleus: unknown nucleus '12X'"),
             (["pretrain", "--nucleus", "all", "--exclude", "40Cx", "--out", "run"], "--exclude: unknown nucleus"),
             (["pretrain", "--preset", "fsat", "--out", "run"], "unknown preset 'fsat'"),
             (["finetune", "--from", "enxs-12C-fst", "--nucleus", "56Fe", "--out", "run"], "unknown model"),
             (["finetune", "--from", SHIPPED, "--nucleus", "56Fx", "--out", "run"], "--nucleus: unknown nucleus"),
             (["reproduce", "--studies", "any", "--any-nucleus", "16O,40Cx", "--out", "report"],
              "--any-nucleus: unknown nucleus '40Cx'"),
             (["reproduce", "--base", "enxs-12C-fst", "--out", "report"], "unknown model")]
    code = ("import json, sys\nfrom enxs.cli.main import invoke\nfor args, _ in json.loads(sys.argv[1]):\n"
            "    print(invoke(args), 'torch' in sys.modules, flush=True)\n")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(cases)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.stdout.split("\n")[:-1] == ["2 False"] * len(cases), result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(cases) and "Traceback" not in result.stderr, result.stderr
    for line, (args, fragment) in zip(errors, cases, strict=True):
        assert fragment in line, (args, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.csv"]


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_output_into_a_missing_directory(tmp_path, suffix):
    result = enxs("predict", SHIPPED, "--energy", 1, "--angle", 30, "--omega", "0.2:0.4:3",
                  "--output", f"nodir/x{suffix}", cwd=tmp_path)
    one_line_error(result, "nodir", "does not exist")


def test_tabulate_checks_its_output_before_working(tmp_path):
    result = enxs("tabulate", SHIPPED, "--out", "nodir/x.h5", cwd=tmp_path)
    one_line_error(result, "nodir", "does not exist")


def test_a_grid_larger_than_memory_is_one_line(tmp_path):
    result = enxs("tabulate", SHIPPED, "--out", "g.h5", "--shape", "100000,100000,100000", cwd=tmp_path)
    assert len(one_line_error(result, "not enough memory", "a smaller grid")) == 1  # was a numpy traceback
    assert not (tmp_path / "g.h5").exists()


def test_hepdata_export_keeps_the_users_files(tmp_path):
    pytest.importorskip("hepdata_lib")
    (tmp_path / "hep").mkdir()
    (tmp_path / "hep" / "notes.txt").write_text("keep")
    args = ("export", "hepdata", SHIPPED, "--energy", 0.68, "--angle", 60, "--omega", "0.1:0.5:5")
    one_line_error(enxs(*args, "--out", "hep", cwd=tmp_path), "not empty")
    assert (tmp_path / "hep" / "notes.txt").read_text() == "keep"
    one_line_error(enxs(*args, "--out", ".", cwd=tmp_path), "not empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hep"]
    assert enxs(*args, "--out", "fresh", cwd=tmp_path).returncode == 0
    assert (tmp_path / "fresh" / "submission.tar.gz").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "hep"]


@pytest.fixture()
def small_model(tmp_path, archive_dir):
    out = tmp_path / "model"
    config = build_config(preset_config("smoke"), Scratch(), members=2, epochs=2)
    runs.execute(runs.RunSpec("12C", str(archive_dir / "12C.dat"), config), out)
    return out


def _edit_manifest(source, target, edit):
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    edit(manifest)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (lambda m: m["config"]["model"].update(activation="tanhh"), ["config", "activation", "tanhh"]),
        (lambda m: m["config"]["model"].update(bogus_key=1), ["config", "bogus_key", "[model]"]),
        (lambda m: m.pop("weights"), ["weights", "required"]),
        (lambda m: m.update(A="fifty-six"), ["field A", "fifty-six"]),
        (lambda m: m.update(A=13), ["Z, A", "12C"]),
    ],
)
def test_a_wrong_manifest_is_one_line_naming_the_field(small_model, tmp_path, edit, fragments):
    bad = _edit_manifest(small_model, tmp_path / "bad", edit)
    with pytest.raises(artifacts.ModelFileError, match=r"manifest\.json: field"):
        artifacts.load_model(bad)
    command = (["export", "onnx", bad, "--out", tmp_path / "onnx"] if "field A" in fragments
               else ["predict", bad, "--energy", 1, "--angle", 30, "--omega", 0.3])
    one_line_error(enxs(*command), "manifest.json", *fragments)
    assert not (tmp_path / "onnx").exists()


def test_a_device_this_build_lacks(tmp_path):
    for device in ("cuda", "gpu"):
        lines = one_line_error(enxs("pretrain", "--preset", "smoke", "--device", device, "--out", "run",
                                      cwd=tmp_path), "available here: cpu")
        assert len(lines) == 1
    assert not (tmp_path / "run").exists()


def test_finetune_refuses_a_norm_label_not_in_the_data_and_options_out_of_range(tmp_path, archive_dir):
    result = enxs("finetune", "--from", SHIPPED, "--nucleus", "56Fe", "--norm",
                  "Typo:2026=0.03", "--out", "ft", cwd=tmp_path)
    one_line_error(result, "Typo:2026", "Day:1993md")
    assert not (tmp_path / "ft").exists()
    result = enxs("finetune", "--from", SHIPPED, "--nucleus", "56Fe", "--train-fraction", 1.5, "--out", "ft",
                  cwd=tmp_path)
    one_line_error(result, "--train-fraction 1.5: must be in (0, 1)")
    result = enxs("finetune", "--from", SHIPPED, "--nucleus", "56Fe", "--scenario", "last3", "--out", "ft",
                  cwd=tmp_path)
    one_line_error(result, "--scenario 'last3': choose all or last2")
    for option in ("--members", "--epochs"):  # typer's own range check, before any work
        result = enxs("finetune", "--from", SHIPPED, "--nucleus", "56Fe", option, 0, "--out", "ft", cwd=tmp_path)
        one_line_error(result, f"Invalid value for '{option}'")
    assert not (tmp_path / "ft").exists()


def test_resume_after_a_kill_before_the_first_checkpoint(tmp_path, archive_dir):
    spec = runs.RunSpec("12C", str(archive_dir / "12C.dat"),
                        build_config(preset_config("smoke"), Scratch(), members=2, epochs=4))

    def killed(report):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.execute(spec, tmp_path / "run", on_epoch=killed)
    assert (tmp_path / "run" / "run.json").is_file() and not artifacts.has_checkpoint(tmp_path / "run")
    result = enxs("pretrain", "--resume", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["training"]["epochs_run"] == 4


def test_data_check_reports_what_loading_refuses(tmp_path):
    (tmp_path / "16O.dat").write_text("8 16 1.0 30 0.1 5.0 0.1 Exp:2026\n8 17 1.0 30 0.2 5.0 0.1 Exp:2026\n")
    (tmp_path / "empty.dat").write_text("# nothing\n")
    errors = [str(e) for e in parse_file(tmp_path / "16O.dat")[1].errors]
    assert errors == [f"{tmp_path / '16O.dat'}:2: Z=8, A=17 differs from the file name's 16O: one nucleus per file"]
    result = enxs("data", "check", tmp_path / "16O.dat", tmp_path / "empty.dat")
    assert result.returncode == 1
    assert "16O.dat:2: Z=8, A=17" in result.stdout and "empty.dat: no data lines" in result.stdout
    one_line_error(enxs("data", "show", tmp_path / "16O.dat"), "16O.dat:2")


def test_brackets_survive_in_help_and_errors(tmp_path):
    help_text = enxs("predict", "--help").stdout
    assert "θ [deg]" in help_text and "[GeV]" in help_text
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"model": {"bogus_key": 1}}))
    result = enxs("pretrain", "--preset", "smoke", "--config", bad, "--out", tmp_path / "x")
    one_line_error(result, "unknown key(s) in [model]: bogus_key")


def test_a_bad_csv_cell_is_shown_as_written(tmp_path):
    (tmp_path / "p.csv").write_text("E,theta,omega\n1.0,30,0.1\n1.0,30,NaN\n")
    one_line_error(enxs("predict", SHIPPED, "--input", tmp_path / "p.csv"), "p.csv:3", "'NaN'")


def test_help_cites_nothing_a_user_lacks():
    for command in ("pretrain", "finetune", "evaluate", "reproduce", "predict", "plot", "tabulate"):
        text = enxs(command, "--help").stdout
        assert "method.md" not in text and "README" not in text, command
        if command in ("pretrain", "finetune", "evaluate", "predict", "tabulate", "reproduce"):
            assert "--threads" in text, command


@pytest.mark.slow
def test_cli_run_killed_before_its_first_checkpoint_resumes(tmp_path, archive_dir):
    import os
    import signal
    import time

    command = [sys.executable, "-m", "enxs", "pretrain", "--preset", "fast", "--members", "4", "--epochs", "60",
               "--out", "run"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (tmp_path / "run" / "run.json").exists() and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "run" / "run.json").exists() and not artifacts.has_checkpoint(tmp_path / "run")
    again = enxs("pretrain", "--out", "run", cwd=tmp_path)
    one_line_error(again, "--resume")
    changed = enxs("pretrain", "--resume", "run", "--members", 5, "--preset", "fast", cwd=tmp_path)
    one_line_error(changed, "--preset, --members: not used with --resume: a resumed run keeps the settings it")
    resumed = enxs("pretrain", "--resume", "run", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["training"]["epochs_run"] == 60


def test_an_existing_output_file_is_kept_unless_told(tmp_path):
    (tmp_path / "mine.csv").write_text("keep")
    args = ("predict", SHIPPED, "--energy", 1, "--angle", 30, "--omega", 0.3, "--output", "mine.csv")
    one_line_error(enxs(*args, cwd=tmp_path), "exists", "--overwrite")
    assert (tmp_path / "mine.csv").read_text() == "keep"
    assert enxs(*args, "--overwrite", cwd=tmp_path).returncode == 0
    assert "mean_nb_sr_GeV" in (tmp_path / "mine.csv").read_text()


@pytest.mark.parametrize("args, fragments", [
    (("predict", SHIPPED, "--energy", 1, "--angle", 30, "--omega", ","), ["--omega ','"]),
    (("responses", "enxs-any-fast", "--nucleus", "12C", "--q", "0.5,-1", "--omega", 0.1), ["--q", "> 0", "-1"]),
    (("plot", "enxs-any-fast", "--nucleus", "12C", "--responses", "--q", "0:1:3"), ["--q", "> 0"]),
    (("plot", SHIPPED, "--energy", 1, "--angle", 30, "--output", "fig.txt"), ["fig.txt", "figure format", "png"]),
    (("plot", SHIPPED, "--energy", 1, "--angle", 30, "--flux", "f.txt", "--cos", "0.5"),
     ["--cos, --flux: not used for a spectrum in ω", "--neutrino"]),
    (("plot", SHIPPED, "--energy", 1, "--angle", 30, "--omega", 0.3, "--scan", "angle"),
     ["--angle: not used in a scan"]),
    (("plot", "enxs-any-fast", "--neutrino", "numu", "--total", "--energy", 1),
     ["--energy: not used with --neutrino --total"]),
    (("neutrino", "enxs-any-fast", "--nucleus", "12C", "--total", "--energy", "0.5,1", "--cos", "0.5"),
     ["--cos: not used with --total"]),
    (("neutrino", "enxs-any-fast", "--nucleus", "12C", "--energy", 1, "--emax", 2, "--tmu", 0.2, "--cos", 0.5),
     ["--emax: not used without --flux"]),
    (("pretrain", "--preset", "smoke", "--workers", 3, "--out", "run"), ["--workers: not used without --executor ray"]),
    (("evaluate", SHIPPED, "--scale-a"), ["--scale-a scales to another nucleus: name it"]),
    (("neutrino", "enxs-any-fast", "--nucleus", "12C", "--energy", 1, "--tmu", 0.2, "--cos", 0.5, "--cell-points", 6),
     ["--cell-points needs cells: --bin-average, or dT (dp) and dcos columns in --input"]),
    (("neutrino", "enxs-any-fast", "--nucleus", "12C", "--energy", 1, "--tmu", "0.2,0.4", "--cos", "0.5,0.7",
      "--bin-average", "--cell-points", 40), ["--cell-points 40: choose a whole number from 1 to 32"]),
    (("plot", "enxs-any-fast", "--nucleus", "12C", "--neutrino", "nutau", "--energy", 1), ["--neutrino 'nutau'"]),
    (("plot", "enxs-any-fast", "--nucleus", "12C", "--neutrino", "numu", "--total", "--emax", -1), ["--emax -1"]),
    (("reproduce", "--address", "auto", "--out", "study"), ["--address: not used without --executor ray"]),
    (("plot", SHIPPED, "--energy", 1, "--angle", 30, "--log-y", "--ylim", "0,10"), ["--ylim '0,10'", "LO > 0"]),
    (("plot", SHIPPED, "--energy", 1, "--angle", 30, "--ylim", "0,inf"), ["--ylim '0,inf'", "finite"]),
    (("responses", "enxs-any-fast", "--nucleus", "12C", "--q", 0.5, "--omega", "0.1,nan"),
     ["--omega '0.1,nan': every value must be finite (found nan)"]),
    (("neutrino", "enxs-any-fast", "--nucleus", "12C", "--energy", 1, "--tmu", "inf", "--cos", 0.5),
     ["--tmu 'inf': every value must be finite"]),
    (("tabulate", "enxs-any-fast", "--nucleus", "12C", "--responses", "--q-max", "inf", "--out", "r.h5"),
     ["--q-max inf: need 0 < q-min < q-max, finite"]),
    (("plot", "enxs-any-fast", "--nucleus", "12C", "--neutrino", "numu", "--energy", "inf"),
     ["--energy inf: a neutrino energy must be finite"]),
    (("plot", "enxs-any-fast", "--nucleus", "12C", "--neutrino", "numu", "--total", "--emax", "inf"),
     ["--emax inf: must be finite"]),
])
def test_bad_lists_figure_formats_and_ignored_options_are_refused_before_any_work(tmp_path, args, fragments):
    one_line_error(enxs(*args, cwd=tmp_path), *fragments)
    assert not any(tmp_path.iterdir())


def test_a_command_stopped_by_sigterm_says_so_and_leaves_no_file(tmp_path):
    # typer turns the KeyboardInterrupt of `terminate` into a silent exit code 130: enxs says it, with SIGTERM's 143
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "enxs", "tabulate", SHIPPED, "--out", "grid.h5"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # the default grid takes about a minute
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in stderr and "Traceback" not in stderr, stderr
    assert not any(tmp_path.iterdir())


def test_progress_in_a_log_is_a_line_per_tenth_after_a_quiet_start(monkeypatch, capsys):
    from enxs.cli import common

    clock = iter([0.0, 1.0, 6.0, 6.5, 7.0, 20.0])
    monkeypatch.setattr(common.time, "monotonic", lambda: next(clock))
    lines = common.LogProgress("job", "step", 100)
    for done in (0, 5, 25, 27, 31, 100):
        lines(done)
    assert capsys.readouterr().err.splitlines() == ["job: step 25/100, 0:06 elapsed, about 0:18 left",
                                                    "job: step 31/100, 0:07 elapsed, about 0:16 left",
                                                    "job: step 100/100, 0:20 elapsed, about 0:00 left"]


def test_training_progress_draws_a_bar_on_a_terminal_and_lines_in_a_log(tmp_path, archive_dir, monkeypatch, capsys):
    import io

    from rich.console import Console

    from enxs.cli import common, train

    spec = runs.RunSpec("12C", str(archive_dir / "12C.dat"),
                        build_config(preset_config("smoke"), Scratch(), members=2, epochs=4))
    screen = io.StringIO()
    monkeypatch.setattr(train, "console", Console(file=screen, force_terminal=True, force_interactive=True, width=200))
    train._progress_run(spec, tmp_path / "bar", False, "enxs pretrain")
    assert "epoch 4/4" in screen.getvalue() and "val …" not in screen.getvalue().rsplit("epoch 4/4", 1)[1]
    monkeypatch.setattr(train, "console", Console(file=io.StringIO(), force_terminal=False, width=200))
    monkeypatch.setattr(common.LogProgress, "QUIET_SECONDS", 0.0)
    train._progress_run(spec, tmp_path / "log", False, "enxs pretrain")
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(r"\S+ 12C: epoch 4/4, χ²/N train \S+ val \S+, 0:\d\d elapsed, about 0:00 left", last), last


def test_invoke_gives_the_exit_status_and_leaves_the_callers_warnings_alone(capsys):
    import warnings

    from enxs.cli.main import invoke

    shown = warnings.showwarning
    assert invoke(["--version"]) == 0 and "enxs 0.1.0" in capsys.readouterr().out
    assert invoke(["predict", SHIPPED, "--energy", "x", "--angle", "30", "--omega", "0.3"]) == 2
    assert "Invalid value" in capsys.readouterr().err
    assert warnings.showwarning is shown
