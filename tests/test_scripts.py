"""The developer scripts end bad input in one line naming the option, exit 2, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

BAD_INPUT = [
    ("compare_choices.py", ["--holdout", "40Cx"], "--variant default without 40Cx"),
    ("compare_choices.py", ["--variant", "x=model.foo=1", "--holdout", "27Al"], "--variant x without 27Al"),
    ("extrapolate.py", ["--target", "208Pb"], "--target"),
    ("retrain_shipped.py", ["--out", "unused", "--only", "no-such-model"], "--only no-such-model"),
    ("calibrate_zero_shot.py", ["--runs", "no-such-dir"], "--runs no-such-dir"),
    ("zero_shot_residuals.py", ["40Ca", "--strength", "no-such-model"], "--strength"),
]


@pytest.mark.parametrize(("script", "args", "names"), BAD_INPUT)
def test_a_script_ends_bad_input_in_one_line(archive_dir, tmp_path, script, args, names):
    result = subprocess.run([sys.executable, str(SCRIPTS / script), *args], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"{script}: error: {names}")
    assert not any(tmp_path.iterdir()), "nothing is written"
