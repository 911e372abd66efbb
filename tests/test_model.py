import pytest
import torch

from crnn.config import PRESETS, ModelConfig
from crnn.errors import UserError
from crnn.model import CRNN, build_model, check_time_steps, feature_shape


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_forward_shape_backward_every_parameter(preset):
    cfg = PRESETS[preset].model
    model = build_model(cfg, num_classes=63, height=40, width=150, max_label_len=5)
    x = torch.rand(3, 1, 40, 150)
    out = model(x)
    t = 18 if not cfg.input_height else feature_shape(cfg, 40, 150)[1]  # 150 / 8 = 18 time steps, as in the reference
    assert out.shape == (t, 3, 63)  # (T, B, K)
    assert torch.isfinite(out).all()
    assert torch.allclose(out.exp().sum(-1), torch.ones(t, 3), atol=1e-5)  # log-probs
    targets = torch.randint(1, 63, (3, 5))
    torch.nn.functional.ctc_loss(out, targets, torch.full((3,), t), torch.full((3,), 5)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_blank_bias_sets_the_blank_logit():
    model = CRNN(ModelConfig(blank_bias=-20.0), 63, 40, 150)
    assert model.head.bias[0].item() == -20.0
    assert torch.all(model.head.bias[1:] == 0)


def test_time_steps_follow_width_and_pools():
    assert feature_shape(ModelConfig(), 40, 150) == (5, 18)
    assert feature_shape(ModelConfig(pools=("2x2", "2x2", "2x1")), 40, 150) == (5, 37)


def test_too_few_time_steps_are_refused():
    cfg = ModelConfig(channels=(8, 8, 8, 8, 8), pools=("2x2",) * 5)  # 150 / 32 = 4 steps
    with pytest.raises(UserError, match=r"T=4 time steps.*need T >= 9"):
        check_time_steps(cfg, 40, 150, 5)
    with pytest.raises(UserError, match="pool away"):
        check_time_steps(ModelConfig(channels=(8,) * 6, pools=("2x2",) * 6), 40, 150, 5)


def test_input_height_resizes_inside_the_model_so_any_image_size_shares_the_weights():
    cfg = ModelConfig(channels=(8, 16, 16), hidden=16, input_height=32)
    wide = build_model(cfg, 37, height=75, width=200, max_label_len=5)  # read at 32x85: T = 10
    square = build_model(cfg, 37, height=144, width=256, max_label_len=4)  # read at 32x57: T = 7
    assert wide(torch.rand(2, 1, 75, 200)).shape == (10, 2, 37)
    assert square(torch.rand(2, 1, 144, 256)).shape == (7, 2, 37)
    assert {k: v.shape for k, v in wide.state_dict().items()} == {k: v.shape for k, v in square.state_dict().items()}
    assert feature_shape(cfg, 75, 200) == (4, 10)
    with pytest.raises(UserError, match=r"larger model\.input_height"):
        check_time_steps(ModelConfig(input_height=16), 144, 256, 8)  # read at 16x28: T = 3 < 15


def test_input_height_is_in_the_onnx_graph(tmp_path):
    import numpy as np
    import onnxruntime as ort

    model = build_model(ModelConfig(channels=(8, 16, 16), hidden=16, input_height=32), 11, 75, 200, 5).eval()
    x = torch.rand(3, 1, 75, 200)
    torch.onnx.export(model, (x,), str(tmp_path / "m.onnx"), dynamo=False, input_names=["images"], opset_version=17)
    onnx_lp = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"images": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(onnx_lp - model(x).numpy()).max() < 1e-4


def test_crop_cuts_the_margins_inside_the_model_before_it_resizes():
    cfg = ModelConfig(channels=(8, 16, 16), hidden=16, crop=(40, 40, 0, 8), input_height=32)
    cropped = build_model(cfg, 11, 144, 256, 4).eval()  # reads the 248x64 band, resized to 124x32: T = 15
    plain = build_model(ModelConfig(channels=(8, 16, 16), hidden=16, input_height=32), 11, 64, 248, 4).eval()
    plain.load_state_dict(cropped.state_dict())  # the same weights: the crop adds no parameter
    x = torch.rand(2, 1, 144, 256)
    with torch.no_grad():
        assert torch.equal(cropped(x), plain(x[:, :, 40:104, 0:248]))
        x[:, :, :40], x[:, :, 104:], x[:, :, :, 248:] = 0.0, 1.0, 0.5  # what the margins hold changes nothing
        assert torch.equal(cropped(x), plain(x[:, :, 40:104, 0:248]))
    assert feature_shape(cfg, 144, 256) == (4, 15)
    with pytest.raises(UserError, match=r"model\.crop \[70, 70, 0, 0\]: leaves 256x4 of the 256x144 images"):
        check_time_steps(ModelConfig(crop=(70, 70, 0, 0)), 144, 256, 4)
    for bad in ((1, 2, 3), (0, -1, 0, 0)):
        with pytest.raises(ValueError, match=r"model\.crop .*four pixel counts >= 0 \(top, bottom, left, right\)"):
            ModelConfig(crop=bad)


def test_crop_is_in_the_onnx_graph(tmp_path):
    import numpy as np
    import onnxruntime as ort

    model = build_model(ModelConfig(channels=(8, 16, 16), hidden=16, crop=(10, 5, 3, 0)), 11, 75, 200, 5).eval()
    x = torch.rand(3, 1, 75, 200)
    torch.onnx.export(model, (x,), str(tmp_path / "m.onnx"), dynamo=False, input_names=["images"], opset_version=17)
    onnx_lp = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"images": x.numpy()})[0]
    with torch.no_grad():
        assert onnx_lp.shape == tuple(model(x).shape) == (24, 3, 11)  # 197 wide / 8 = 24 time steps
        assert np.abs(onnx_lp - model(x).numpy()).max() < 1e-4


def test_each_conv_block_computes_the_reports_conv_norm_relu_pool():
    # the blocks pool before their ReLU (cheaper); the function must stay the report's conv -> BN -> ReLU -> pool
    cfg = ModelConfig(channels=(8, 16), pools=("2x2", "2x1"))
    model = CRNN(cfg, num_classes=11, height=32, width=64).eval()
    x = torch.randn(3, 1, 32, 64)  # (B, C, H, W), normalised input with negative values too
    ref = x
    for b in range(len(cfg.channels)):
        conv, norm = model.cnn[4 * b], model.cnn[4 * b + 1]
        pool = next(m for m in model.cnn[4 * b : 4 * b + 4] if isinstance(m, torch.nn.MaxPool2d))
        with torch.no_grad():
            norm.running_mean.uniform_(-1, 1)  # some channels mostly negative before the ReLU
        ref = pool(torch.relu(norm(conv(ref))))
    with torch.no_grad():
        assert torch.allclose(model.cnn(x), ref, atol=1e-6)
