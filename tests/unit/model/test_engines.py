"""The engine names import without torch (the params schema lists them)."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

from biomoe.model.engines import ENGINES, Engine


def test_engine_names() -> None:
    assert ENGINES == get_args(Engine) == ("eager", "fast", "threaded")


def test_engines_import_without_torch() -> None:
    code = "import sys, biomoe.model.engines; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
