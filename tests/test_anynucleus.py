"""One ensemble for several nuclei: descriptors, training on several files, predicting and
exporting any nucleus, fine-tuning from it."""

import json
import shutil
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file, save_file

from cli_runner import enxs
from enxs import kinematics, onnx_io, runs
from enxs.artifacts import NucleusChoiceError
from enxs.context import Context
from enxs.descriptors import describe, inputs, nucleus_factor, psi_prime
from enxs.files import sha256
from enxs.nuclei import Nucleus, UnknownNucleusError
from enxs.predict import Ensemble, ExtrapolationWarning, member_predictions
from enxs.training import Trainer
from enxs.transfer import without_own_parts


def test_descriptors_follow_the_table_and_the_rule():
    carbon, calcium, argon = (describe(Nucleus.parse(n)) for n in ("12C", "40Ca", "40Ar"))
    assert (carbon.k_fermi, carbon.e_shift, carbon.tabulated) == (0.221, 0.025, True)
    assert calcium.tabulated and not argon.tabulated  # same A, but only 40Ca is in Moniz's table
    oxygen = describe(Nucleus.parse("16O"))  # between 12C and 24Mg in A^{1/3}
    assert 0.221 < oxygen.k_fermi < 0.235 and not oxygen.tabulated
    assert describe(Nucleus.parse("238U")).k_fermi == 0.265  # above 208Pb: 208Pb's values


def test_psi_prime_is_zero_at_the_quasielastic_peak_and_one_at_the_fermi_edge():
    # Fermi gas: the peak sits where λ′ = τ′; the response ends where |ψ′| = 1
    energy, theta, kf, es = 1.0, 40.0, 0.221, 0.025
    omega = np.linspace(0.03, 0.6, 20001)
    psi = psi_prime(energy, theta, omega, kf, es)
    assert np.all(np.diff(psi) > 0)
    peak = omega[np.argmin(np.abs(psi))]
    q = kinematics.three_momentum_transfer(energy, theta, peak)
    m = kinematics.NUCLEON_MASS
    assert peak - es == pytest.approx(np.sqrt(q**2 + m**2) - m, abs=2e-3)  # ω′ = free-nucleon recoil
    assert psi[0] < -1 < 1 < psi[-1]


@pytest.fixture(scope="module")
def any_model(tmp_path_factory, archive_dir):
    out = tmp_path_factory.mktemp("any") / "m"
    spec = runs.pretrain_spec("12C,16O,56Fe", "smoke", context=Context(archive_dir), members=3, epochs=4)
    assert (spec.config.model.output, spec.config.model.nucleus_inputs) == ("superscaling", "physics")
    runs.execute(spec, out)
    return out


def test_several_nuclei_train_one_model_with_a_split_per_nucleus(any_model):
    manifest = json.loads((any_model / "manifest.json").read_text())
    assert manifest["nuclei"] == ["12C", "16O", "56Fe"] and manifest["nucleus"] is None
    assert set(manifest["split"]) == {"12C", "16O", "56Fe"}
    for name, split in manifest["split"].items():
        n = len(split["train_lines"]) + len(split["test_lines"])
        assert len(split["test_lines"]) == round((1 - 0.9) * n), name
    labels = manifest["lambda"]["labels"]
    assert "Day:1993md@12C" in labels and "Day:1993md@56Fe" in labels  # one λ per experiment and nucleus
    assert set(manifest["metrics"]["by_nucleus"]) == {"12C", "16O", "56Fe"}


def test_any_nucleus_is_predicted_and_flagged_outside_the_trained_range(any_model):
    ensemble = Ensemble.load(any_model)
    with pytest.raises(NucleusChoiceError, match="name the nucleus"):
        ensemble.predict(2.222, 15.541, 0.3)
    with pytest.raises(NucleusChoiceError, match="free nucleon"):
        ensemble.predict(2.222, 15.541, 0.3, nucleus="1H")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # argon lies inside the trained range of A, k_F
        argon = ensemble.predict(2.222, 15.541, np.linspace(0.05, 1.0, 20), nucleus="40Ar")
    assert np.all(np.isfinite(argon.mean)) and np.all(argon.std > 0)
    assert not ensemble.outside_trained_nuclei(Nucleus.parse("40Ar"))
    with pytest.warns(ExtrapolationWarning) as caught:
        lead = ensemble.predict(2.222, 15.541, 0.3, nucleus="208Pb")
    said = " ".join(str(w.message) for w in caught)
    assert "outside the range of A and k_F" in said and "zero-shot" in said
    assert lead.outside_coverage.all() and lead.zero_shot and argon.zero_shot
    argon_kf = describe(Nucleus.parse("40Ar")).k_fermi
    assert nucleus_factor("shape", Nucleus.parse("40Ar")) == pytest.approx(40 / 12)
    assert nucleus_factor("scaling", Nucleus.parse("40Ar")) == pytest.approx(40 / 12 * 0.221 / argon_kf)


