"""The package surface: lazy torch-free imports, and the public names."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_images_and_errors_do_not_import_torch():
    code = (
        "import sys, nst_engine, nst_engine.images, nst_engine.errors\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert nst_engine.ImageError is nst_engine.errors.ImageError\n"
        "import nst_engine.transfer\n"
        "assert callable(nst_engine.stylize) and 'torch' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_public_names():
    import nst_engine

    for name in ("stylize", "Progress", "StylizeResult", "load_encoder", "Cancelled"):
        assert getattr(nst_engine, name) is not None
    with pytest.raises(AttributeError):
        _ = nst_engine.no_such_name
