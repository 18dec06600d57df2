import json
import warnings

import pytest
import torch

from enxs import artifacts
from enxs.config import PRESETS
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus


def _saved(tmp_path):
    cfg = PRESETS["smoke"]
    torch.manual_seed(0)
    model = EnsembleNet(cfg.model, 3)
    model.output_factor.fill_(4.5)
    manifest = artifacts.Manifest(kind="pretrain", nuclei=[Nucleus(6, 12)], config=cfg, members=3)
    artifacts.save_model(tmp_path / "m", model, manifest)
    return model, tmp_path / "m"


def test_round_trip_is_exact(tmp_path):
    model, path = _saved(tmp_path)
    loaded, manifest = artifacts.load_model(path)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert json.loads((path / "manifest.json").read_text())["schema_version"] == artifacts.SCHEMA_VERSION
    assert manifest.members == 3 and manifest.nucleus.name == "12C"


def test_corrupted_weights_are_refused(tmp_path):
    _, path = _saved(tmp_path)
    data = bytearray((path / "weights.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (path / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(artifacts.ModelFileError, match="checksum"):
        artifacts.load_model(path)


def test_other_schema_version_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ModelFileError, match="schema version 99"):
        artifacts.load_model(path)


def test_garbage_manifest_and_unknown_model(tmp_path):
    _, path = _saved(tmp_path)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(artifacts.ModelFileError, match="corrupt manifest"):
        artifacts.load_model(path)
    with pytest.raises(artifacts.ModelFileError, match="unknown model"):
        artifacts.resolve_model(tmp_path / "nowhere")


def test_mismatched_architecture_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["config"]["model"]["width"] = 32
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ModelFileError, match="do not match"):
        artifacts.load_model(path)


def test_shipped_manifest_of_schema_1_is_migrated(tmp_path):
    """A version-1 manifest (train.test_fraction, a transfer section, a machine path) loads as version 2."""
    _, path = _saved(tmp_path)
    d = json.loads((path / "manifest.json").read_text())
    config = d["config"]
    config["train"]["test_fraction"] = 0.1
    config.pop("split")
    config.pop("start")
    config["transfer"] = {"scenario": "all", "train_fraction": 0.7, "scale_by_a": True}
    d |= {"schema_version": 1, "data": {"file": "/home/someone/12C.dat", "name": "12C.dat", "sha256": "0" * 64},
          "member_seeds": [1, 2, 3], "epochs_run": 6}
    for key in ("training", "nuclei"):
        d.pop(key)
    (path / "manifest.json").write_text(json.dumps(d))
    manifest = artifacts.read_manifest(path)
    assert manifest.config.split.train_fraction == pytest.approx(0.9)
    assert manifest.config.start.kind == "scratch" and "file" not in manifest.data[0]
    assert manifest.nuclei == [Nucleus(6, 12)] and manifest.data[0]["nucleus"] == "12C"
    assert manifest.training == {"member_seeds": [1, 2, 3], "epochs_run": 6}


def test_changed_training_data_is_warned_about(tmp_path, monkeypatch):
    _, path = _saved(tmp_path)
    d = json.loads((path / "manifest.json").read_text())
    d["data"] = [{"nucleus": "12C", "name": "12C.dat", "size": 3, "sha256": "0" * 64}]
    (path / "manifest.json").write_text(json.dumps(d))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "12C.dat").write_text("other")
    monkeypatch.setenv("ENXS_DATA_DIR", str(data_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("error", artifacts.DataChangedWarning)
        _, manifest = artifacts.load_model(path)  # loading alone reads no data files
    with pytest.warns(artifacts.DataChangedWarning, match="differs from the 12C.dat"):
        artifacts.warn_if_data_changed(manifest, path)
