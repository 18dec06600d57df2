"""Response models (R_L, R_T with the Rosenbluth formula), enxs responses, the Rosenbluth
separation of a cross-section model, splits by setting, and their files."""

import csv
import warnings
from unittest import mock

import numpy as np
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_runner import enxs
from enxs import coverage, kinematics, onnx_io, rosenbluth, runs
from enxs.config import ModelConfig
from enxs.context import Context
from enxs.descriptors import inputs
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, ExtrapolationWarning
from enxs.responses import member_responses, predict_responses, rosenbluth_fit
from enxs.training import split_settings


@pytest.fixture(scope="module")
def response_model(tmp_path_factory, archive_dir):
    out = tmp_path_factory.mktemp("resp") / "m"
    spec = runs.pretrain_spec("12C", "smoke", context=Context(archive_dir), members=3, epochs=4,
                              assignments=["model.output=responses"])
    runs.execute(spec, out)
    return out


def test_rosenbluth_pieces_by_hand():
    energy, theta, omega = 1.2, 37.0, 0.3
    q = float(kinematics.three_momentum_transfer(energy, theta, omega))
    assert rosenbluth.beam_energy(q, omega, theta) == pytest.approx(energy, rel=1e-12)
    big_q2 = q * q - omega * omega
    half = np.radians(theta) / 2
    mott = 0.3893793721e6 * (1 / 137.035999084) ** 2 * np.cos(half) ** 2 / (4 * energy**2 * np.sin(half) ** 4)
    assert rosenbluth.mott(energy, theta) == pytest.approx(mott, rel=1e-12)
    sigma = mott * ((big_q2 / q**2) ** 2 * 2.0 + (big_q2 / (2 * q * q) + np.tan(half) ** 2) * 5.0)
    assert rosenbluth.cross_section(2.0, 5.0, energy, theta, omega) == pytest.approx(sigma, rel=1e-12)
    eps = rosenbluth.epsilon(q, omega, theta)  # v_L/v_T = 2ε Q²/q²
    assert rosenbluth.v_l(q, omega) / rosenbluth.v_t(q, omega, theta) == pytest.approx(2 * eps * big_q2 / q**2)
    # the network's weights σ_Mott v/S from the published inputs
    features = torch.as_tensor(kinematics.network_features(energy, theta, omega), dtype=torch.float64)[None]
    weights, q_net = rosenbluth.weights_over_scale(features)
    scale = float(kinematics.output_scale(energy, theta))
    assert float(q_net[0]) == pytest.approx(q, rel=1e-12)
    assert float(weights[0] @ torch.tensor([2.0, 5.0], dtype=torch.float64)) * scale == pytest.approx(sigma, rel=1e-12)


@pytest.mark.parametrize("mode", ["none", "shape", "psi"])
def test_sigma_of_a_response_network_lies_on_the_rosenbluth_line(mode):
    # the same (q, ω) at three angles: σ/σ_Mott = v_L R_L + v_T R_T with one R_L, R_T
    torch.manual_seed(0)
    net = EnsembleNet(ModelConfig(depth=2, width=16, norm="none", inputs="standardized", output="responses",
                                  nucleus_inputs=mode), 2).eval()
    nucleus = None if mode == "none" else Nucleus.parse("16O")
    q, omega = np.full(3, 0.5), np.full(3, 0.2)
    theta = np.array([20.0, 60.0, 140.0])
    energy = rosenbluth.beam_energy(q, omega, theta)
    r = member_responses(net, q, omega, nucleus)  # [K, 3, 2]
    assert np.all(r > 0) and np.allclose(r, r[:, :1])  # the same responses at every angle
    with torch.inference_mode():
        y = net(torch.as_tensor(inputs(mode, energy, theta, omega, nucleus), dtype=torch.float32)).double().numpy()
    factor = 1.0 if nucleus is None else 16 / 12
    sigma = y * kinematics.output_scale(energy, theta) * factor
    assert np.allclose(sigma, rosenbluth.cross_section(r[..., 0], r[..., 1], energy, theta, omega), rtol=2e-6)


