"""A zero-shot nucleus of a structured model of several nuclei: each member's factor exp(s z_k)
(``enxs.zeroshot``), in σ, in the responses and in the traced ONNX, and nowhere else."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from enxs import kinematics, onnx_io, zeroshot
from enxs.descriptors import inputs
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, member_predictions
from enxs.responses import member_responses
from enxs.zeroshot import ZeroShot
from test_physics import structured_net

TRAINED = [Nucleus.parse(n) for n in ("4He", "12C", "27Al", "56Fe")]
ARGON, CARBON, LEAD, LITHIUM = (Nucleus.parse(n) for n in ("40Ar", "12C", "208Pb", "6Li"))


def test_width_is_zero_for_trained_nuclei_s0_inside_and_grows_outside():
    zs = ZeroShot(TRAINED, seed=0)
    assert zs.width(CARBON) == 0.0 and (zs.factors(CARBON, 7) == 1).all()
    assert zs.width(ARGON) == zeroshot.S0  # inside the range of A^(1/3)
    assert zs.width(LITHIUM) == zeroshot.S0_LIGHT > zeroshot.S0  # below carbon: the light nuclei's width
    assert zs.width(LEAD) == pytest.approx(zeroshot.S0 * (1 + 208 ** (1 / 3) - 56 ** (1 / 3)))
    beyond = ZeroShot(TRAINED[1:], seed=0)  # trained from carbon on: lithium lies below the range
    assert beyond.width(LITHIUM) == pytest.approx(zeroshot.S0_LIGHT * (1 + 12 ** (1 / 3) - 6 ** (1 / 3)))
    beyond.set_base_width(LITHIUM, 0.5)
    assert beyond.s0_light == 0.5 and beyond.s0 == zeroshot.S0


def test_member_draws_depend_on_the_seed_k_and_the_nucleus_and_the_band_is_exactly_s_wide():
    zs = ZeroShot(TRAINED, seed=3)
    for members in (10, 11, 50):
        factors = zs.factors(ARGON, members)
        assert factors.mean() == pytest.approx(1.0)  # the band widens, the mean stays
        z = np.log(factors)
        assert z.std(ddof=1) == pytest.approx(zeroshot.S0)  # whatever the draws
    z10, z50 = np.log(zs.factors(ARGON, 10)), np.log(zs.factors(ARGON, 50))[:10]
    assert np.corrcoef(z10, z50)[0, 1] == pytest.approx(1.0)  # the same draws, scaled by the ensemble's spread
    assert z10[::2] - z10[::2].mean() == pytest.approx(-(z10[1::2] - z10[1::2].mean()))  # pairs of opposite sign
    assert not np.allclose(zs.factors(ARGON, 10), ZeroShot(TRAINED, seed=4).factors(ARGON, 10))
    assert not np.allclose(zs.factors(ARGON, 10), zs.factors(Nucleus.parse("40Ca"), 10))


def test_calibrated_width_gives_one_sigma_coverage_averaged_over_nuclei():
    rng = np.random.default_rng(0)
    mean = np.full(20000, 10.0)
    residuals = []
    for offset in (0.9, 1.0, 1.1):  # three nuclei, each off by its own factor, members agreeing (spread 0)
        data = mean * offset * np.exp(0.05 * rng.standard_normal(mean.size))
        residuals.append(zeroshot.Residuals(data, mean, np.zeros_like(mean), np.full_like(mean, 0.01)))
    s0 = zeroshot.calibrate(residuals)
    assert np.mean([zeroshot.coverage(r, s0) for r in residuals]) == pytest.approx(zeroshot.ONE_SIGMA, abs=2e-3)
    assert 0.05 < s0 < 0.15
    farther = [r._replace(growth=2.0) for r in residuals]  # a band twice as wide needs half the s₀
    assert zeroshot.calibrate(farther) == pytest.approx(s0 / 2, rel=1e-6)
    assert zeroshot.calibrate([zeroshot.Residuals(mean, mean, np.ones_like(mean), np.ones_like(mean))]) == 0.0


def loaded_net(members=4):
    net = structured_net(members)
    net.zero_shot = ZeroShot(TRAINED, seed=0)
    return net


def test_sigma_and_responses_of_a_zero_shot_nucleus_carry_the_factor_and_trained_ones_do_not():
    net, plain = loaded_net(), structured_net(4)
    factors = net.zero_shot.factors(ARGON, 4)[:, None]
    e, th, w = np.array([1.0, 2.0]), np.array([30.0, 20.0]), np.array([0.2, 0.5])
    expected = member_predictions(plain, e, th, w, ARGON) * factors
    assert member_predictions(net, e, th, w, ARGON) == pytest.approx(expected)
    assert member_predictions(net, e, th, w, CARBON) == pytest.approx(member_predictions(plain, e, th, w, CARBON))
    q, omega = np.array([0.5, 0.8]), np.array([0.15, 0.3])
    assert member_responses(net, q, omega, ARGON) == pytest.approx(
        member_responses(plain, q, omega, ARGON) * factors[..., None])


def test_traced_onnx_of_a_zero_shot_nucleus_holds_each_members_factor(tmp_path):
    net = loaded_net(2)
    onnx_io.export(net, ARGON, tmp_path / "out")
    x = kinematics.network_features([1.0, 2.0], [30.0, 60.0], [0.2, 0.9]).astype(np.float32)
    features = torch.as_tensor(inputs("physics", [1.0, 2.0], [30.0, 60.0], [0.2, 0.9], ARGON), dtype=torch.float32)
    with torch.no_grad():
        y = net(features).numpy()  # [K, N], without the factor
    for k, factor in enumerate(net.zero_shot.factors(ARGON, 2)):
        session = ort.InferenceSession(str(tmp_path / "out" / "Ar40" / f"model_electron_A_40_{k}.onnx"),
                                       providers=["CPUExecutionProvider"])
        assert session.run(None, {"input": x})[0][:, 0] == pytest.approx(y[k] * factor, rel=1e-4)
        assert factor != pytest.approx(1.0)


def test_a_loaded_model_of_several_nuclei_knows_its_trained_nuclei_and_says_so():
    from enxs.predict import Ensemble

    many, carbon = Ensemble.load("enxs-any-fast"), Ensemble.load("enxs-12C-fast")
    assert CARBON in many.model.zero_shot.trained and many.model.zero_shot.width(ARGON) == zeroshot.S0
    assert carbon.model.zero_shot is None
    assert f"exp({zeroshot.S0:.3f} z_k) / m" in many.zero_shot_note(ARGON)


def test_the_any_nucleus_study_calibrates_each_targets_band_without_it():
    from enxs.anystudy import calibrated_widths

    rng = np.random.default_rng(1)
    mean = np.full(4000, 5.0)

    def nucleus(offset):
        data = mean * offset * np.exp(0.04 * rng.standard_normal(mean.size))
        return zeroshot.Residuals(data, mean, 0.02 * mean, 0.01 * mean)

    residuals = {"3He": nucleus(0.9), "4He": nucleus(1.25), "6Li": nucleus(0.7), "12C": nucleus(1.05),
                 "16O": nucleus(0.97), "27Al": nucleus(1.0)}
    widths = calibrated_widths(residuals)
    assert widths["12C"] == zeroshot.calibrate([residuals["16O"], residuals["27Al"]])
    assert widths["all"] == zeroshot.calibrate([residuals[n] for n in ("12C", "16O", "27Al")])
    assert widths["6Li"] == zeroshot.calibrate([residuals["3He"], residuals["4He"]])  # below carbon: the light nuclei
    assert widths["light"] == zeroshot.calibrate([residuals[n] for n in ("3He", "4He", "6Li")]) > widths["all"]
    assert calibrated_widths({**residuals, "12C": nucleus(2.0)})["12C"] == widths["12C"]  # never the target's own
    assert calibrated_widths({**residuals, "6Li": nucleus(2.0)})["6Li"] == widths["6Li"]
    assert calibrated_widths({"6Li": residuals["6Li"], "12C": residuals["12C"]})["6Li"] == zeroshot.S0_LIGHT  # too few


def test_the_zero_shot_note_says_where_the_band_is_not_calibrated():
    ensemble = Ensemble.load("enxs-any-fast")
    beryllium = ensemble.zero_shot_note(Nucleus.parse("9Be"))
    assert "below carbon" in beryllium and "3He, 4He, 6Li" in beryllium
    assert f"exp({zeroshot.S0_LIGHT:.3f} z_k)" in beryllium
    argon = ensemble.zero_shot_note(ARGON)
    assert "below carbon" not in argon and f"exp({zeroshot.S0:.3f} z_k)" in argon
    assert zeroshot.CALIBRATED_FROM_A == 12  # carbon, the lightest nucleus the band is calibrated on


def test_a_light_target_brings_the_other_light_nuclei_left_out_to_calibrate_its_band(archive_dir, tmp_path):
    import shutil

    from enxs.anystudy import light_partners
    from enxs.context import Context

    context = Context(archive_dir)
    assert light_partners(("6Li", "12C"), context) == ["3He", "4He"]  # each left out in turn beside lithium
    assert light_partners(("4He",), context) == ["3He", "6Li"]
    assert light_partners(("12C", "56Fe"), context) == []  # from carbon on: the study's targets calibrate each other
    for name in ("6Li", "4He", "12C"):
        shutil.copy(archive_dir / f"{name}.dat", tmp_path)
    assert light_partners(("6Li",), Context(tmp_path)) == ["4He"]  # only nuclei with data
