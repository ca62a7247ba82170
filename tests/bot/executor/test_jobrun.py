"""`run_job` with the real engine: uploads are stored as sent, so orientation is applied here."""

from __future__ import annotations

import io

from PIL import Image

from bot.executor.jobrun import EngineOptions, JobInput, run_job
from bot.store import JobParams
from tests import badimages


def test_rotated_phone_jpeg_gives_an_upright_result():
    # Pixels stored landscape (96×64), EXIF orientation 6: the photo is portrait.
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    badimages.photo((96, 64)).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    style = badimages.png(badimages.photo((64, 64)))
    job = JobInput(1, buf.getvalue(), [(style, 1.0)], JobParams(size=64, preset="fast"))

    out = run_job(job, EngineOptions(device="cpu", preview_every=0))

    assert out.kind == "succeeded", out.error_message
    assert out.height == 64 and out.width < out.height  # 64 px long side, portrait
    assert out.png is not None and Image.open(io.BytesIO(out.png)).size == (out.width, 64)