def test_response_model_trains_predicts_and_reports_responses(response_model, tmp_path):
    ensemble = Ensemble.load(response_model)
    assert ensemble.model.is_response and ensemble.manifest.config.model.output == "responses"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        r = predict_responses(ensemble, 0.5, np.linspace(0.05, 0.45, 9))
    assert r.members.shape == (3, 9, 2) and np.all(r.std > 0)
    np.testing.assert_allclose(r.std, r.members.std(0, ddof=1))  # the sample standard deviation over members
    # CLI: the check's own question — predict at two angles equals the formula with the R's of enxs responses
    out = tmp_path / "r.csv"
    result = enxs("responses", response_model, "--q", 0.5, "--omega", "0.05:0.45:9", "--output", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(line for line in out.read_text().splitlines() if not line.startswith("#")))
    assert len(rows) == 9 and out.read_text().startswith("# written_by: enxs")
    for row in rows[::4]:
        w, r_l, r_t = (float(row[k]) for k in ("omega_GeV", "R_L_mean_per_GeV", "R_T_mean_per_GeV"))
        for theta in (30.0, 90.0):
            energy = float(rosenbluth.beam_energy(0.5, w, theta))
            sigma = enxs("predict", response_model, "--energy", f"{energy:.10f}", "--angle", theta, "--omega",
                         f"{w:.10f}", "--output", tmp_path / "p.csv", "--overwrite")
            assert sigma.returncode == 0, sigma.stderr
            lines = (tmp_path / "p.csv").read_text().splitlines()
            predicted = float(next(csv.DictReader(x for x in lines if not x.startswith("#")))["mean_nb_sr_GeV"])
            assert predicted == pytest.approx(float(rosenbluth.cross_section(r_l, r_t, energy, theta, w)), rel=1e-5)


def test_responses_cli_grid_and_errors(response_model, tmp_path):
    result = enxs("responses", response_model, "--q", "0.2,0.6", "--omega", "0.1:0.5:5")
    assert result.returncode == 0 and "left out" in result.stderr  # ω ≥ q dropped, and said
    result = enxs("responses", response_model, "--q", 0.3, "--omega", 0.5)
    assert result.returncode == 2 and "ω ≥ q" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "pts.csv"
    bad.write_text("q,omega\n0.5,0.6\n")
    result = enxs("responses", response_model, "--input", bad)
    assert result.returncode == 2 and "ω must be < q" in result.stderr
    user_file = tmp_path / "mine.csv"
    user_file.write_text("my notes\n")
    result = enxs("responses", response_model, "--q", 0.5, "--omega", 0.2, "--output", user_file)
    assert result.returncode == 2 and "give --overwrite" in result.stderr
    assert user_file.read_text() == "my notes\n"
    empty = tmp_path / "empty.csv"
    empty.write_text("q,omega\n")
    result = enxs("responses", response_model, "--input", empty)
    assert result.returncode == 2 and "no points" in result.stderr and "Traceback" not in result.stderr


def passing_settings(q, omega, settings) -> np.ndarray:
    """[N, S] mask: training setting s passes through point n (``coverage.passing_pairs``)."""
    passing = np.zeros((np.size(q), len(settings)), bool)
    passing[coverage.passing_pairs(q, omega, settings)] = True
    return passing


