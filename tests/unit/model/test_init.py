"""The torch-free parts of ``biomoe.model`` import without torch (the params schema needs them)."""

from __future__ import annotations

import subprocess
import sys


def test_package_and_its_facts_import_without_torch() -> None:
    code = (
        "import sys, biomoe.model, biomoe.model.spec, biomoe.model.engines; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
