import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from enxs import archive, artifacts, runs
from enxs.artifacts import DataChangedWarning
from enxs.config import Scratch, build_config, preset_config
from enxs.evaluation import evaluate_model
from enxs.predict import Ensemble, ExtrapolationWarning
from enxs.toy import make_toy_table


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "12C.dat"
    archive.write_file(make_toy_table(seed=7, n_datasets=3, settings_per_dataset=5, points_per_setting=30), path)
    return path


def _spec(path, *sets, preset="fast"):
    cfg = build_config(preset_config(preset), Scratch(), assignments=["train.p2p_sys=0.0", *sets])
    return runs.RunSpec("12C", str(path), cfg)


def test_toy_truth_is_recovered_with_chi2_near_one(toy_file, tmp_path):
    spec = _spec(toy_file, "train.members=8", "train.epochs=250", "train.batch_size=64", "model.width=32")
    manifest = runs.execute(spec, tmp_path / "toy")
    test = manifest.metrics["test"]
    assert 0.6 < test["chi2_per_point"] < 1.6, test
    truth = make_toy_table(seed=7, n_datasets=3, settings_per_dataset=5, points_per_setting=30)
    with warnings.catch_warnings():  # test points below a setting's lowest training ω are flagged
        warnings.simplefilter("ignore", ExtrapolationWarning)
        mean = Ensemble.load(tmp_path / "toy").predict(truth.E, truth.theta, truth.omega).mean
    assert np.median(np.abs(mean / truth.sigma_true - 1)) < 0.02  # the data scatter by 3%
    # relative normalizations are identifiable (shared settings); the common scale is not
    lam_true = truth.groupby("dataset").lambda_true.first()
    fitted = manifest.metrics["train"]["lambda"]
    for a, b in (("Toy0:2026", "Toy2:2026"), ("Toy1:2026", "Toy2:2026")):
        assert fitted[a] / fitted[b] == pytest.approx(lam_true[a] / lam_true[b], abs=0.015)


def _interrupt_at(epoch):
    def hook(report):
        if report.epoch == epoch:
            raise KeyboardInterrupt
    return hook


STRUCTURED_SMOOTH = ("model.output=superscaling", "model.nucleus_inputs=physics", "model.transverse_smoothness=0.01")