def test_coverage_needs_angles_with_a_lever_arm():
    # two settings through (q, ω) = (0.5, 0.2) at 30° and 120°: covered; one alone: not
    q, omega = 0.5, 0.2
    settings = [[float(rosenbluth.beam_energy(q, omega, t)), t, 0.05, 0.4] for t in (30.0, 120.0)]
    passing = passing_settings([q], [omega], settings)
    assert passing.all()
    eps = rosenbluth.epsilon(q, omega, np.array([30.0, 120.0]))
    assert eps[0] - eps[1] > 0.2
    assert not passing_settings([q], [0.45], settings).any()  # beyond the measured ω
    assert not passing_settings([0.8], [omega], settings).any()  # another q


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_passing_settings_are_found_as_by_brute_force(seed):
    """``passing_pairs`` looks only at the points near each setting's q over ω bins; against every (point, setting)
    pair tested directly: random settings and points, with points on settings' ω edges, on bin edges and above E."""
    rng = np.random.default_rng(seed)
    energy, theta = rng.uniform(0.2, 4.0, 30), rng.uniform(10, 150, 30)
    low = energy * rng.uniform(0.0, 0.8, 30)
    table = np.stack([energy, theta, low, low + energy * rng.uniform(0.0, 0.5, 30)], axis=1)
    omega = np.concatenate([rng.uniform(0.001, 4.0, 400), table[:, 2], table[:, 3], [0.01, 0.02, 0.5]])
    pick = rng.integers(0, 30, omega.size)  # q near a setting's own at that ω, or anywhere
    q = np.where(rng.random(omega.size) < 0.7,
                 kinematics.three_momentum_transfer(table[pick, 0], table[pick, 1], omega)
                 * rng.uniform(0.85, 1.15, omega.size), rng.uniform(0.01, 5.0, omega.size))
    q_at = kinematics.three_momentum_transfer(table[None, :, 0], table[None, :, 1], omega[:, None])
    brute = ((omega[:, None] >= table[:, 2]) & (omega[:, None] <= table[:, 3])
             & (omega[:, None] < table[:, 0]) & (np.abs(q_at / q[:, None] - 1) <= coverage.Q_TOLERANCE))
    assert brute.any() and np.array_equal(passing_settings(q, omega, table.tolist()), brute)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_cross_section_coverage_is_found_as_by_brute_force(seed):
    """``outside_coverage`` sorts the points by θ and tests blocks of them against the settings within reach;
    against every (point, setting) pair tested directly, with blocks of 7 points: random settings and points,
    points on settings' θ and ω edges, repeated θ."""
    rng = np.random.default_rng(seed)
    s = np.stack([rng.uniform(0.2, 4.0, 40), rng.choice(rng.uniform(5, 150, 12), 40), rng.uniform(0, 0.5, 40),
                  rng.uniform(0.5, 2.0, 40)], axis=1)
    pick = rng.integers(0, 40, 300)
    energy = s[pick, 0] * np.exp(rng.uniform(-0.4, 0.4, 300))
    theta = np.where(rng.random(300) < 0.3, s[pick, 1] + rng.choice([-10.0, 10.0, 0.0], 300),
                     s[pick, 1] + rng.uniform(-15, 15, 300))
    omega = np.where(rng.random(300) < 0.2, s[pick, 2], rng.uniform(0, 2.5, 300))
    near = ((np.abs(np.log(energy[:, None] / s[:, 0])) <= coverage.E_TOLERANCE_LOG)
            & (np.abs(theta[:, None] - s[:, 1]) <= coverage.THETA_TOLERANCE_DEG)
            & (omega[:, None] >= s[:, 2]) & (omega[:, None] <= s[:, 3] + coverage.OMEGA_MARGIN_OF_E * energy[:, None]))
    with mock.patch.object(coverage, "POINT_BLOCK", 7):
        outside = coverage.outside_coverage(energy, theta, omega, s.tolist())
    assert 0 < outside.sum() < len(outside)
    assert np.array_equal(outside, ~near.any(axis=1))


def test_rosenbluth_fit_recovers_known_responses():
    q, omega, theta = 0.6, 0.25, np.array([25.0, 50.0, 90.0, 135.0])
    energy = rosenbluth.beam_energy(q, omega, theta)
    truth = np.array([[3.0, 11.0], [4.0, 9.0]])  # two members
    sigma = np.stack([rosenbluth.cross_section(r_l, r_t, energy, theta, omega) for r_l, r_t in truth])
    assert np.allclose(rosenbluth_fit(sigma, q, omega, theta), truth, rtol=1e-9)


