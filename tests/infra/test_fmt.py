"""`terraform fmt -check` over infra/, as `make lint` runs it (skipped without terraform)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from . import tfconfig


def _fmt_check(directory: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed: terraform fmt is not checked")
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text("", encoding="utf-8")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(cli_config)}
    return subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", "-no-color", str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_infra_is_formatted(tmp_path: Path) -> None:
    result = _fmt_check(tfconfig.INFRA_DIR, tmp_path)
    assert result.returncode == 0, f"run terraform fmt -recursive infra\n{result.stdout}"


def test_fmt_check_refuses_unformatted_files(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "main.tf").write_text('locals {\nx=1\n    yy = "2"\n}\n', encoding="utf-8")
    result = _fmt_check(sample, tmp_path)
    assert result.returncode != 0
    assert "main.tf" in result.stdout
