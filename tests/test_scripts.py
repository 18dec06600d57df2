"""The developer scripts end bad input in one line naming the option, exit 2, before any work."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

BAD_INPUT = [
    ("compare_choices.py", ["--holdout", "40Cx"], "--variant default without 40Cx"),
    ("compare_choices.py", ["--variant", "x=model.foo=1", "--holdout", "27Al"], "--variant x without 27Al"),
    ("compare_choices.py", ["--device", "nonsense"], "--device"),
    ("extrapolate.py", ["--target", "208Pb"], "--target"),
    ("extrapolate.py", ["--model", "no-such-model"], "--model"),
    ("extrapolate.py", ["--without", "40Cx"], "--without"),
    ("retrain_shipped.py", ["--out", "unused", "--only", "no-such-model"], "--only no-such-model"),
    ("calibrate_zero_shot.py", ["--runs", "no-such-dir"], "--runs no-such-dir"),
    ("zero_shot_residuals.py", ["40Ca", "--strength", "no-such-model"], "--strength"),
    ("dips.py", ["--model", "no-such-model"], "--model no-such-model"),
    ("dips.py", ["--model", "enxs-12C-fast"], "--model enxs-12C-fast: not a structured model"),
    ("dips.py", ["--nucleus", "12C,40Cx"], "--nucleus 12C,40Cx"),
    ("dips.py", ["--threshold", "3"], "--threshold 3"),
    ("carbon_models.py", ["--sigma", "no-such-model"], "--sigma no-such-model"),
    ("carbon_models.py", ["--structured", "enxs-12C-fast"], "--structured enxs-12C-fast: not a structured model"),
    ("carbon_models.py", ["--zero-shot", "40Xx"], "--zero-shot 40Xx"),
    ("carbon_models.py", ["--zero-shot", "1H"], "--structured enxs-any-fast: 1H: a free nucleon"),
    ("carbon_models.py", ["--omega-max", "3"], "--omega-max 3"),
    ("carbon_models.py", ["--every", "0"], "--every 0"),
]


@pytest.mark.parametrize(("script", "args", "names"), BAD_INPUT)
def test_a_script_ends_bad_input_in_one_line(archive_dir, tmp_path, monkeypatch, capsys, script, args, names):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(SCRIPTS))  # as when run: the scripts import each other
    monkeypatch.setattr(sys, "argv", [script, *args])
    with pytest.raises(SystemExit) as stop:  # anything else (a traceback) fails the test
        runpy.run_path(str(SCRIPTS / script), run_name="__main__")
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"{script}: error: {names}")
    assert not any(tmp_path.iterdir()), "nothing is written"


def test_a_dip_is_the_drop_below_the_lower_of_the_maxima_on_either_side(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from dips import dip

    assert dip(np.array([1.0, 4.0, 2.0, 3.0, 1.0])) == pytest.approx((3 - 2) / 4)
    assert dip(np.array([1.0, 2.0, 3.0, 2.0, 1.0])) == 0.0  # one maximum: no dip
    assert dip(np.array([0.0, 5.0, 5.0, 0.0])) == 0.0
