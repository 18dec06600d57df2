import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import torch

from enxs import archive, artifacts, kinematics, onnx_io
from enxs.config import ModelConfig
from enxs.grid import Grid, build, interpolation_error
from enxs.network import EnsembleNet
from enxs.predict import Ensemble

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "kowal-c12-onnx"
SHIPPED = "enxs-12C-fast"


def _enxs(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "enxs", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def _features(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.2, 5.0, n)
    t = rng.uniform(10, 150, n)
    return kinematics.network_features(e, t, e * rng.uniform(0.02, 0.95, n)).astype(np.float32)


def _ort(path, x, output=None):
    return ort.InferenceSession(str(path)).run(output, {"input": x})[0][:, 0]


def test_exported_members_reproduce_enxs(tmp_path):
    # a model exercising every fold: standardized inputs, batch norm with statistics, A/12 factor
    torch.manual_seed(0)
    net = EnsembleNet(ModelConfig(depth=3, width=16, norm="batch", inputs="standardized"), 3)
    net.set_standardization(torch.as_tensor(_features()))
    net.train()
    net(torch.rand(3, 64, 5))  # non-trivial running statistics
    net.eval()
    net.output_factor.fill_(56 / 12)
    summary = onnx_io.export(net, {"Z": 26, "A": 56, "weights": {"sha256": "x"}}, tmp_path)
    assert summary["max_rel_diff_onnxruntime_vs_enxs"] <= 1e-5
    files = sorted((tmp_path / "Fe56").glob("model_electron_A_56_*.onnx"))
    assert len(files) == 3
    x = _features(seed=1)
    with torch.inference_mode():
        ref = net(torch.as_tensor(x)).numpy()
    for k, f in enumerate(files):
        assert np.max(np.abs(_ort(f, x) / ref[k] - 1)) <= 1e-5
    back, _ = onnx_io.import_members(tmp_path / "Fe56")
    with torch.inference_mode():
        assert np.allclose(back(torch.as_tensor(x)).numpy(), ref, rtol=1e-5, atol=0)
    assert float(back.output_factor) == pytest.approx(56 / 12)


def _logit_graph(path, tmp_path):
    """The peer member with its final Sigmoid removed: outputs z, not y."""
    proto = onnx.load(str(path))
    last = proto.graph.node[-1]
    assert last.op_type == "Sigmoid"
    z_name = last.input[0]
    proto.graph.node.remove(last)
    proto.graph.output[0].name = z_name
    out = tmp_path / f"logit-{path.name}"
    onnx.save(proto, str(out))
    return out


def test_imported_peer_reproduces_onnxruntime(tmp_path, archive_dir):
    model, paths = onnx_io.import_members(PEER)
    assert model.members == 5 and model.parameter_count() == 820_801
    table = archive.read_file(archive_dir / "12C.dat")[0]
    x = kinematics.network_features(table.E, table.theta, table.omega).astype(np.float32)
    with torch.inference_mode():
        z, y = model.logits(torch.as_tensor(x)).numpy(), model(torch.as_tensor(x)).numpy()
    for k, path in enumerate(paths):
        ort_z = _ort(_logit_graph(path, tmp_path), x)
        # |Δz| is the relative difference of y; float32 summation order differs between the
        # runtimes (measured 1.7e-5 at most on the carbon points for these 10×300 networks)
        assert np.max(np.abs(z[k] - ort_z)) < 5e-5
        # onnxruntime's Sigmoid kernel is approximate (< 1e-3 relative for y > 1e-4; onnx_io docstring)
        ort_y = _ort(path, x)
        m = ort_y > 1e-4
        assert np.max(np.abs(y[k][m] / ort_y[m] - 1)) < 1e-3


def test_import_cli_and_evaluate(tmp_path):
    result = _enxs("import", "onnx", PEER, "--out", tmp_path / "peer")
    assert result.returncode == 0, result.stderr
    ensemble = Ensemble.load(tmp_path / "peer")
    assert ensemble.nucleus == "12C" and ensemble.members == 5
    evaluated = _enxs("evaluate", tmp_path / "peer", "--nucleus", "12C", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert 0.02 < json.loads(evaluated.stdout)["all"]["median_abs_rel_dev"] < 0.06


def test_corrupt_onnx_is_refused(tmp_path):
    (tmp_path / "model_electron_A_12_0.onnx").write_bytes(b"not onnx")
    with pytest.raises(onnx_io.OnnxFormatError, match="not a readable ONNX"):
        onnx_io.import_members(tmp_path)
    with pytest.raises(onnx_io.OnnxFormatError, match="no model_electron"):
        onnx_io.import_members(tmp_path / "..")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_predict_writes_files(tmp_path, suffix):
    out = tmp_path / f"p{suffix}"
    result = _enxs("predict", SHIPPED, "--energy", 0.68, "--angle", 60, "--omega", "0.05:0.6:20", "--output", out)
    assert result.returncode == 0, result.stderr
    if suffix == ".csv":
        text = out.read_text()
        assert "# units:" in text and "nb/sr/GeV" in text and "# enxs_version" in text
        frame = pd.read_csv(out, comment="#")
    elif suffix == ".parquet":
        frame = pd.read_parquet(out)
    else:
        frame = pd.DataFrame(json.loads(out.read_text())["points"])
    assert len(frame) == 20 and (frame.mean_nb_sr_GeV > 0).all()
    assert (frame.q16_nb_sr_GeV <= frame.q84_nb_sr_GeV).all()


def test_python_api_matches_cli(tmp_path):
    out = tmp_path / "p.csv"
    _enxs("predict", SHIPPED, "--energy", 1.1, "--angle", 37.5, "--omega", "0.1,0.3", "--output", out)
    frame = pd.read_csv(out, comment="#")
    p = Ensemble.load(SHIPPED).predict(1.1, 37.5, [0.1, 0.3])
    assert np.allclose(frame.mean_nb_sr_GeV, p.mean, rtol=1e-6)
    assert list(p.to_frame().columns)[:4] == ["E_GeV", "theta_deg", "omega_GeV", "mean_nb_sr_GeV"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "no-such-model", "--energy", 1, "--angle", 30, "--omega", "0.1"], "unknown model"),
        (["predict", SHIPPED, "--energy", 1, "--angle", 0, "--omega", "0.1"], "θ must lie in (0, 180)"),
        (["predict", SHIPPED, "--energy", 0.5, "--angle", 60, "--omega", "0.6:0.7:3"], "ω must be < beam energy"),
        (["predict", SHIPPED, "--energy", 0.5, "--angle", 60, "--omega", "a:b"], "start:stop:count"),
        (["predict", SHIPPED, "--energy", 1, "--angle", 30, "--omega", "0.1", "--output", "x.txt"], ".csv, .parquet"),
    ],
)
def test_cli_bad_input(tmp_path, args, message):
    result = _enxs(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("E,theta,omega\n1.0,30,0.1\n1.0,thirty,0.2\n", "p.csv:3: column 'theta' is not a number"),
     ("E,angle\n1.0,30\n", "missing column 'omega'")],
)
def test_cli_bad_csv(tmp_path, content, message):
    (tmp_path / "p.csv").write_text(content)
    result = _enxs("predict", SHIPPED, "--input", tmp_path / "p.csv")
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_extrapolation_is_flagged(tmp_path):
    out = tmp_path / "p.csv"
    result = _enxs("predict", SHIPPED, "--energy", 15, "--angle", 170, "--omega", "1,2", "--output", out)
    assert result.returncode == 0 and "outside the kinematic coverage" in result.stderr
    assert (pd.read_csv(out, comment="#").outside_coverage == 1).all()


