"""Every class of awkward upload decodes to RGB or fails with its own readable reason."""

import io

import pytest
from PIL import Image

from nst_engine.errors import ImageError
from nst_engine.images import decode_image, encode_jpeg, encode_png, fit_within
from tests import badimages


@pytest.mark.parametrize(
    "name", [n for n, (_, code) in badimages.CORPUS.items() if code is not None]
)
def test_bad_inputs_get_specific_reasons(name):
    data, code = badimages.CORPUS[name]
    with pytest.raises(ImageError) as info:
        decode_image(data)
    assert info.value.code == code
    assert len(info.value.message) > 15  # a sentence for the user, not a bare code


@pytest.mark.parametrize("name", [n for n, (_, code) in badimages.CORPUS.items() if code is None])
def test_awkward_but_valid_inputs_become_rgb(name):
    data, _ = badimages.CORPUS[name]
    img = decode_image(data)
    assert img.mode == "RGB"
    assert min(img.size) >= 16


def test_animated_gif_gives_first_frame():
    img = decode_image(badimages.animated_gif())
    r, g, b = img.getpixel((10, 10))
    assert r > 200 and g < 50 and b < 50  # the red first frame


def test_sixteen_bit_png_keeps_its_gradient():
    img = decode_image(badimages.png16())
    lo, hi = img.convert("L").getextrema()
    assert hi - lo > 100  # scaled to 8 bits, not clipped flat


def test_transparency_is_composited_on_white():
    img = decode_image(badimages.rgba_png())
    assert all(channel > 120 for channel in img.getpixel((1, 1)))


def test_pixel_cap_is_checked_before_decoding():
    data = badimages.png(badimages.photo((400, 300)))
    with pytest.raises(ImageError) as info:
        decode_image(data, max_pixels=100_000)
    assert info.value.code == "too_many_pixels"
    assert "400×300" in info.value.message


def test_byte_cap():
    with pytest.raises(ImageError) as info:
        decode_image(b"\x89PNG" + b"\x00" * 5000, max_bytes=1000)
    assert info.value.code == "too_large_bytes"


def test_exif_orientation_is_applied():
    img = badimages.photo((64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert decode_image(buf.getvalue()).size == (32, 64)


def test_real_photo_and_round_trips(fixture_images):
    data = (fixture_images / "tubingen.jpg").read_bytes()
    img = decode_image(data)
    assert img.mode == "RGB" and max(img.size) == 256
    assert Image.open(io.BytesIO(encode_png(img))).size == img.size
    preview = Image.open(io.BytesIO(encode_jpeg(img, max_side=100)))
    assert preview.format == "JPEG" and max(preview.size) == 100
    assert preview.size[0] / preview.size[1] == pytest.approx(img.size[0] / img.size[1], rel=0.03)


def test_fit_within_never_upscales():
    img = badimages.photo((50, 40))
    assert fit_within(img, 100) is img
    assert fit_within(img, 25).size == (25, 20)
