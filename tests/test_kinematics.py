import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enxs import kinematics as k

E, TH, W = 1.0, 60.0, 0.3  # GeV, deg, GeV: hand-computed values below
M = k.NUCLEON_MASS


def test_hand_computed_values():
    assert k.q2(E, TH, W) == pytest.approx(2 * 1.0 * 0.7 * 0.5)
    assert k.three_momentum_transfer(E, TH, W) == pytest.approx(math.sqrt(0.7 + 0.09))
    assert k.bjorken_x(E, TH, W) == pytest.approx(0.7 / (2 * M * 0.3))
    assert k.invariant_mass_squared(E, TH, W) == pytest.approx(M**2 + 2 * M * 0.3 - 0.7)
    # S = 1e9 α² cos(30°) / (4 E³ sin⁴(30°)) = 1e9 · 0.866025 / (137² · 4 · 0.0625)
    assert k.output_scale(E, TH) == pytest.approx(1e9 * 0.8660254 / (137**2 * 0.25), rel=1e-7)


def test_features_are_nuwro_scaling():
    f = k.network_features(2.0, 90.0, 0.5)
    assert f == pytest.approx([0.1, 0.025, 0.5, 0.0, 2 * 2.0 * 1.5 / 100], abs=1e-12)


def test_w_is_nan_below_threshold():
    assert np.isnan(k.invariant_mass(1.0, 60.0, 0.01))


physical = st.tuples(
    st.floats(0.05, 30.0), st.floats(0.01, 179.99), st.floats(0.001, 0.999)
).map(lambda t: (t[0], t[1], t[0] * t[2]))


@given(physical)
def test_properties(point):
    e, th, w = point
    q2 = k.q2(e, th, w)
    assert q2 >= 0
    assert k.three_momentum_transfer(e, th, w) >= w
    assert k.bjorken_x(e, th, w) == pytest.approx(q2 / (2 * M * w))
    assert k.invariant_mass_squared(e, th, w) == pytest.approx(M**2 + 2 * M * w - q2)
    assert k.output_scale(e, th) > 0
    assert k.is_physical(e, th, w)


@pytest.mark.parametrize(
    ("e", "th", "w", "what"),
    [(1.0, 0.0, 0.3, "θ"), (1.0, 180.0, 0.3, "θ"), (1.0, 60.0, 1.0, "ω must be <"),
     (1.0, 60.0, 1 - 1e-8, "E′ = E − ω must be ≥"), (1.0, 60.0, 0.0, "ω must be >"),
     (1.0, 60.0, float("nan"), "non-finite"), (-1.0, 60.0, 0.3, "E")],
)
def test_impossible_kinematics_are_refused(e, th, w, what):
    with pytest.raises(k.KinematicsError, match=what):
        k.check_kinematics([e], [th], [w])


def test_the_first_impossible_point_is_named_by_its_ordinal_or_its_row():
    with pytest.raises(k.KinematicsError, match=r"^input: .* \(point 2 of 3: E=1 GeV, θ=30°, ω=1.5 GeV\)$"):
        k.check_kinematics(1.0, 30.0, [0.5, 1.5, 2.0])
    with pytest.raises(k.KinematicsError, match=r"^p.csv:7: energy transfer ω must be < beam energy E \(E=1 GeV"):
        k.check_kinematics(1.0, 30.0, [0.5, 1.5], rows=["p.csv:4", "p.csv:7"])


def test_points_that_do_not_broadcast_are_empty_or_not_numbers_are_named():
    energy, omega = k.as_points(energy=1.0, omega=[0.1, 0.2])
    assert energy.tolist() == [1.0, 1.0] and omega.tolist() == [0.1, 0.2]
    with pytest.raises(k.KinematicsError, match=r"energy \(3,\), theta \(2,\), omega \(\): these shapes"):
        k.as_points(energy=[1, 2, 3], theta=[30, 40], omega=0.2)
    with pytest.raises(k.KinematicsError, match="no points: q, omega hold no value"):
        k.as_points(q=0.5, omega=[])
    with pytest.raises(k.KinematicsError, match="theta: not numbers"):
        k.as_points(energy=1.0, theta="x")
