"""Inputs and outputs of infra/ and of its example: described, typed, units in names, validated;
provider versions bounded. The validations are run for real by `terraform plan` on a copy of
variables.tf alone, which needs no provider (skipped where terraform is not installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from . import tfconfig
from .tfconfig import Config

UNIT_SUFFIXES = ("_s", "_mb", "_bytes", "_days", "_minutes", "_count", "_instances")
# Words that name a quantity with a unit: a variable holding one must say which unit.
QUANTITY_WORDS = re.compile(r"timeout|memory|age|interval|retention|period|window|size|deadline")

MODULE_INPUTS_FROM_THE_ISSUE = {
    "project_id",
    "region",
    "bucket_name",
    "default_counter_id",
    "default_type",
    "input_prefix",
    "max_part_bytes",
    "worker_max_instances",
    "metrika_token_secret_version",
    "alert_notification_channels",
}

CONFIGS = {"module": tfconfig.INFRA_DIR, "example": tfconfig.EXAMPLE_DIR}


def _type_of(block: tfconfig.Block) -> str:
    return str(block.body.get("type", "")).removeprefix("${").removesuffix("}")


def description_problems(config: Config) -> list[str]:
    problems = []
    for kind in ("variable", "output"):
        for block in config.of_kind(kind):
            description = block.body.get("description")
            if not isinstance(description, str) or len(description.split()) < 3:
                problems.append(f"{block.address}: needs a description of a few words")
    return problems


def type_problems(config: Config) -> list[str]:
    problems = []
    for name, block in config.variables.items():
        type_ = _type_of(block)
        if not type_:
            problems.append(f"variable {name}: no type")
        elif re.search(r"\bany\b", type_):
            problems.append(f"variable {name}: type {type_} says nothing")
    return problems


def unit_problems(config: Config) -> list[str]:
    problems = []
    for name, block in config.variables.items():
        quantity = _type_of(block) == "number" or QUANTITY_WORDS.search(name)
        if quantity and not name.endswith(UNIT_SUFFIXES):
            problems.append(f"variable {name}: a quantity without its unit in its name")
    return problems


def _bounds(constraint: str) -> tuple[bool, bool]:
    parts = [part.strip() for part in constraint.split(",")]
    lower = any(
        re.match(r"^(>=|>|~>|=)?\s*\d", part) and not part.startswith("<") for part in parts
    )
    upper = any(part.startswith(("<", "~>")) or re.match(r"^=?\s*\d", part) for part in parts)
    return lower, upper


def version_problems(config: Config) -> list[str]:
    problems = []
    if not config.terraform:
        return [f"{config.directory.name}: no terraform block"]
    for block in config.terraform:
        required = block.get("required_version")
        if not isinstance(required, str) or _bounds(required) != (True, True):
            problems.append(f"required_version must have a lower and an upper bound: {required!r}")
        for providers in block.get("required_providers", []):
            for name, spec in providers.items():
                version = spec.get("version") if isinstance(spec, dict) else None
                if not isinstance(version, str) or _bounds(version) != (True, True):
                    problems.append(f"provider {name}: version must be bounded: {version!r}")
    return problems


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def config(request: pytest.FixtureRequest) -> Config:
    return tfconfig.load(CONFIGS[request.param])


def test_every_variable_and_output_is_described(config: Config) -> None:
    assert config.variables
    assert config.outputs
    assert description_problems(config) == []


def test_every_variable_is_typed(config: Config) -> None:
    assert type_problems(config) == []


def test_quantities_carry_their_unit_in_their_name(config: Config) -> None:
    assert unit_problems(config) == []


def test_provider_versions_are_bounded(config: Config) -> None:
    assert version_problems(config) == []
    providers = {
        name for block in config.terraform for p in block["required_providers"] for name in p
    }
    assert providers == {"google", "archive", "time"}


def test_example_requires_what_the_module_requires() -> None:
    module = tfconfig.load(tfconfig.INFRA_DIR).terraform[0]
    example = tfconfig.load(tfconfig.EXAMPLE_DIR).terraform[0]
    assert example == module


def test_module_has_the_inputs_the_issue_asks_for() -> None:
    variables = tfconfig.load().variables
    assert set(variables) >= MODULE_INPUTS_FROM_THE_ISSUE
    required = {name for name, block in variables.items() if "default" not in block.body}
    assert required == {"project_id", "region", "bucket_name", "metrika_token_secret_version"}


def test_example_sets_only_inputs_the_module_has() -> None:
    module = tfconfig.load(tfconfig.EXAMPLE_DIR).of_kind("module")[0]
    assert module.body["source"] == "../.."
    inputs = set(module.body) - {"source"}
    assert inputs <= set(tfconfig.load().variables)


# --- the checks catch the mistakes they are for -------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "check", "expected"),
    [
        ('variable "x" {\n type = string\n}\n', description_problems, "needs a description"),
        ('output "x" {\n value = 1\n description = ""\n}\n', description_problems, "x"),
        ('variable "x" {\n description = "a b c"\n}\n', type_problems, "no type"),
        ('variable "x" {\n type = map(any)\n}\n', type_problems, "says nothing"),
        ('variable "timeout" {\n type = number\n}\n', unit_problems, "unit"),
        ('variable "memory" {\n type = string\n}\n', unit_problems, "unit"),
        (
            'terraform {\n required_version = ">= 1.5"\n}\n',
            version_problems,
            "required_version",
        ),
        (
            'terraform {\n required_version = ">= 1.5, < 2.0"\n required_providers {\n'
            '  google = {\n   source = "hashicorp/google"\n   version = ">= 5.0"\n  }\n }\n}\n',
            version_problems,
            "provider google",
        ),
    ],
)
def test_checks_catch(snippet: str, check: Any, expected: str) -> None:
    problems = check(tfconfig.from_snippet(snippet))
    assert any(expected in problem for problem in problems), problems


# --- the validations, run by terraform ----------------------------------------------------------

VALID_INPUTS: dict[str, Any] = {
    "project_id": "my-analytics-project",
    "region": "europe-west1",
    "bucket_name": "my-analytics-project-metrika-offline",
    "metrika_token_secret_version": "1",
}


def _terraform() -> str:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed: the variable validations are not run")
    return terraform


def _plan(
    tmp_path: Path, variables_tf: Path, inputs: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """`terraform plan` of variables.tf alone with `inputs`: only the validations can fail."""
    workdir = tmp_path / "plan"
    workdir.mkdir(parents=True)
    shutil.copy(variables_tf, workdir / "variables.tf")
    (workdir / "inputs.tfvars.json").write_text(json.dumps(inputs), encoding="utf-8")
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text("", encoding="utf-8")
    # Inputs come from the file only: TF_VAR_* or TF_CLI_ARGS* set by the caller are dropped.
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_VAR_", "TF_CLI_ARGS"))
    }
    env = {
        **inherited,
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_DATA_DIR": str(tmp_path / "data"),
    }
    return subprocess.run(
        [_terraform(), "plan", "-input=false", "-no-color", "-var-file=inputs.tfvars.json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_valid_inputs_pass_the_validations(tmp_path: Path) -> None:
    result = _plan(tmp_path, tfconfig.INFRA_DIR / "variables.tf", VALID_INPUTS)
    assert result.returncode == 0, result.stderr


def test_accounts_and_notifications_pass_the_validations(tmp_path: Path) -> None:
    inputs = {
        **VALID_INPUTS,
        "metrika_accounts": {"agency_a": ["51234567"], "agency_b2": ["61234567", "61234568"]},
        "metrika_account_token_versions": {"agency_a": "1", "agency_b2": "3"},
        "notify_slack_webhook": True,
        "notify_telegram_chat_id": "-1001234567890",
        "notify_secret_versions": {"slack_webhook": "1", "telegram_bot_token": "2"},
    }
    result = _plan(tmp_path, tfconfig.INFRA_DIR / "variables.tf", inputs)
    assert result.returncode == 0, result.stderr


def test_example_tfvars_pass_the_example_and_module_validations(tmp_path: Path) -> None:
    values = tfconfig.parse((tfconfig.EXAMPLE_DIR / "terraform.tfvars.example").read_text())
    result = _plan(tmp_path, tfconfig.EXAMPLE_DIR / "variables.tf", values)
    assert result.returncode == 0, result.stderr
    module_inputs = {**VALID_INPUTS, **values}
    result = _plan(tmp_path / "module", tfconfig.INFRA_DIR / "variables.tf", module_inputs)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("metrika_token_secret_version", "latest"),
        ("metrika_token_secret_version", "0"),
        ("metrika_accounts", {"Agency": ["51234567"]}),
        ("metrika_accounts", {"agency-a": ["51234567"]}),
        ("metrika_accounts", {"agency_a": ["5123abc"]}),
        ("metrika_accounts", {"agency_a": []}),
        ("metrika_accounts", {"agency_a": ["51234567"], "agency_b": ["51234567"]}),
        ("metrika_account_token_versions", {"agency_a": "latest"}),
        ("notify_secret_versions", {"slack": "1"}),
        ("notify_secret_versions", {"webhook": "latest"}),
        ("notify_telegram_chat_id", "my chat"),
        ("alert_auto_close_s", 600),
        ("metrika_token_secret_version", "y0_AgAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("worker_max_instances", 101),
        ("worker_max_instances", 0),
        ("uploader_timeout_s", 601),
        ("upload_dispatches_per_s", 0),
        ("work_bucket_name", "Bad.Bucket"),
        ("worker_timeout_s", 541),
        ("default_type", "LEADS"),
        ("default_counter_id", "12ab"),
        ("max_part_bytes", 1_000_000_000),
        ("input_prefix", "incoming"),
        ("work_prefix", "/state/"),
        ("alert_notification_channels", ["1234567890"]),
        ("poll_interval_minutes", 7),
        ("poller_ingress_settings", "ALLOW_INTERNAL_AND_GCLB"),
        ("bucket_name", "Bad.Bucket"),
        ("project_id", "123456"),
        ("region", "europe-west1-b"),
        ("name_prefix", "a-name-prefix-that-is-too-long"),
    ],
)
def test_invalid_input_is_refused(tmp_path: Path, name: str, value: Any) -> None:
    result = _plan(tmp_path, tfconfig.INFRA_DIR / "variables.tf", {**VALID_INPUTS, name: value})
    assert result.returncode != 0
    assert "Invalid value for variable" in result.stderr, result.stderr
    assert f"var.{name}" in result.stderr, result.stderr