def test_cli_asks_for_the_nucleus_and_exports_argon_for_nuwro(any_model, tmp_path):
    result = enxs("predict", any_model, "--energy", 2.222, "--angle", 15.541, "--omega", 0.3)
    assert result.returncode == 2 and "--nucleus" in result.stderr and "Traceback" not in result.stderr
    result = enxs("export", "onnx", any_model, "--nucleus", "40Ar", "--out", tmp_path / "nuwro")
    assert result.returncode == 0, result.stderr
    member = tmp_path / "nuwro" / "Ar40" / "model_electron_A_40_0.onnx"
    # NuWro's five inputs; σ = y·S(E, θ) must equal enxs's prediction for argon
    energy, theta, omega = kinematics.random_points(200, 5)
    x = kinematics.network_features(energy, theta, omega).astype(np.float32)
    y = ort.InferenceSession(str(member)).run(None, {"input": x})[0][:, 0]
    model = Ensemble.load(any_model).model  # argon is zero-shot: member 0's factor of enxs.zeroshot included
    expected = member_predictions(model, energy, theta, omega, Nucleus.parse("40Ar"))[0]
    assert np.allclose(y * kinematics.output_scale(energy, theta), expected, rtol=1e-4)
    assert model.zero_shot.factors(Nucleus.parse("40Ar"), model.members)[0] != pytest.approx(1.0)


def test_files_say_the_coulomb_correction(any_model, tmp_path):
    out = tmp_path / "fe.csv"
    result = enxs("predict", any_model, "--nucleus", "56Fe", "--energy", 0.5, "--angle", 60, "--omega", "0.1:0.3:3",
                  "--output", out)
    assert result.returncode == 0, result.stderr
    assert "effective-momentum approximation" in out.read_text() and "V = 9.02 MeV" in out.read_text()
    carbon = Ensemble.load("enxs-12C-fast").provenance(Nucleus.parse("12C"))
    assert carbon["coulomb_correction"].startswith("not modelled: the network is fit to measured cross sections")


def test_fine_tuning_from_the_any_nucleus_model_needs_no_a_factor(any_model, tmp_path, archive_dir):
    spec = runs.finetune_spec(str(any_model), "40Ca", "last2", 0.1, context=Context(archive_dir), epochs=2)
    assert spec.config.start.scale_by_a is False
    model, _, _, _ = runs.build_model(spec)
    assert float(model.output_factor) == 1.0
    manifest = runs.execute(spec, tmp_path / "ca")
    assert [n.name for n in manifest.nuclei] == ["40Ca"]
    assert manifest.config.model.nucleus_inputs == "physics"


def test_the_default_model_of_several_nuclei_and_the_other_recipes(archive_dir, tmp_path):
    def model_of(*assignments, **options):
        spec = runs.pretrain_spec("12C,16O", "smoke", context=Context(archive_dir), assignments=list(assignments),
                                  **options)
        return spec.config.model.output, spec.config.model.nucleus_inputs

    assert model_of() == ("superscaling", "physics")
    structured = runs.pretrain_spec("12C,16O", "smoke", context=Context(archive_dir),
                                    assignments=["model.pauli_blocking=true"])
    assert structured.config.model.pauli_blocking and structured.config.model.longitudinal_cut == 2.0
    (tmp_path / "c.json").write_text('{"model": {"output": "responses"}}')
    assert model_of(config_file=tmp_path / "c.json") == ("responses", runs.MULTI_NUCLEUS_INPUTS)
    spec = runs.pretrain_spec("12C,16O", "smoke", context=Context(archive_dir))
    assert spec.config.train.fluctuate_norm and spec.config.preset == "smoke" and spec.config.train.epochs == 6
    spec = runs.pretrain_spec("12C,16O", "smoke", context=Context(archive_dir), members=2,
                              assignments=["train.fluctuate_norm=false"])  # the user's options win
    assert not spec.config.train.fluctuate_norm and spec.config.train.members == 2
    assert model_of("model.nucleus_inputs=shape") == ("sigmoid", "shape")  # the σ-only recipe
    assert model_of("model.output=responses") == ("responses", runs.MULTI_NUCLEUS_INPUTS)
    assert model_of("model.output=sigmoid") == ("sigmoid", runs.MULTI_NUCLEUS_INPUTS)  # named: that network
    assert runs.pretrain_spec("12C", "smoke", context=Context(archive_dir)).config.model.output == "sigmoid"


def test_exclude_and_unknown_nuclei(archive_dir):
    assert "40Ca" not in runs.choose_nuclei("all", "40Ca,56Fe", Context(archive_dir))
    with pytest.raises(runs.RunError, match="--exclude 208Pb"):
        runs.choose_nuclei("12C,16O", "208Pb", Context(archive_dir))
    for nucleus, exclude, option in (("all", "99X", "--exclude"), ("12C,Xx12", None, "--nucleus")):
        with pytest.raises(UnknownNucleusError, match=f"^{option}: unknown nucleus"):
            runs.choose_nuclei(nucleus, exclude, Context(archive_dir))


