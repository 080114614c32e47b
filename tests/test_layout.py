"""The source folder is named platform/, but it must never shadow the standard library."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stdlib_platform_inside_pytest():
    import platform

    assert platform.system()
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_stdlib_platform_from_repo_root():
    out = subprocess.run(
        [sys.executable, "-c", "import platform, schedlab; print(platform.system())"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip()