@pytest.mark.parametrize("model", [(), STRUCTURED_SMOOTH], ids=["sigma", "structured-smooth"])
def test_resume_continues_bit_identically(toy_file, tmp_path, model):
    """The structured model's smoothness prior draws its virtual points from a stream that is checkpointed too."""
    sets = ("train.members=3", "train.epochs=12", "train.checkpoint_every=4", "train.eval_every=2", "model.width=16",
            *model)
    runs.execute(_spec(toy_file, *sets), tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        runs.execute(_spec(toy_file, *sets), tmp_path / "cut", on_epoch=_interrupt_at(6))
    assert not (tmp_path / "cut" / "manifest.json").exists()  # nothing half-written
    assert json.loads((tmp_path / "cut" / "checkpoint.json").read_text())["epoch"] == 4
    runs.execute(runs.resume_spec(tmp_path / "cut"), tmp_path / "cut", resume=True)
    full = load_file(tmp_path / "full" / "weights.safetensors")
    cut = load_file(tmp_path / "cut" / "weights.safetensors")
    for name in full:
        assert torch.equal(full[name], cut[name]), name
    assert not (tmp_path / "cut" / "checkpoint.safetensors").exists()


def test_a_kill_between_a_checkpoints_two_files_leaves_one_whole_checkpoint(tmp_path):
    """A SIGKILL after the tensors are renamed into place and before checkpoint.json: the
    checkpoint carries its own metadata, so what is resumed is the new one, consistent."""
    out = tmp_path / "run"
    artifacts.save_checkpoint(out, {"w": torch.zeros(3)}, {"epoch": 4})
    stale = (out / artifacts.CHECKPOINT_META).read_text()
    artifacts.save_checkpoint(out, {"w": torch.ones(3)}, {"epoch": 8, "history": [0.1 + 0.2]})
    (out / artifacts.CHECKPOINT_META).write_text(stale)  # the kill fell between the two renames
    tensors, meta = artifacts.load_checkpoint(out)
    assert meta == {"epoch": 8, "history": [0.1 + 0.2]} and torch.equal(tensors["w"], torch.ones(3))
    (out / artifacts.CHECKPOINT_META).unlink()  # killed before the very first checkpoint.json
    assert artifacts.has_checkpoint(out) and artifacts.checkpoint_meta(out)["epoch"] == 8
    data = bytearray((out / artifacts.CHECKPOINT).read_bytes())
    data[-1] ^= 0x40  # one flipped bit in the last tensor's bytes
    (out / artifacts.CHECKPOINT).write_bytes(bytes(data))
    with pytest.raises(artifacts.ModelFileError, match="checksum mismatch"):
        artifacts.load_checkpoint(out)


@pytest.mark.slow
def test_kill_9_loses_at_most_one_checkpoint_interval(archive_dir, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "enxs", "pretrain", "--preset", "smoke", "--epochs", "400",
           "--set", "train.checkpoint_every=5", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = out / "checkpoint.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if meta.exists() and json.loads(meta.read_text())["epoch"] >= 10:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = json.loads(meta.read_text())["epoch"]
    assert saved >= 10 and not (out / "manifest.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "enxs", "pretrain", "--resume", str(out)],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["epochs_run"] == 400
    assert not (out / "checkpoint.json").exists() and not (out / "checkpoint.safetensors").exists()


def test_resume_refuses_changed_data(toy_file, tmp_path):
    data = tmp_path / "12C.dat"
    data.write_text(toy_file.read_text())
    sets = ("train.members=2", "train.epochs=8", "train.checkpoint_every=2", "model.width=8")
    with pytest.raises(KeyboardInterrupt):
        runs.execute(_spec(data, *sets), tmp_path / "cut", on_epoch=_interrupt_at(3))
    data.write_text("\n".join(toy_file.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(runs.RunError, match="changed since this run started"):
        runs.execute(runs.resume_spec(tmp_path / "cut"), tmp_path / "cut", resume=True)


def test_splits_are_deterministic_disjoint_and_stored(toy_file, tmp_path):
    spec = _spec(toy_file, "train.members=2", "train.epochs=2", "model.width=8")
    m1 = runs.execute(spec, tmp_path / "a")
    m2 = runs.execute(spec, tmp_path / "b")
    assert m1.split == m2.split
    train, test = set(m1.split["12C"]["train_lines"]), set(m1.split["12C"]["test_lines"])
    assert not train & test and len(test) == round(0.1 * (len(train) + len(test)))


def test_evaluate_refuses_changed_data(toy_file, tmp_path):
    spec = _spec(toy_file, "train.members=2", "train.epochs=2", "model.width=8")
    runs.execute(spec, tmp_path / "m")
    changed = tmp_path / "data"
    changed.mkdir()
    text = toy_file.read_text().splitlines()
    (changed / "12C.dat").write_text("\n".join(text[:-1]) + "\n")
    with pytest.raises(archive.ArchiveError, match=r"not the data this model was trained on.*with --nucleus 12C"):
        evaluate_model(tmp_path / "m", data_dir=changed)
    with pytest.warns(DataChangedWarning, match="metrics on all its points only"):
        result = evaluate_model(tmp_path / "m", nucleus="12C", data_dir=changed)  # what the message points to
    assert result["all"]["n"] > 0 and "test" not in result
    assert "test" in evaluate_model(tmp_path / "m", nucleus="12C", data_dir=toy_file.parent)  # the same file: split
    with pytest.raises(archive.ArchiveError, match="missing, the 12C data this model was trained on: give the data"):
        evaluate_model(tmp_path / "m", data_dir=tmp_path)


def test_existing_output_is_refused(toy_file, tmp_path):
    spec = _spec(toy_file, "train.members=2", "train.epochs=2", "model.width=8")
    runs.execute(spec, tmp_path / "m")
    with pytest.raises(runs.RunError, match="already holds"):
        runs.execute(spec, tmp_path / "m")


def test_too_few_points_is_a_clear_error(tmp_path):
    table = make_toy_table(seed=1, n_datasets=1, settings_per_dataset=1, points_per_setting=5)
    archive.write_file(table, tmp_path / "12C.dat")
    with pytest.raises(runs.RunError, match="only 5 point"):
        runs.execute(_spec(tmp_path / "12C.dat"), tmp_path / "m")
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_unknown_config_keys_are_errors():
    from enxs.config import ConfigError

    with pytest.raises(ConfigError, match="unknown key"):
        build_config(preset_config("fast"), Scratch(), assignments=["train.learning_rate=1"])
    for item, message in (("train.lr=fast", "train.lr must be a finite number, got 'fast'"),
                          ("train.lr=NaN", "train.lr must be a finite number, got nan"),
                          ("train.members=2.5", "train.members must be a whole number, got 2.5"),
                          ("train.weight_decay=-1", "train.weight_decay=-1: must be ≥ 0"),
                          ("train.seed=-1", "train.seed=-1: must be ≥ 0"),
                          ("selection.omega_min=-0.1", "selection.omega_min=-0.1: must be ≥ 0 GeV"),
                          ("selection.exclude_datasets=\"Day\"", "selection.exclude_datasets must be a list of texts"),
                          ("selection.physical=1", "selection.physical must be true or false, got 1")):
        with pytest.raises(ConfigError, match=re.escape(message)):  # one line, never a traceback
            build_config(preset_config("fast"), Scratch(), assignments=[item])
    assert build_config(preset_config("fast"), Scratch(), assignments=["train.members=3.0"]).train.members == 3
    assert np.isclose(build_config(preset_config("fast"), Scratch(), assignments=["train.lr=0.01"]).train.lr, 0.01)
    with pytest.raises(ConfigError, match=r"^train.batch_size=1: must be ≥ 2$"):  # the value that is wrong, named
        build_config(preset_config("fast"), Scratch(), assignments=["train.batch_size=1"])


def test_model_b_mc_dropout_gives_a_spread_from_one_network(toy_file, tmp_path):
    spec = _spec(toy_file, "train.members=1", "train.epochs=20", "model.width=16", "model.dropout=0.05",
                 "model.mc_samples=30")
    runs.execute(spec, tmp_path / "b")
    ensemble = Ensemble.load(tmp_path / "b")
    table = archive.read_file(toy_file)[0].iloc[:20]
    warnings.simplefilter("ignore", ExtrapolationWarning)  # held-out points below a setting's lowest ω
    p = ensemble.predict(table.E, table.theta, table.omega)
    assert p.members.shape == (30, 20) and np.all(p.std > 0)
    again = ensemble.predict(table.E, table.theta, table.omega)
    assert np.array_equal(p.members, again.members)  # seeded: reproducible


def test_mc_samples_need_dropout():
    from enxs.config import ConfigError

    with pytest.raises(ConfigError, match=r"needs model\.dropout"):
        build_config(preset_config("fast"), Scratch(), assignments=["model.mc_samples=10"])


def test_stored_lambda_is_each_members_fitted_one(toy_file, tmp_path):
    """λ_k per member in the manifest equals the closed-form optimum of that member's final
    weights on its own replica, recomputed here from the saved model."""
    from enxs.training import PointSet, member_data

    spec = _spec(toy_file, "train.members=3", "train.epochs=30", "model.width=16")
    manifest = runs.execute(spec, tmp_path / "lam")
    model = Ensemble.load(tmp_path / "lam").model.eval()
    table = manifest.config.selection.apply(archive.read_file(toy_file)[0])
    table = table.assign(nucleus="12C")
    points = PointSet.from_table(table, p2p_sys=manifest.config.train.p2p_sys)
    pool = np.flatnonzero(table.line.isin(manifest.split["12C"]["train_lines"]).to_numpy())
    train_rows, _, replicas = member_data(points, pool, manifest.config.train, manifest.training["member_seeds"])
    with torch.no_grad():
        f = (model(points.features) * points.scale).numpy().astype(np.float64)
    sigma, err, data = (t.numpy().astype(np.float64) for t in (replicas, points.error, points.dataset))
    prior = 1 / points.norm_unc.numpy().astype(np.float64) ** 2
    for k, rows in enumerate(train_rows.numpy()):
        w = 1 / err[rows] ** 2
        fs = np.bincount(data[rows].astype(int), f[k, rows] * sigma[k, rows] * w, minlength=len(prior))
        ff = np.bincount(data[rows].astype(int), f[k, rows] ** 2 * w, minlength=len(prior))
        np.testing.assert_allclose(manifest.lam["per_member"][k], (fs + prior) / (ff + prior), rtol=2e-4)


def test_member_k_does_not_depend_on_the_number_of_members(toy_file, tmp_path):
    weights = []
    for k in (2, 3):
        runs.execute(_spec(toy_file, f"train.members={k}", "train.epochs=20", "model.width=16"), tmp_path / f"k{k}")
        weights.append(load_file(str(tmp_path / f"k{k}" / "weights.safetensors")))
    two, three = weights
    for name, tensor in two.items():
        if tensor.dim() and tensor.shape[0] == 2:
            torch.testing.assert_close(tensor, three[name][:2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("setting", "check"), [
    ("train.patience=1", lambda m: m.training["epochs_run"] < 200),
    ("train.lambda_in_training=true", lambda m: m.config.train.lambda_in_training),
    ("train.lr_schedule=constant", lambda m: m.config.train.lr_schedule == "constant"),
    ("train.weight_decay=0.01", lambda m: m.config.train.weight_decay == 0.01),
    ("train.fluctuate_norm=true", lambda m: m.config.train.fluctuate_norm),
])
def test_each_training_option_runs_and_is_recorded(toy_file, tmp_path, setting, check):
    spec = _spec(toy_file, setting, "train.members=2", "train.epochs=200", "train.eval_every=1", "model.width=8")
    manifest = runs.execute(spec, tmp_path / "run")
    assert check(manifest) and np.isfinite(manifest.metrics["test"]["chi2_per_point"])


@pytest.mark.gpu
def test_training_on_cuda_matches_the_cpu_run(toy_file, tmp_path):
    sets = ("train.members=2", "train.epochs=20", "model.width=16")
    cpu = runs.execute(_spec(toy_file, *sets), tmp_path / "cpu")
    spec = _spec(toy_file, *sets)
    spec.device = "cuda"
    gpu = runs.execute(spec, tmp_path / "gpu")
    assert gpu.metrics["test"]["median_abs_rel_dev"] == pytest.approx(cpu.metrics["test"]["median_abs_rel_dev"],
                                                                    rel=0.05)


def test_the_manifest_records_what_the_numbers_may_depend_on_beyond_the_seeds(toy_file, tmp_path):
    spec = _spec(toy_file, "train.members=2", "train.epochs=2", "model.width=8")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        manifest = runs.execute(spec, tmp_path / "m")
    finally:
        torch.set_num_threads(before)
    assert manifest.training["environment"] == {"torch": torch.__version__, "device": "cpu", "cpu_threads": 1}
    assert artifacts.read_manifest(tmp_path / "m").training["environment"]["cpu_threads"] == 1
