"""Every change to a job is a named transition of `record/machine.py`: no stage writes one of
its own inline (a lambda or a local function handed to `jobs.update`, or a part replaced in
place outside the record)."""

from __future__ import annotations

import ast
from pathlib import Path

FLOW = Path(__file__).resolve().parents[3] / "function" / "metrika_offline" / "flow"


def _stages() -> list[Path]:
    return [p for p in sorted(FLOW.rglob("*.py")) if "record" not in p.relative_to(FLOW).parts]


def _inline_transitions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local_functions = {
        inner.name
        for outer in ast.walk(tree)
        if isinstance(outer, ast.FunctionDef)
        for inner in ast.walk(outer)
        if isinstance(inner, ast.FunctionDef) and inner is not outer
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        target = node.func.value
        on_jobs = isinstance(target, ast.Attribute) and target.attr == "jobs"
        on_jobs = on_jobs or (isinstance(target, ast.Name) and target.id == "jobs")
        if node.func.attr == "update" and on_jobs and len(node.args) == 3:
            change = node.args[2]
            if isinstance(change, ast.Lambda) or (
                isinstance(change, ast.Name) and change.id in local_functions
            ):
                found.append(f"{path.name}:{node.lineno}")
        if node.func.attr == "with_part":
            found.append(f"{path.name}:{node.lineno} (with_part)")
    return found


def test_no_stage_writes_a_job_transition_of_its_own() -> None:
    stages = _stages()
    assert len(stages) > 20  # the walk found the stages
    inline = [where for path in stages for where in _inline_transitions(path)]
    assert inline == []
