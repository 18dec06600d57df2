import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli_runner import enxs
from enxs import archive, artifacts, runs
from enxs.config import Finetune, Scratch, build_config, finetune_base, preset_config, scratch_baseline_base
from enxs.nuclei import UnknownNucleusError
from enxs.predict import member_predictions
from enxs.toy import make_toy_table

TOY = {"n_datasets": 3, "settings_per_dataset": 6, "points_per_setting": 30}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A toy carbon ensemble and a toy 16O related to it by a known transformation."""
    root = tmp_path_factory.mktemp("transfer")
    archive.write_file(make_toy_table(seed=11, **TOY), root / "12C.dat")
    archive.write_file(make_toy_table(seed=12, nucleus="16O", strength=16 / 12 * 1.25, shift=0.4, **TOY),
                       root / "16O.dat")
    cfg = build_config(preset_config("fast"), Scratch(), assignments=[
        "train.p2p_sys=0.0", "train.members=4", "train.epochs=300", "train.batch_size=64", "model.width=32",
        "model.norm=batch"])
    runs.execute(runs.RunSpec("12C", str(root / "12C.dat"), cfg), root / "c12")
    return root


def _finetune(toy, scenario, fraction, out, epochs=150):
    spec = runs.finetune_spec(str(toy / "c12"), "16O", scenario, fraction, data_file=toy / "16O.dat", epochs=epochs,
                              seed=3)
    return runs.execute(spec, out)


def test_last2_leaves_every_other_parameter_bit_identical(toy, tmp_path):
    _finetune(toy, "last2", 0.5, tmp_path / "l2", epochs=20)
    before = load_file(toy / "c12" / "weights.safetensors")
    after = load_file(tmp_path / "l2" / "weights.safetensors")
    depth = artifacts.read_manifest(toy / "c12").config.model.depth
    trained = (f"blocks.{depth - 2}.", f"blocks.{depth - 1}.", "head.")
    for name, tensor in before.items():
        if name == "output_factor":
            continue
        if name.startswith(trained):
            if not name.endswith(("running_mean", "running_var")):
                assert not torch.equal(tensor, after[name]), f"{name} did not train"
        else:
            assert torch.equal(tensor, after[name]), f"{name} changed"  # incl. frozen batch-norm statistics


def test_a_fine_tune_that_only_hurts_keeps_its_base(toy, tmp_path):
    spec = runs.finetune_spec(str(toy / "c12"), "16O", "all", 0.5, data_file=toy / "16O.dat", epochs=20, seed=3,
                              lr=30.0)  # steps this large only hurt: the starting weights stay the best on validation
    manifest = runs.execute(spec, tmp_path / "f")
    assert manifest.training["best_epoch"] == [0] * 4
    before, after = (load_file(d / "weights.safetensors") for d in (toy / "c12", tmp_path / "f"))
    assert all(torch.equal(t, after[name]) for name, t in before.items() if name != "output_factor")


def test_a_over_12_is_applied_exactly_once(toy, tmp_path):
    manifest = _finetune(toy, "all", 0.5, tmp_path / "f", epochs=1)
    weights = load_file(tmp_path / "f" / "weights.safetensors")
    assert float(weights["output_factor"]) == pytest.approx(16 / 12)
    assert manifest.parent["nuclei"] == ["12C"]
    parent, _ = artifacts.load_model(toy / "c12")
    stored = artifacts.read_manifest(tmp_path / "f").config
    start, _, _, _ = runs.build_model(runs.RunSpec("16O", str(toy / "16O.dat"), stored))
    omega = [0.2, 0.3, 0.4]
    assert np.allclose(member_predictions(start, 1.0, 40.0, omega),
                       member_predictions(parent, 1.0, 40.0, omega) * 16 / 12, rtol=1e-6)


def test_transfer_split_is_deterministic_disjoint_and_stored(toy, tmp_path):
    a = _finetune(toy, "all", 0.1, tmp_path / "a", epochs=1)
    b = _finetune(toy, "last2", 0.1, tmp_path / "b", epochs=1)
    assert a.split == b.split  # same seed and fraction: same points for every method
    train, test = set(a.split["16O"]["train_lines"]), set(a.split["16O"]["test_lines"])
    assert not train & test
    assert len(test) == round(0.9 * (len(train) + len(test)))
    assert a.metrics["test"]["n"] == len(test)


def test_fine_tuning_beats_training_from_scratch_on_few_points(toy, tmp_path):
    fine = _finetune(toy, "all", 0.1, tmp_path / "ft")
    parent = artifacts.read_manifest(toy / "c12").config
    cfg = build_config(scratch_baseline_base(parent, "fast"), Scratch(), train_fraction=0.1, epochs=150, seed=3)
    assert cfg.model == parent.model and cfg.split == fine.config.split
    scratch = runs.execute(runs.RunSpec("16O", str(toy / "16O.dat"), cfg), tmp_path / "s")
    assert fine.split == scratch.split
    ft, sc = fine.metrics["test"]["median_abs_rel_dev"], scratch.metrics["test"]["median_abs_rel_dev"]
    assert ft < 0.5 * sc, (ft, sc)


def test_unknown_nucleus_and_empty_data_are_clear_errors(toy, tmp_path):
    with pytest.raises(UnknownNucleusError):
        archive.find_nucleus_file("16Xx", toy)
    empty = tmp_path / "16O.dat"
    archive.write_file(make_toy_table(seed=1, nucleus="16O", n_datasets=1, settings_per_dataset=1,
                                      points_per_setting=3), empty)
    with pytest.raises(runs.RunError, match="only 3 point"):
        runs.execute(runs.finetune_spec(str(toy / "c12"), "16O", "all", 0.5, data_file=empty), tmp_path / "m")


def test_scaling_by_a_can_be_switched_off(toy, tmp_path):
    parent = artifacts.read_manifest(toy / "c12").config
    start = Finetune(parent=str(toy / "c12"))
    cfg = build_config(finetune_base(parent, "fast"), start, train_fraction=0.5, assignments=["start.scale_by_a=false"])
    model, _, _, _ = runs.build_model(runs.RunSpec("16O", str(toy / "16O.dat"), cfg))
    assert float(model.output_factor) == 1.0


def test_cli_refuses_a_malformed_norm_in_one_line(tmp_path):
    out = tmp_path / "fe"
    result = enxs("finetune", "--from", "enxs-12C-fast", "--nucleus", "56Fe",
                  "--norm", "Day:1993md", "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "LABEL=VALUE" in result.stderr
    assert not out.exists()


def test_a_one_nucleus_model_on_another_nucleus_is_compared_unscaled_only_with_a_warning(toy):
    from enxs.evaluation import evaluate_model

    with pytest.warns(UserWarning, match="describes 12C only: its cross sections are compared unscaled with 16O"):
        unscaled = evaluate_model(toy / "c12", data_file=toy / "16O.dat")
    scaled = evaluate_model(toy / "c12", data_file=toy / "16O.dat", scale_by_a=True)
    assert scaled["scale_factor"] == pytest.approx(16 / 12) and unscaled["scale_factor"] == 1.0