def test_a_cross_section_model_is_separated_only_where_defined():
    ensemble = Ensemble.load("enxs-12C-fast")
    with pytest.warns(ExtrapolationWarning):
        r = predict_responses(ensemble, 0.5, [0.02, 0.15])
    assert "Rosenbluth fit" in r.method
    assert r.outside_coverage[0] and np.isnan(r.mean[0]).all()  # below every measured spectrum: not defined
    assert not r.outside_coverage[1] and np.all(r.mean[1] > 0)


def test_split_by_setting_holds_out_whole_spectra():
    setting = np.repeat(np.arange(10), [5, 12, 3, 8, 20, 7, 9, 4, 6, 26])
    train, test = split_settings(setting, 0.8, seed=3)
    assert set(setting[train]).isdisjoint(setting[test])  # no spectrum on both sides
    assert len(test) >= round(0.2 * len(setting)) and len(train) + len(test) == len(setting)
    assert np.array_equal(split_settings(setting, 0.8, seed=3)[1], test)  # deterministic


def test_split_by_setting_in_a_run(tmp_path, archive_dir):
    spec = runs.pretrain_spec("12C", "smoke", context=Context(archive_dir), members=2, epochs=2,
                              assignments=["split.unit=setting"], train_fraction=0.8)
    manifest = runs.execute(spec, tmp_path / "m")
    from enxs import archive

    table = archive.read_file(archive.find_nucleus_file("12C", archive_dir))[0].set_index("line")
    split = manifest.split["12C"]
    key = lambda lines: set(zip(table.loc[lines].E, table.loc[lines].theta, strict=True))  # noqa: E731
    assert key(split["train_lines"]).isdisjoint(key(split["test_lines"]))


def test_response_model_onnx_both_forms(response_model, tmp_path):
    ensemble = Ensemble.load(response_model)
    nucleus = Nucleus.parse("12C")
    onnx_io.export(ensemble.model, nucleus, tmp_path)  # NuWro's σ interface, checked inside
    summary = onnx_io.export(ensemble.model, nucleus, tmp_path, responses=True)
    assert summary["check"]["reference"] == "enxs's float32 responses"  # what the response graphs are checked on
    q, omega = np.array([0.4, 0.7]), np.array([0.1, 0.3])
    session = ort.InferenceSession(str(tmp_path / "C12-responses" / "response_A_12_1.onnx"))
    r = session.run(None, {"input": np.stack([q, omega], 1).astype(np.float32)})[0]
    assert np.allclose(r, member_responses(ensemble.model, q, omega, nucleus)[1], rtol=1e-4)
    with pytest.raises(onnx_io.OnnxFormatError, match="needs a response model"):
        onnx_io.export(Ensemble.load("enxs-12C-fast").model, nucleus, tmp_path / "x", responses=True)


def test_tabulate_and_plot_responses(response_model, tmp_path):
    from enxs import grid

    result = enxs("tabulate", response_model, "--responses", "--out", tmp_path / "g.h5", "--shape", "6,8")
    assert result.returncode == 0, result.stderr
    arrays, meta = grid.load_arrays(tmp_path / "g.h5")
    assert arrays["R_T_mean"].shape == (6, 8) and "GeV^-1" in meta["units"]
    physical = arrays["q"][:, None] > arrays["omega"][None, :]
    assert np.all(arrays["R_L_q16"][physical] <= arrays["R_L_q84"][physical])
    assert np.isnan(arrays["R_L_mean"][~physical]).all()
    result = enxs("plot", response_model, "--responses", "--q", "0.4,0.8", "--output", tmp_path / "r.png")
    assert result.returncode == 0, result.stderr
    import matplotlib.pyplot as plt

    height, width = plt.imread(tmp_path / "r.png").shape[:2]
    assert width > 2 * height  # two panels side by side: R_L and R_T


