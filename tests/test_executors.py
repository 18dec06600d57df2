"""Executors: members trained in chunks merge into the in-process model (with and without Ray), a
study's runs on Ray, the one-line error without the extra, and a run killed mid-chunk resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from enxs import archive, artifacts, executors, runs
from enxs.config import Scratch, build_config, preset_config
from enxs.toy import make_toy_table


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "12C.dat"
    archive.write_file(make_toy_table(seed=3, n_datasets=3, settings_per_dataset=5, points_per_setting=30), path)
    return path


def _spec(path, *sets):
    return runs.RunSpec("12C", str(path), build_config(preset_config("fast"), Scratch(), assignments=[
        "train.p2p_sys=0.0", "train.members=5", "train.epochs=12", "model.width=16", *sets]))


def _chunk(spec, first, count):
    return replace(spec, config=replace(spec.config, train=replace(spec.config.train, members=count,
                                                                        first_member=first)))


def _same_weights(a, b):
    first, second = load_file(a / "weights.safetensors"), load_file(b / "weights.safetensors")
    assert sorted(first) == sorted(second)
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0.0, atol=0.0)


def test_chunk_ranges_cover_the_members_once():
    assert executors.chunk_ranges(6, 2) == [(0, 3), (3, 3)]
    assert executors.chunk_ranges(5, 3) == [(0, 2), (2, 1), (3, 2)]
    assert executors.chunk_ranges(2, 4) == [(0, 1), (1, 1)]


@pytest.mark.parametrize("model, split", [((), 2), (("model.output=superscaling", "model.nucleus_inputs=physics",
                                                     "model.transverse_smoothness=0.01"), 1)],
                         ids=["sigma", "structured-smooth"])
def test_chunks_of_members_merge_into_the_in_process_model(toy_file, tmp_path, model, split):
    """Member k is the same in any chunk: its seed's streams, and the run's own (the smoothness prior's points)."""
    spec = _spec(toy_file, *model)
    whole = runs.execute(spec, tmp_path / "whole")
    parts = [tmp_path / "a", tmp_path / "b"]
    runs.execute(_chunk(spec, 0, split), parts[0])
    runs.execute(_chunk(spec, split, 5 - split), parts[1])
    merged = executors.merge_chunks(spec, tmp_path / "merged", parts)
    _same_weights(tmp_path / "whole", tmp_path / "merged")  # bit for bit
    assert merged.training["member_seeds"] == whole.training["member_seeds"]
    np.testing.assert_allclose(merged.lam["per_member"], whole.lam["per_member"], rtol=1e-5)
    assert merged.metrics["test"]["median_abs_rel_dev"] == pytest.approx(whole.metrics["test"]["median_abs_rel_dev"])
    # fine-tuning in chunks: members first … first + count − 1 of the parent
    child = runs.finetune_spec(str(tmp_path / "whole"), "12C", data_file=str(toy_file), members=4, epochs=6,
                               assignments=["train.p2p_sys=0.0"])
    runs.execute(child, tmp_path / "ft")
    runs.execute(_chunk(child, 0, 1), tmp_path / "ft0")
    runs.execute(_chunk(child, 1, 3), tmp_path / "ft1")
    executors.merge_chunks(child, tmp_path / "ft-merged", [tmp_path / "ft0", tmp_path / "ft1"])
    _same_weights(tmp_path / "ft", tmp_path / "ft-merged")  # a chunk of one member too


def test_recorded_runs_keep_their_keys_when_new_fields_are_at_their_defaults(toy_file):
    """A run recorded by an earlier enxs is found again: the key below is the one enxs computed for this spec before
    the fields of ``executors.ADDED_LATER`` existed (a new config field at its default must join them)."""
    spec = _spec(toy_file)
    assert executors.run_key(spec) == "f6a6e1beac"
    assert executors.run_key(spec) == executors.run_key(_chunk(spec, 0, 5))
    assert executors.run_key(spec) != executors.run_key(_chunk(spec, 1, 5))


def test_ray_without_the_extra_is_one_line_naming_it(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; sys.argv = ['enxs'] + sys.argv[1:]; "
            "from enxs.cli.main import run; run()")
    args = ["pretrain", "--preset", "smoke", "--executor", "ray", "--out", str(tmp_path / "x")]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert result.returncode != 0 and "enxs[ray]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_patience_is_refused_for_chunks(toy_file, tmp_path):
    with pytest.raises(executors.ExecutorError, match="patience"):
        executors.train_in_chunks(_spec(toy_file, "train.patience=2"), tmp_path / "p")


@pytest.mark.slow
def test_members_on_two_ray_workers_equal_the_in_process_run(toy_file, tmp_path):
    pytest.importorskip("ray")
    spec = _spec(toy_file)
    runs.execute(spec, tmp_path / "local")
    done = []
    executors.train_in_chunks(spec, tmp_path / "ray", workers=2,
                              on_event=lambda title, event, s: done.append(title) if event == "finished" else None)
    _same_weights(tmp_path / "local", tmp_path / "ray")
    assert len(done) == 2 and not (tmp_path / "ray" / executors.CHUNKS).exists()
    environment = artifacts.read_manifest(tmp_path / "ray").training["environment"]  # the chunks' own, alike
    assert environment["torch"] == torch.__version__ and environment["device"] == "cpu"


@pytest.mark.slow
def test_a_run_killed_mid_chunk_resumes_on_ray(archive_dir, tmp_path):
    pytest.importorskip("ray")
    out, args = tmp_path / "killed", ["--preset", "smoke", "--members", "4", "--epochs", "300",
                                      "--set", "train.checkpoint_every=5"]
    proc = subprocess.Popen([sys.executable, "-m", "enxs", "pretrain", *args, "--executor", "ray", "--workers", "2",
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 180
    checkpoints = []
    while time.time() < deadline and proc.poll() is None and not checkpoints:
        checkpoints = [c for c in (out / executors.CHUNKS).glob("*/checkpoint.json")
                       if json.loads(c.read_text())["epoch"] >= 10]
        time.sleep(0.05)
    assert checkpoints and proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray workers
    proc.wait()
    assert not (out / "manifest.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "enxs", "pretrain", "--resume", str(out), "--executor", "ray",
                              "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    local = subprocess.run([sys.executable, "-m", "enxs", "pretrain", *args, "--out", str(tmp_path / "local")],
                           capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr
    _same_weights(tmp_path / "local", out)