@pytest.mark.parametrize("scan", ["omega", "angle", "q2"])
def test_plots_render_without_display(tmp_path, scan):
    out = tmp_path / f"{scan}.png"
    args = ["plot", SHIPPED, "--energy", 0.68, "--output", out, "--scan", scan]
    args += ["--angle", 60, "--with-data"] if scan == "omega" else ["--omega", 0.3]
    result = _enxs(*args)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_grid_round_trip_and_accuracy(tmp_path, suffix):
    model, _ = artifacts.load_model(SHIPPED)
    grid = build(model, (0.3, 2.0), (20, 100), shape=(24, 41, 120))
    grid.save(tmp_path / f"g{suffix}")
    loaded = Grid.load(tmp_path / f"g{suffix}")
    err = interpolation_error(loaded, model, n=3000)
    assert err["median_rel_error"] < 0.3 * err["median_rel_spread"]
    mean, std = loaded(1.0, 50.0, 0.3)
    assert mean > 0 and std > 0
    assert np.all(np.isfinite(build(model, (0.1, 6.0), (5, 175), shape=(4, 6, 30)).log_mean))  # tails underflow
    assert np.isnan(loaded(10.0, 50.0, 0.3)[0])  # outside the grid: NaN, never extrapolated


def test_hepdata_export(tmp_path):
    pytest.importorskip("hepdata_lib")
    result = _enxs("export", "hepdata", SHIPPED, "--energy", 0.68, "--angle", 60, "--omega", "0.05:0.6:10",
                   "--out", tmp_path / "hd")
    assert result.returncode == 0, result.stderr
    assert any(p.suffix == ".yaml" for p in (tmp_path / "hd").rglob("*"))