def test_finetune_and_hepdata_take_a_response_model(response_model, tmp_path, archive_dir):
    spec = runs.finetune_spec(str(response_model), "16O", "last2", 0.7, context=Context(archive_dir), epochs=2)
    manifest = runs.execute(spec, tmp_path / "o16")
    assert manifest.config.model.output == "responses" and manifest.metrics["test"]["n"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        r = predict_responses(Ensemble.load(tmp_path / "o16"), 0.5, [0.2])
        parent = predict_responses(Ensemble.load(response_model), 0.5, [0.2])
    scaled = parent.members * 16 / 12  # where fine-tuning starts: the carbon members × A/12
    assert r.members.shape == scaled.shape and not np.allclose(r.members, scaled, rtol=1e-4)  # it trained
    result = enxs("export", "hepdata", response_model, "--energy", 0.68, "--angle", 60, "--omega", "0.1:0.5:5",
                  "--out", tmp_path / "hep")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hep" / "submission.tar.gz").is_file()


def test_model_b_samples_its_responses_like_its_cross_sections():
    torch.manual_seed(0)
    net = EnsembleNet(ModelConfig(depth=2, width=16, norm="none", output="responses", dropout=0.2, mc_samples=4), 1)
    r = member_responses(net, [0.5, 0.7], [0.2, 0.3], None)
    assert r.shape == (4, 2, 2) and np.all(r.std(0) > 0)
    assert np.array_equal(r, member_responses(net, [0.5, 0.7], [0.2, 0.3], None))  # seeded: repeatable


def test_fermi_gas_longitudinal_response_scales_to_three_quarters():
    # non-relativistic Fermi gas: R_L = Z G_Ep² (3M / 4 q k_F)(1 − y²/k_F²), y = M(ω − E_s)/q − q/2; its
    # scaling function is (3/4)(1 − ψ′²) once the relativistic G_L's factor q²/Q² (κ/2τ against M/q) is undone
    from enxs.descriptors import describe
    from enxs.superscaling import form_factors, scaling_function

    carbon = Nucleus.parse("12C")
    d, m, q = describe(carbon), kinematics.NUCLEON_MASS, 0.5
    omega = np.linspace(0.02, 0.3, 400)
    y = m * (omega - d.e_shift) / q - q / 2
    g_ep = form_factors(torch.as_tensor(q * q - omega**2))[0].numpy()
    r_l = 6 * g_ep**2 * 3 * m / (4 * q * d.k_fermi) * np.clip(1 - (y / d.k_fermi) ** 2, 0, None)
    psi, f = scaling_function(r_l, q, omega, carbon)
    f = f * q**2 / (q**2 - omega**2)
    assert f.max() == pytest.approx(0.75, rel=0.03)
    assert abs(psi[f.argmax()]) < 0.1 and psi[f > 0].min() == pytest.approx(-1, abs=0.05)  # the Fermi edge


def test_response_study_writes_its_report(tmp_path, archive_dir):
    from enxs import study

    [path] = study.reproduce("enxs-12C-fast", "smoke", tmp_path / "r", Context(archive_dir), members=2, targets=(),
                             any_targets=(), studies=("responses",))
    text = path.read_text()
    for heading in ("held-out whole spectra", "Superscaling", "for generators"):
        assert heading in text
    assert (tmp_path / "r" / "responses-scaling.png").is_file()


def test_the_python_api_names_no_submodule_so_that_each_name_stays_its_function():
    # importing enxs.<name> sets the package's attribute to the module: a lazy name equal to a submodule's
    # (enxs.responses was one) turned into the module after its first call
    import importlib.util

    import enxs

    assert [name for name in enxs._LAZY if importlib.util.find_spec(f"enxs.{name}")] == []
    assert set(enxs._LAZY) <= set(dir(enxs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = enxs.predict_responses("enxs-any-fast", 0.5, [0.1, 0.2], nucleus="12C")
        again = enxs.predict_responses("enxs-any-fast", 0.5, [0.1, 0.2], nucleus="12C")
    assert np.array_equal(first.mean, again.mean)


def test_a_structured_model_gives_the_quasielastic_part_of_r_t(tmp_path):
    """R_T = its quasielastic part + the inelastic term, member by member; the part is what the neutrino kernel takes
    (its share of R_T is ``modelscaling.scaling_members``'s); files and grids carry it, a response network has none."""
    from enxs import ccqe, grid, modelscaling, superscaling
    from enxs.descriptors import describe

    carbon, q, omega = Nucleus.parse("12C"), np.full(6, 0.5), np.linspace(0.05, 0.45, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = predict_responses("enxs-any-fast", q, omega, nucleus="12C")
        model = Ensemble.load("enxs-any-fast").model
        plain = member_responses(model, q, omega, carbon)
        d = describe(carbon)
        psi = superscaling.psi_prime(torch.as_tensor(q), torch.as_tensor(omega), d.k_fermi, d.e_shift)
        kernel = ccqe.Kernel(psi, torch.ones(6, dtype=torch.float64), torch.as_tensor(q), torch.as_tensor(omega))
        share = modelscaling.scaling_members(Ensemble.load("enxs-any-fast"), carbon, kernel, "LT")[1].numpy()
        arrays, meta = grid.build_responses(Ensemble.load("enxs-any-fast"), carbon, q=(0.2, 0.6), shape=(3, 4))
        network = predict_responses("enxs-12C-responses-fast", 0.5, [0.1])
    assert r.members == pytest.approx(plain, rel=1e-5, abs=0)  # R_T from its terms, as without them
    assert (r.transverse_qe > 0).all() and (r.transverse_qe < r.members[..., 1]).all()
    assert (r.transverse_qe / r.members[..., 1]).mean(0) == pytest.approx(share, rel=1e-4, abs=0)
    assert share[0] > 0.5 > share[-1]  # most of R_T below the peak, little far above it
    frame = r.to_frame()
    assert list(frame.columns[-5:]) == [f"R_T_QE_{s}_per_GeV" for s in ("mean", "std", "q16", "q84")] + [
        "outside_coverage"]
    assert arrays["R_T_QE_mean"].shape == (3, 4) and "R_T_QE" in meta
    physical = ~np.isnan(arrays["R_T_mean"])
    assert (arrays["R_T_QE_mean"][physical] <= arrays["R_T_mean"][physical]).all()
    out = tmp_path / "r.csv"
    result = enxs("responses", "enxs-any-fast", "--nucleus", "12C", "--q", 0.5, "--omega", "0.1,0.2", "--output", out)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "R_T_QE_mean_per_GeV" in text and "charged-current quasielastic neutrino" in text
    assert network.transverse_qe is None and "R_T_QE_mean_per_GeV" not in network.to_frame()


def test_responses_stay_finite_up_to_the_photon_point():
    """ω within rounding of q (a grid whose q and ω meet): E′ = E − ω is 0 in the network's float32 inputs at the
    evaluation angle, which the responses (Coulomb-free) do not need; they stay finite and ≥ 0."""
    q = np.array([1.3, 0.3, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = predict_responses("enxs-any-fast", q, q - np.array([2e-16, 1e-12, 1e-3]), nucleus="40Ar")
    assert np.isfinite(r.members).all() and (r.members >= 0).all()
    assert r.mean[1, 1] == pytest.approx(r.mean[2, 1], rel=0.5)  # R_T (photoabsorption-like) does not jump


def test_a_response_network_says_nothing_keeps_its_r_l_out_of_the_delta_region():
    """The shipped response network's R_L at q = 0.8 GeV peaks in the Δ region (the README's warning to generator
    teams), and its responses say so; the structured model's peaks at the quasielastic peak and says nothing of it."""
    from enxs.anystudy import quasielastic_peak

    omega = np.linspace(0.05, 0.75, 141)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = predict_responses("enxs-any-responses-fast", 0.8, omega, nucleus="12C")
        structured = predict_responses("enxs-any-fast", 0.8, omega, nucleus="12C")
    omega_qe = quasielastic_peak(0.8, Nucleus.parse("12C"))
    assert omega[network.mean[:, 0].argmax()] - omega_qe > 0.15 and "Δ region" in network.method
    assert abs(omega[structured.mean[:, 0].argmax()] - omega_qe) < 0.03 and "Δ" not in structured.method
