"""`make mutate`: mutation testing of the modules listed under `[tool.mutmut]` in pyproject.toml.

The run happens in a staging copy, `.mutate/`: the package's folder is copied to `src/` there
(the mutation tool names modules after `src/`, `source/` or the top folder), the tests import
it from there, and the tool's config is the project's own with `function/` read as `src/`.
Then it prints killed / survived / other per module and writes `.mutate/summary.json`.

    make mutate                               # the modules in pyproject.toml
    MUTATE_ONLY=flow/record/machine.py make mutate             # one module
    MUTATE_ONLY=flow/record/machine.py MUTATE_TESTS=tests/unit/flow/record make mutate
                                              # ... against the tests of one folder only
    python -m tests.mutate --report           # summarise the last run again
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / ".mutate"
COPIED = ["tests", "README.md", "Makefile", "infra", "docs"]
KILLED = {"killed"}
SURVIVED = {"survived"}


def _tool() -> Path:
    return Path(sys.executable).with_name("mutmut")


def _stage_config(pyproject: str, only: list[str]) -> str:
    """The project's pyproject.toml, with the package imported from `src/` and mutated there."""
    text = pyproject.replace('pythonpath = ["function", "."]', 'pythonpath = ["src", "."]')
    text = re.sub(r'source_paths = \["function"\]', 'source_paths = ["src"]', text)
    start = text.index("only_mutate = [")
    end = text.index("]", start) + 1
    listed = ", ".join(json.dumps("src/" + path.removeprefix("function/")) for path in only)
    text = text[:start] + f"only_mutate = [{listed}]" + text[end:]
    if tests := os.environ.get("MUTATE_TESTS", "").split():
        # The tests the mutants run against, instead of the unit and integration folders.
        chosen = ", ".join(json.dumps(path) for path in tests)
        text = re.sub(
            r"pytest_add_cli_args_test_selection = \[[^\]]*\]",
            f"pytest_add_cli_args_test_selection = [{chosen}]",
            text,
        )
    return text


def stage(only: list[str]) -> None:
    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".hypothesis")
    shutil.copytree(ROOT / "function", STAGE / "src", ignore=ignore)
    # The tests read a few data files by their path under function/ (the result schema).
    shutil.copytree(ROOT / "function", STAGE / "function", ignore=ignore)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, STAGE / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, STAGE / name)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (STAGE / "pyproject.toml").write_text(_stage_config(pyproject, only), encoding="utf-8")


def summarise() -> dict[str, dict[str, int]]:
    """Per module: how many mutants each outcome had, from the tool's own result listing."""
    listing = subprocess.run(
        [str(_tool()), "results", "--all", "true"],
        cwd=STAGE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in listing.splitlines():
        name, _, outcome = line.strip().rpartition(": ")
        if not name or "__mutmut_" not in name:
            continue
        module = name.split(".x", 1)[0]
        per_module[module][outcome.strip()] += 1
    return {module: dict(counts) for module, counts in sorted(per_module.items())}


#: How a surviving mutant's change reads, first match wins: (kind, pattern over its diff lines).
KINDS = [
    ("log", re.compile(r"\blog\.(debug|info|warning|error|log)\(|\bextra=|log_context\(")),
    ("wording", re.compile(r'"XX|XX"|"[^"a-z]*[A-Z]{3,}[^"a-z]*"')),
]


def kind_of(diff: str) -> str:
    for kind, pattern in KINDS:
        if pattern.search(diff):
            return kind
    return "logic"


def survivors() -> list[tuple[str, str, str]]:
    """(mutant, its change in one line, kind) for every survivor of the last run."""
    listing = subprocess.run(
        [str(_tool()), "results"], cwd=STAGE, capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in listing.splitlines():
        name, _, outcome = line.strip().rpartition(": ")
        if outcome.strip() not in SURVIVED and outcome.strip() != "no tests":
            continue
        shown = subprocess.run(
            [str(_tool()), "show", name], cwd=STAGE, capture_output=True, text=True, check=False
        ).stdout
        changed = [row for row in shown.splitlines() if row.startswith(("- ", "+ "))]
        diff = "\n".join(changed)
        after = next((row[2:].strip() for row in changed if row.startswith("+ ")), "(removed)")
        found.append((name, after, "no tests" if outcome.strip() == "no tests" else kind_of(diff)))
    return found


def write_survivors(rows: list[tuple[str, str, str]]) -> Path:
    out = STAGE / "survivors.md"
    lines = ["| mutant | becomes | kind |", "|---|---|---|"]
    pipe = "\\|"
    lines += [f"| `{n}` | `{a[:90].replace('|', pipe)}` | {k} |" for n, a, k in rows]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    only: list[str] = config["tool"]["mutmut"]["only_mutate"]
    if "--report" in sys.argv:
        return report(0)
    if chosen := os.environ.get("MUTATE_ONLY"):
        only = [path for path in only if path.endswith(chosen)]
    stage(only)
    children = os.environ.get("MUTATE_CHILDREN", str(os.cpu_count() or 2))
    run = subprocess.run([str(_tool()), "run", "--max-children", children], cwd=STAGE, check=False)
    return report(run.returncode)


def report(returncode: int) -> int:
    """Per module: killed / survived / other (no tests, timeouts, not reached); the survivors."""
    summary = summarise()
    (STAGE / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    total: Counter[str] = Counter()
    print(f"\n{'module':<48} {'killed':>7} {'survived':>9} {'other':>6}")
    for module, counts in summary.items():
        killed = sum(n for k, n in counts.items() if k in KILLED)
        survived = sum(n for k, n in counts.items() if k in SURVIVED)
        other = sum(counts.values()) - killed - survived
        total.update(killed=killed, survived=survived, other=other)
        print(f"{module:<48} {killed:>7} {survived:>9} {other:>6}")
    print(f"{'all':<48} {total['killed']:>7} {total['survived']:>9} {total['other']:>6}")
    listed = write_survivors(survivors())
    print(f"\nsurvivors, with their change and kind: {listed.relative_to(ROOT)}")
    return returncode


if __name__ == "__main__":
    raise SystemExit(main())
