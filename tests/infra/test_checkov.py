"""checkov's Terraform checks over infra/: none may fail; each skip is justified inline.

checkov runs once per module (it takes a few seconds); skipped when it is not installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from . import tfconfig

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::\s*(.*))?$")


def _checkov() -> str | None:
    beside_python = Path(sys.executable).with_name("checkov")
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("checkov")


@pytest.fixture(scope="module")
def checkov_reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    checkov = _checkov()
    if checkov is None:
        pytest.skip("checkov is not installed")
    home = tmp_path_factory.mktemp("checkov-home")
    env = {
        **os.environ,
        "HOME": str(home),  # checkov keeps a cache under the home directory
        "BC_SKIP_MAPPING": "TRUE",  # do not fetch the platform's guideline mappings
    }
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(tfconfig.INFRA_DIR),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr  # 1 = some check failed
    output = json.loads(result.stdout)
    return output if isinstance(output, list) else [output]


def test_checkov_finds_no_failed_check(checkov_reports: list[dict[str, Any]]) -> None:
    summaries = [report["summary"] for report in checkov_reports]
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
        for report in checkov_reports
        for check in report["results"].get("failed_checks", [])
    ]
    assert failed == []
    assert sum(s["parsing_errors"] for s in summaries) == 0
    # It looked at the stack: the buckets, functions and bindings all have checks.
    assert sum(s["passed"] for s in summaries) >= 15, summaries
    assert sum(s["resource_count"] for s in summaries) >= 30, summaries


def skip_comment_problems(texts: dict[Path, str]) -> list[str]:
    """Every inline skip names a check and gives a reason of at least a sentence."""
    problems = []
    for path, text in texts.items():
        for number, line in enumerate(text.splitlines(), start=1):
            if "checkov:skip" not in line:
                continue
            match = SKIP_COMMENT.search(line.strip())
            reason = (match.group(2) or "") if match else ""
            if not match or not re.fullmatch(r"CKV2?_[A-Z]+_\d+", match.group(1)):
                problems.append(f"{path.name}:{number}: skip without a check ID")
            elif len(reason.split()) < 8:
                problems.append(f"{path.name}:{number}: skip of {match.group(1)} without a reason")
    return problems


def _all_tf_texts() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for path in sorted(tfconfig.INFRA_DIR.rglob("*.tf"))
        if ".terraform" not in path.parts
    }


def test_every_skip_is_justified_inline() -> None:
    texts = _all_tf_texts()
    assert any("checkov:skip" in text for text in texts.values())
    assert skip_comment_problems(texts) == []


@pytest.mark.parametrize(
    "line",
    [
        "  # checkov:skip=CKV_GCP_62",
        "  # checkov:skip=CKV_GCP_62: not needed",
        "  # checkov:skip=: because the bucket is private anyway and logs exist",
    ],
)
def test_skip_check_catches_an_unjustified_skip(line: str) -> None:
    assert skip_comment_problems({Path("bad.tf"): f'resource "x" "y" {{\n{line}\n}}\n'})
