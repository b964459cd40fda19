"""What Cloud Build installs stays in step with what the package declares."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def requirement_lines() -> list[str]:
    lines = (ROOT / "function/requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_match_the_declared_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(requirement_lines()) == sorted(project["dependencies"])


def test_the_function_imports_only_what_is_installed() -> None:
    """Every third-party import under function/ is a declared dependency (or the stdlib)."""
    provided = {
        "functions_framework",
        "google",
        "msgspec",
        "numpy",
        "phonenumbers",
        "requests",
        "requests_toolbelt",
        "tqdm",  # the CLI's progress bars
    }
    provided |= {"google_crc32c"}  # required by google-cloud-storage itself
    ours = {"metrika_offline"}
    found: set[str] = set()
    for path in (ROOT / "function").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    third_party = found - set(sys.stdlib_module_names) - ours - {"__future__"}
    assert third_party <= provided, third_party - provided
