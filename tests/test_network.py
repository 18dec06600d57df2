import numpy as np
import pytest
import torch
from torch import nn

from enxs.config import ModelConfig
from enxs.network import EnsembleNet, StackedBatchNorm

CFG = ModelConfig(depth=3, width=8, norm="batch", inputs="standardized")


def _net(members=4, seed=0, config=CFG):
    torch.manual_seed(seed)
    return EnsembleNet(config, members)


def test_member_alone_equals_member_in_stack():
    net = _net()
    net.train()
    net(torch.rand(4, 16, 5))  # update the running statistics a little
    net.eval()
    x = torch.rand(32, 5)
    stacked = net(x)
    for k in range(4):
        alone = net.select([k])
        alone.eval()
        assert torch.equal(alone(x)[0], stacked[k])


@pytest.mark.parametrize("width, points", [(8, 16), (64, 4096)])
def test_member_alone_equals_in_training_mode(width, points):
    """Bit for bit, at sizes where the σ head's matrix-vector product rounds by the number of members."""
    net = _net(config=ModelConfig(depth=3, width=width, norm="batch", inputs="standardized"))
    x = torch.rand(4, points, 5)
    stacked = net(x)
    for k in range(4):
        assert torch.equal(net.select([k])(x[k : k + 1])[0], stacked[k])


def test_gradients_reach_every_member_independently():
    net = _net()
    x = torch.rand(4, 16, 5)
    y = net(x)
    y[2].sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        others = torch.cat([p.grad[k].flatten() for k in (0, 1, 3)])
        assert torch.all(others == 0), name
        assert torch.any(p.grad[2] != 0), name


def test_stacked_batchnorm_matches_torch_per_member():
    torch.manual_seed(1)
    ours = StackedBatchNorm(3, 6, momentum=0.01, eps=1e-5)
    x = torch.randn(3, 20, 6) * 3 + 1
    out = ours(x)
    for k in range(3):
        ref = nn.BatchNorm1d(6, momentum=0.01, eps=1e-5)
        expected = ref(x[k])
        assert torch.allclose(out[k], expected, atol=1e-5)
        assert torch.allclose(ours.running_mean[k, 0], ref.running_mean, atol=1e-6)
        assert torch.allclose(ours.running_var[k, 0], ref.running_var, atol=1e-6)


def test_paper_architecture_parameter_count():
    # The peer's ONNX members hold 820,801 parameters with batch norm folded into a Mul/Add
    # per block (2 × 300 each); here BatchNorm keeps its own scale and shift instead.
    net = EnsembleNet(ModelConfig(), 1)
    linear = 5 * 300 + 300 + 9 * (300 * 300 + 300) + 300 + 1
    assert net.parameter_count() == linear + 10 * 2 * 300 == 820_801


def test_log_output_matches_output_and_factor_scales_both():
    net = _net(config=ModelConfig(depth=2, width=8))
    net.eval()
    x = torch.rand(10, 5)
    y, log_y = net.forward_with_log(x)
    assert torch.allclose(torch.log(y), log_y, atol=1e-6)
    net.output_factor.fill_(56 / 12)
    y56, log_y56 = net.forward_with_log(x)
    assert torch.allclose(y56, y * 56 / 12) and torch.allclose(log_y56, log_y + torch.log(torch.tensor(56 / 12)))


def test_every_nucleus_view_is_a_config_choice_with_its_inputs_and_factor():
    from enxs.config import NUCLEUS_INPUTS
    from enxs.descriptors import VIEWS, inputs, nucleus_factor
    from enxs.nuclei import Nucleus

    assert tuple(VIEWS) == NUCLEUS_INPUTS
    iron = Nucleus.parse("56Fe")
    for name, view in VIEWS.items():
        features = inputs(name, [1.0, 2.0], [30.0, 40.0], [0.3, 0.5], None if name == "none" else iron)
        assert features.shape == (2, 5 + view.extra) and np.isfinite(features).all()
    assert nucleus_factor("shape", iron) == pytest.approx(56 / 12)
    assert nucleus_factor("scaling", iron) < nucleus_factor("psi", iron) == nucleus_factor("shape", iron)
    assert nucleus_factor("physics", iron) == 1.0


@pytest.mark.parametrize("output", ["sigmoid", "exp", "responses", "superscaling"])
def test_every_output_kind_is_a_config_choice_and_gives_finite_positive_y(output):
    from enxs.config import OUTPUTS
    from enxs.descriptors import inputs
    from enxs.nuclei import Nucleus
    from enxs.outputs import OUTPUTS as KINDS

    assert tuple(KINDS) == OUTPUTS
    several = output == "superscaling"
    config = ModelConfig(depth=2, width=8, norm="none", output=output, nucleus_inputs="physics" if several else "none")
    net = EnsembleNet(config, 3).eval()
    features = torch.as_tensor(inputs(config.nucleus_inputs, [1.0, 2.0], [30.0, 40.0], [0.3, 0.5],
                                      Nucleus.parse("12C") if several else None), dtype=torch.float32)
    y, log_y = net.forward_with_log(features)
    assert y.shape == (3, 2) and torch.isfinite(log_y).all() and (y > 0).all()
    torch.testing.assert_close(torch.log(y), log_y)
    if net.is_response:  # σ/S is the Rosenbluth sum of the responses it gives
        assert net.log_responses(features).shape == (3, 2, 2)