@pytest.mark.parametrize("output", ["sigmoid", "responses"])
@pytest.mark.parametrize("mode", ["shape", "psi", "scaling"])
def test_onnx_export_of_every_nucleus_input_choice(mode, output, tmp_path):
    from enxs.config import ModelConfig
    from enxs.network import EnsembleNet

    torch.manual_seed(0)
    net = EnsembleNet(ModelConfig(depth=2, width=16, norm="batch", inputs="standardized", nucleus_inputs=mode,
                                  output=output), 2)
    energy, theta, omega = kinematics.random_points(500, 1)
    features = torch.as_tensor(inputs(mode, energy, theta, omega, Nucleus.parse("27Al")), dtype=torch.float32)
    net.set_standardization(features)
    net.train()
    net(features)  # batch norm with running statistics to fold
    net.eval()
    summary = onnx_io.export(net, Nucleus.parse("16O"), tmp_path)  # checked against enxs inside
    assert summary["max_rel_diff"] < 1e-4 and summary["members"] == 2
    if output == "responses":  # the (q, ω) → (R_L, R_T) graphs, ψ′ computed inside from q and ω
        responses = onnx_io.export(net, Nucleus.parse("16O"), tmp_path, responses=True)
        assert responses["max_rel_diff"] < 1e-4


def test_own_parts_are_trained_alone_after_the_universal_corrections(archive_dir):
    spec = runs.pretrain_spec("12C,16O", "smoke", context=Context(archive_dir), members=2, epochs=5,
                              assignments=["model.nucleus_prior=0.1"])
    assert spec.config.model.own_nuclei == "12C,16O"
    run, model = runs.prepare(spec), runs.build_model(spec)[0]
    trainer = Trainer(model, run.points, run.train_idx, spec.config)
    states = []
    trainer.fit(on_epoch=lambda report: states.append({k: v.clone() for k, v in model.state_dict().items()}))
    universal = [k for k in states[0] if not k.startswith("parts.")]
    assert trainer.own_from == 4 and all(float(s["parts.head"].abs().sum()) == 0 for s in states[:4])
    assert all(float(states[4][f"parts.{p}"].abs().sum()) > 0 for p in ("layers", "head", "longitudinal"))
    assert all(torch.equal(states[3][k], states[4][k]) for k in universal)


def test_a_model_written_before_the_layer_shifts_loads_as_it_was(any_model, tmp_path):
    """Own parts saved without ``parts.layers`` (enxs before they shifted the hidden layers) load with
    zero shifts: the model those files hold."""
    old = tmp_path / "old"
    shutil.copytree(any_model, old)
    state = load_file(old / "weights.safetensors")
    assert not state.pop("parts.layers").any()  # the smoke run trains too briefly for the own phase
    save_file(state, old / "weights.safetensors")
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["weights"]["sha256"] = sha256(old / "weights.safetensors")
    (old / "manifest.json").write_text(json.dumps(manifest))
    energy, theta, omega = 1.0, 37.5, np.linspace(0.05, 0.8, 20)
    new, before = Ensemble.load(any_model).model, Ensemble.load(old).model
    np.testing.assert_array_equal(member_predictions(before, energy, theta, omega, Nucleus.parse("12C")),
                                  member_predictions(new, energy, theta, omega, Nucleus.parse("12C")))


def test_a_fine_tuned_start_folds_the_targets_own_part_and_drops_the_others(any_model):
    model = Ensemble.load(any_model).model
    with torch.no_grad():
        for part in (model.parts.layers, model.parts.head, model.parts.longitudinal):
            part.normal_(0, 0.1)
    energy, theta, omega = np.full(40, 1.0), np.full(40, 37.5), np.linspace(0.05, 0.8, 40)
    for name in ("12C", "40Ca"):  # an own nucleus of the base, and one it was not trained on
        nucleus = Nucleus.parse(name)
        folded = without_own_parts(model, nucleus)
        assert folded.parts is None and folded.config.nucleus_prior == 0
        x = torch.as_tensor(inputs("physics", energy, theta, omega, nucleus), dtype=torch.float32)
        with torch.no_grad():
            torch.testing.assert_close(folded.eval()(x), model.eval()(x), rtol=2e-5, atol=0)


def test_the_response_section_shows_where_r_l_peaks_and_the_quasielastic_share_of_r_t(tmp_path):
    """The any-nucleus report's responses of the shipped model: per nucleus and q a row whose R_L and R_T^QE peak
    offsets and quasielastic share of R_T at ω_QE (``anystudy.quasielastic_share``) are in range; both figures
    written."""
    from enxs import anystudy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lines = anystudy.response_lines("enxs-any-fast", tmp_path)
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("| 12C |") or line.startswith("| 40Ar |")]
    assert len(rows) == 2 * len(anystudy.RESPONSE_Q)
    assert "R_T^QE/R_T at ω_QE" in "".join(lines)
    for cells in rows:
        assert abs(int(cells[2])) < 100 and abs(int(cells[4])) < 100
        assert 0.3 < float(cells[10]) < 1.0  # most of R_T quasielastic at the peak
    assert all((tmp_path / name).stat().st_size > 10_000 for name in anystudy.RESPONSE_FIGURES)
