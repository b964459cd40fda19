"""What makes one `terraform apply` (after the secrets step) go through on a fresh project, and
alerts that fire again: the functions built as the stack's own build account with the least
roles a build needs, waits where Google documents propagation delays, alert conditions that
close when failures stop, and examples that apply as shipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import tfconfig
from .tfconfig import Block, Config, first, reference

FUNCTIONS = ("worker", "poller")
BUILD_MEMBER = "serviceAccount:${google_service_account.build.email}"


@pytest.fixture(scope="module")
def config() -> Config:
    return tfconfig.load()


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, f"a duration in seconds, not {duration!r}"
    return int(match.group(1))


# --- the build account --------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_are_built_as_the_stacks_build_account(config: Config, name: str) -> None:
    build = first(config.resource("google_cloudfunctions2_function", name).body, "build_config")
    # The full resource name (projects/P/serviceAccounts/EMAIL) is what the API takes.
    assert reference(build["service_account"]) == "google_service_account.build.id"
    assert reference(build["docker_repository"]) == "local.function_build_repository"
    assert config.locals["function_build_repository"] == (
        "${google_artifact_registry_repository.functions.id}"
    )


def test_build_account_is_its_own(config: Config) -> None:
    accounts = {b.name: b.body for b in config.resources("google_service_account")}
    assert set(accounts) == {"runtime", "trigger", "scheduler", "build", "tasks_invoker"}
    assert accounts["build"]["account_id"] == "${var.name_prefix}-build"


def _grants_of(config: Config, member: str) -> set[tuple[str, str, str | None]]:
    return {
        (b.type, b.body["role"], reference(b.body.get("repository") or b.body.get("project")))
        for b in config.resources()
        if b.type.endswith("_iam_member") and b.body.get("member") == member
    }


def test_build_account_has_the_least_roles_a_build_needs(config: Config) -> None:
    assert _grants_of(config, BUILD_MEMBER) == {
        # write the build's logs: grantable on the project only
        ("google_project_iam_member", "roles/logging.logWriter", "var.project_id"),
        # fetch the source copy: conditioned to that one bucket (test_iam_and_secret)
        ("google_project_iam_member", "roles/storage.objectViewer", "var.project_id"),
        # push the images: on the stack's repository only
        (
            "google_artifact_registry_repository_iam_member",
            "roles/artifactregistry.writer",
            "google_artifact_registry_repository.functions.name",
        ),
    }


def test_no_account_gets_a_broad_build_role(config: Config) -> None:
    broad = {"roles/cloudbuild.builds.builder", "roles/run.builder", "roles/artifactregistry.admin"}
    roles = {b.body.get("role") for b in config.resources() if b.type.endswith("_iam_member")}
    assert roles & broad == set()


def test_image_repository_is_the_stacks_and_cleans_up_old_images(config: Config) -> None:
    repository = config.resource("google_artifact_registry_repository", "functions").body
    assert repository["format"] == "DOCKER"
    assert reference(repository["location"]) == "var.region"  # the functions' own region
    policies = {p["action"]: p for p in repository["cleanup_policies"]}
    assert set(policies) == {"KEEP", "DELETE"}
    assert first(policies["KEEP"], "most_recent_versions")["keep_count"] >= 2


def test_compute_engine_api_is_not_needed(config: Config) -> None:
    apis = set(re.findall(r"[a-z]+\.googleapis\.com", str(config.locals["required_apis"])))
    assert "compute.googleapis.com" not in apis
    assert "artifactregistry.googleapis.com" in apis
    assert "compute.googleapis.com" in (tfconfig.INFRA_DIR / "apis.tf").read_text(encoding="utf-8")


# --- waits --------------------------------------------------------------------------------------


def _wait(config: Config, name: str) -> dict[str, object]:
    return config.resource("time_sleep", name).body


def test_time_provider_is_bounded_in_module_and_example() -> None:
    for directory in (tfconfig.INFRA_DIR, tfconfig.EXAMPLE_DIR):
        providers = tfconfig.load(directory).terraform[0]["required_providers"][0]
        assert providers["time"]["source"] == "hashicorp/time"
        assert re.fullmatch(r">= 0\.\d+, < 1\.0", providers["time"]["version"])


def test_functions_wait_for_every_grant_they_need(config: Config) -> None:
    wait = _wait(config, "iam_propagation")
    assert _seconds(str(config.resolve(wait["create_duration"]))) >= 60
    triggers = tfconfig.squash(wait["triggers"])
    # Every binding except the invoker roles, which are on the functions' own services.
    needed = [
        b
        for b in config.resources()
        if b.type.endswith("_iam_member") and b.body.get("role") != "roles/run.invoker"
    ]
    assert len(needed) >= 8
    for binding in needed:
        if "for_each" in binding.body:
            assert f"forbindingin{binding.address}binding.id" in triggers, binding.address
        else:
            assert f"{binding.address}.id" in triggers, binding.address
    for name in FUNCTIONS:
        function = config.resource("google_cloudfunctions2_function", name).body
        assert "${time_sleep.iam_propagation}" in function["depends_on"], name


def _watches_log_metric(policy: Block) -> bool:
    return any(
        "logging.googleapis.com/user/" in first(condition, "condition_threshold", "filter")
        for condition in policy.body["conditions"]
    )


def test_alert_policies_wait_until_their_log_metrics_exist(config: Config) -> None:
    wait = _wait(config, "log_metrics_propagation")
    # The API's own answer: "it could take up to 10 minutes to become available".
    assert _seconds(str(config.resolve(wait["create_duration"]))) >= 600
    metrics = {b.name for b in config.resources("google_logging_metric")}
    triggers = wait["triggers"]
    assert isinstance(triggers, dict)
    assert {reference(value) for value in triggers.values()} == {
        f"google_logging_metric.{name}.id" for name in metrics
    }
    policies = [p for p in config.resources("google_monitoring_alert_policy")]
    on_metrics = [p for p in policies if _watches_log_metric(p)]
    assert len(on_metrics) == len(metrics)
    for policy in on_metrics:
        assert "${time_sleep.log_metrics_propagation}" in policy.body.get("depends_on", [])


# --- alerts that close and fire again ------------------------------------------------------------


def test_every_condition_counts_missing_data_as_no_failure(config: Config) -> None:
    for policy in config.resources("google_monitoring_alert_policy"):
        for condition in policy.body["conditions"]:
            threshold = first(condition, "condition_threshold")
            assert threshold["evaluation_missing_data"] == "EVALUATION_MISSING_DATA_INACTIVE", (
                policy.address
            )


def test_open_incidents_close_within_half_an_hour_by_default(config: Config) -> None:
    assert config.variables["alert_auto_close_s"].body["default"] == 1800
    for policy in config.resources("google_monitoring_alert_policy"):
        auto_close = first(policy.body, "alert_strategy", "auto_close")
        assert auto_close == "${var.alert_auto_close_s}s", policy.address


# --- examples that apply as shipped -------------------------------------------------------------

CHANNEL = re.compile(r"projects/[^/\"]+/notificationChannels/\w+")


def channel_problems(texts: dict[Path, str]) -> list[str]:
    """An example may show a channel only in a comment: a channel ID belongs to one project, so a
    value shipped uncommented is someone else's, or made up, and makes the apply fail."""
    problems: list[str] = []
    for path, text in texts.items():
        values = tfconfig.parse(text)
        channels = values.get("alert_notification_channels")
        if channels:
            problems.append(f"{path.name}: sets alert_notification_channels = {channels}")
        for number, line in enumerate(text.splitlines(), start=1):
            code = line.split("#", 1)[0]
            if CHANNEL.search(code):
                problems.append(f"{path.name}:{number}: a notification channel outside a comment")
    return problems


