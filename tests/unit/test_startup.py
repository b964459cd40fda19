"""What a command costs to start: the imports a check of a small file pulls in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})} if env is not None else None,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_checking_a_small_file_imports_no_numpy_storage_client_or_http(tmp_path: Path) -> None:
    """numpy comes in past 500,000 rows or with the ledger; the rest only for other commands.
    (The `google` namespace itself is made at every interpreter's start by an installed
    package's .pth file.)"""
    csv = tmp_path / "calls.csv"
    csv.write_text("UserId,DateTime,PhoneNumber\nu1,1795636428,+79627130859\n")
    code = (
        "import json, sys\n"
        "from metrika_offline import cli\n"
        f"code = cli.main(['validate', '--type', 'CALLS', {str(csv)!r}])\n"
        "heavy = ('numpy', 'requests', 'functions_framework', 'google.cloud.storage', "
        "'google.auth')\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m in heavy)]))\n"
    )
    code_, heavy = json.loads(_run(code).splitlines()[-1])
    assert code_ == 0
    assert heavy == []


def test_numpy_blas_runs_one_thread_unless_the_environment_says_otherwise() -> None:
    show = "import os, metrika_offline; print(os.environ['OPENBLAS_NUM_THREADS'])"
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-c", show], env=clean, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1"
    assert _run(show, {"OPENBLAS_NUM_THREADS": "3"}).strip() == "3"
