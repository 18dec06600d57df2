import json

import pytest
import torch

from enxs import artifacts
from enxs.config import PRESETS
from enxs.network import EnsembleNet


def _saved(tmp_path):
    cfg = PRESETS["smoke"]
    torch.manual_seed(0)
    model = EnsembleNet(cfg.model, 3)
    model.output_factor.fill_(4.5)
    manifest = {"kind": "pretrain", "nucleus": "12C", "Z": 6, "A": 12, "config": cfg.to_dict()}
    artifacts.save_model(tmp_path / "m", model, manifest)
    return model, tmp_path / "m"


def test_round_trip_is_exact(tmp_path):
    model, path = _saved(tmp_path)
    loaded, manifest = artifacts.load_model(path)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert manifest["schema_version"] == artifacts.SCHEMA_VERSION
    assert manifest["architecture"]["members"] == 3


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