def _example_tfvars() -> dict[Path, str]:
    paths = sorted(p for p in tfconfig.INFRA_DIR.rglob("*.tfvars*") if ".terraform" not in p.parts)
    return {path: path.read_text(encoding="utf-8") for path in paths}


def test_no_example_ships_a_notification_channel() -> None:
    texts = _example_tfvars()
    assert texts
    assert channel_problems(texts) == []


def test_example_says_how_to_create_a_channel_and_shows_moscow_time() -> None:
    text = (tfconfig.EXAMPLE_DIR / "terraform.tfvars.example").read_text(encoding="utf-8")
    assert "gcloud beta monitoring channels create" in text
    assert re.search(r"^#\s*alert_notification_channels\s*=", text, flags=re.MULTILINE)
    assert tfconfig.parse(text)["timezone"] == "Europe/Moscow"
    module = tfconfig.load(tfconfig.EXAMPLE_DIR).of_kind("module")[0].body
    assert module["timezone"] == "${var.timezone}"


@pytest.mark.parametrize(
    "tfvars",
    [
        'alert_notification_channels = ["projects/p/notificationChannels/123"]\n',
        'alert_notification_channels = [\n  "projects/p/notificationChannels/123",\n]\n',
    ],
)
def test_channel_check_catches_a_shipped_channel(tfvars: str) -> None:
    assert channel_problems({Path("x.tfvars.example"): tfvars})


def test_channel_check_accepts_a_commented_channel() -> None:
    tfvars = '# alert_notification_channels = [\n#   "projects/p/notificationChannels/1",\n# ]\n'
    assert channel_problems({Path("x.tfvars.example"): tfvars + 'region = "x"\n'}) == []
