"""What infra/ deploys, read from the Terraform itself: the trigger, the functions, the bucket,
the function source, the scheduled follow-up, the APIs and the alerting."""

from __future__ import annotations

import re
from typing import Any

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.record.layout import LEDGER_FOLDER, STATE_FOLDERS
from metrika_offline.types import DEFAULT_MAX_PART_BYTES, METRIKA_PARALLEL_REQUESTS
from tests.fakes.function import ALLOCATOR_ENVIRONMENT

from . import tfconfig
from .tfconfig import Block, first, reference

FUNCTION = "google_cloudfunctions2_function"


@pytest.fixture(scope="module")
def config() -> tfconfig.Config:
    return tfconfig.load()


@pytest.fixture(scope="module")
def worker(config: tfconfig.Config) -> Block:
    return config.resource(FUNCTION, "worker")


@pytest.fixture(scope="module")
def poller(config: tfconfig.Config) -> Block:
    return config.resource(FUNCTION, "poller")


def _as_number(value: Any) -> float:
    assert not isinstance(value, bool), value
    assert isinstance(value, int | float), value
    return float(value)


# --- the storage trigger ------------------------------------------------------------------------


def test_worker_is_triggered_by_objects_finalized_in_the_input_bucket(
    config: tfconfig.Config, worker: Block
) -> None:
    trigger = first(worker.body, "event_trigger")
    assert (
        config.resolve(first(trigger, "event_type")) == "google.cloud.storage.object.v1.finalized"
    )
    filters = trigger["event_filters"]
    assert filters == [{"attribute": "bucket", "value": "${google_storage_bucket.input.name}"}]


def test_trigger_lives_where_the_bucket_lives(worker: Block) -> None:
    region = first(worker.body, "event_trigger", "trigger_region")
    assert isinstance(region, str)
    assert "google_storage_bucket.input.location" in region, region


def test_trigger_retries_failed_deliveries(worker: Block) -> None:
    assert first(worker.body, "event_trigger", "retry_policy") == "RETRY_POLICY_RETRY"


def test_trigger_has_its_own_service_account(worker: Block) -> None:
    trigger_account = reference(first(worker.body, "event_trigger", "service_account_email"))
    runtime_account = reference(first(worker.body, "service_config", "service_account_email"))
    assert trigger_account == "google_service_account.trigger.email"
    assert runtime_account == "google_service_account.runtime.email"


# --- the functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "entry_point"),
    [("worker", "on_object_finalized"), ("poller", "poll_uploads"), ("uploader", "upload_part")],
)
def test_functions_run_the_contract_entry_points_on_python_312(
    config: tfconfig.Config, name: str, entry_point: str
) -> None:
    build = first(config.resource(FUNCTION, name).body, "build_config")
    assert first(build, "entry_point") == entry_point
    assert first(build, "runtime") == "python312"


def test_only_the_worker_has_an_event_trigger(worker: Block, poller: Block) -> None:
    assert len(worker.body.get("event_trigger", [])) == 1
    assert "event_trigger" not in poller.body


def test_the_work_bucket_has_no_trigger_and_uniform_access(
    config: tfconfig.Config, worker: Block
) -> None:
    """Our own writes to the work bucket must fire nothing: the one trigger is on the input."""
    work = config.resource("google_storage_bucket", "work").body
    assert work["uniform_bucket_level_access"] is True
    assert work["public_access_prevention"] == "enforced"
    filters = first(worker.body, "event_trigger")["event_filters"]
    assert [f["value"] for f in filters] == ["${google_storage_bucket.input.name}"]
    for name in ("worker", "poller", "uploader"):
        assert "event_trigger" not in config.resource(FUNCTION, name).body or name == "worker"


def test_worker_ingress_is_internal_only(worker: Block) -> None:
    assert first(worker.body, "service_config", "ingress_settings") == "ALLOW_INTERNAL_ONLY"


def test_poller_ingress_defaults_to_internal_and_never_admits_load_balancers(
    config: tfconfig.Config, poller: Block
) -> None:
    setting = first(poller.body, "service_config", "ingress_settings")
    assert config.resolve(setting) == "ALLOW_INTERNAL_ONLY"
    allowed = {"ALLOW_INTERNAL_ONLY", "ALLOW_ALL"}
    name = reference(setting)
    if name is not None:  # a variable: its validation must allow nothing else
        assert name.startswith("var."), name
        condition = first(config.variables[name.removeprefix("var.")].body, "validation")
        assert set(re.findall(r"\b(ALLOW_[A-Z_]+)\b", condition["condition"])) == allowed


def test_worker_timeout_is_the_event_driven_maximum(config: tfconfig.Config, worker: Block) -> None:
    timeout = first(worker.body, "service_config", "timeout_seconds")
    assert _as_number(config.resolve(timeout)) == 540


def test_the_upload_queues_hold_metricas_parallel_requests(
    config: tfconfig.Config, poller: Block
) -> None:
    """Metrica allows 3 requests at once per user: each account's queue dispatches at most
    3 less the follow-up's share, one request per instance; the checker is sized for CPU."""
    uploader = config.resource(FUNCTION, "uploader")
    for function in (uploader, poller):
        assert first(function.body, "service_config", "max_instance_request_concurrency") == 1
    assert config.locals["metrika_parallel_requests_per_user"] == METRIKA_PARALLEL_REQUESTS
    poller_max = _as_number(
        config.resolve(first(poller.body, "service_config", "max_instance_count"))
    )
    queue = config.resource("google_cloud_tasks_queue", "upload").body
    limits = first(queue, "rate_limits")
    assert limits["max_concurrent_dispatches"] == "${local.upload_concurrency_per_account}"
    per_account = config.locals["upload_concurrency_per_account"]
    assert "local.metrika_parallel_requests_per_user" in per_account
    assert "local.poller_max_instances" in per_account
    assert METRIKA_PARALLEL_REQUESTS - poller_max == 2
    assert "var.worker_max_instances" in str(config.resource(FUNCTION, "worker").body)
    assert config.variables["worker_max_instances"].body["default"] == 10
    # One queue for the default token, one per account, with the ids the code computes.
    assert "'default'" in str(config.locals["upload_queue_ids"])
    assert "UPLOAD_QUEUE" in config.locals["upload_environment"]
    assert "{account}" in config.locals["upload_queue_template"]


def test_source_changes_redeploy_both_functions(config: tfconfig.Config) -> None:
    source_object = config.resource("google_storage_bucket_object", "function_source").body
    assert re.search(
        r"\$\{data\.archive_file\.function_source\.output_(md5|sha|sha256|base64sha256|sha512)\}",
        source_object["name"],
    ), f"the source object must be named by the zip's hash, not {source_object['name']!r}"
    assert reference(source_object["source"]) == "data.archive_file.function_source.output_path"
    for name in ("worker", "poller"):
        storage = first(
            config.resource(FUNCTION, name).body, "build_config", "source", "storage_source"
        )
        assert reference(storage["object"]) == "google_storage_bucket_object.function_source.name"
        assert reference(storage["bucket"]) == "google_storage_bucket.function_source.name"


def test_source_zip_is_the_function_directory_without_bytecode(config: tfconfig.Config) -> None:
    archive = next(b for b in config.data_sources("archive_file") if b.name == "function_source")
    assert reference(archive.body["source_dir"]) == "local.function_source_dir"
    assert "${path.module}/../function" in config.locals["function_source_dir"]
    assert (tfconfig.REPO_ROOT / "function" / "requirements.txt").is_file()
    excludes = archive.body["excludes"]
    assert any("__pycache__" in pattern for pattern in excludes), excludes
    assert any(pattern.endswith("*.pyc") for pattern in excludes), excludes


# --- the environment ----------------------------------------------------------------------------

CONTRACT_ENVIRONMENT = {
    "METRIKA_API_URL": "var.metrika_api_url",
    "BUCKET": "google_storage_bucket.input.name",
    "INPUT_PREFIX": "var.input_prefix",
    "WORK_PREFIX": "var.work_prefix",
    "DEFAULT_TYPE": "var.default_type",
    "MAX_PART_BYTES": "var.max_part_bytes",
    "TIMEZONE": "var.timezone",
    "MAX_EVENT_AGE_S": "var.max_event_age_s",
    "POLL_GIVE_UP_S": "var.poll_give_up_s",
    "LOG_LEVEL": "var.log_level",
    "LEDGER_WINDOW_DAYS": "var.ledger_window_days",
}


def test_functions_get_the_contract_environment(
    config: tfconfig.Config, worker: Block, poller: Block
) -> None:
    environment = config.locals["function_environment"]
    assert set(environment) == set(CONTRACT_ENVIRONMENT)
    for key, source in CONTRACT_ENVIRONMENT.items():
        assert source in environment[key], f"{key} must come from {source}"
    assert "DEFAULT_COUNTER_ID" in config.locals["default_counter_environment"]
    optional = tfconfig.squash(config.locals["optional_environment"])
    for name in ("default_counter", "accounts", "notification"):
        assert f"local.{name}_environment" in optional, name
    uploader = config.resource(FUNCTION, "uploader")
    upload = config.locals["upload_environment"]
    assert set(upload) == {"WORK_BUCKET", "UPLOAD_QUEUE", "UPLOAD_URL", "UPLOAD_INVOKER"}
    for function, timeout in (
        (worker, "var.worker_timeout_s"),
        (poller, "var.poller_timeout_s"),
        (uploader, "var.uploader_timeout_s"),
    ):
        merged = tfconfig.squash(first(function.body, "service_config", "environment_variables"))
        assert "local.function_environment" in merged
        assert "local.upload_environment" in merged
        assert "local.optional_environment" in merged
        assert f"INVOCATION_TIMEOUT_Stostring({timeout})" in merged


def test_functions_and_the_local_stack_get_the_same_allocator_settings(
    config: tfconfig.Config, worker: Block, poller: Block
) -> None:
    """The benchmarks' memory figures hold for production only if the local stack's function
    runs with the allocator settings the deployment gives it."""
    deployed = {k: str(v) for k, v in config.locals["allocator_environment"].items()}
    assert deployed == ALLOCATOR_ENVIRONMENT
    for function in (worker, poller):
        merged = tfconfig.squash(first(function.body, "service_config", "environment_variables"))
        assert "local.allocator_environment" in merged


def test_metrika_accounts_maps_each_counter_to_its_account(config: tfconfig.Config) -> None:
    """METRIKA_ACCOUNTS: a JSON object counter id => account name, set when there are accounts."""
    assert tfconfig.squash(config.locals["counter_accounts"]).startswith(
        "merge([foraccount,countersinvar.metrika_accountsforcounterincounterscounter>account]"
    )
    environment = tfconfig.squash(config.locals["accounts_environment"])
    assert environment == tfconfig.squash(
        "length(var.metrika_accounts) == 0 ? {} : "
        "{ METRIKA_ACCOUNTS = jsonencode(local.counter_accounts) }"
    )
    variable = config.variables["metrika_accounts"].body
    assert variable["type"] == "map(list(string))"
    assert variable["default"] == {}


def test_environment_defaults_match_the_package_defaults(config: tfconfig.Config) -> None:
    settings = Settings()
    defaults = {name: block.body.get("default") for name, block in config.variables.items()}
    assert defaults["metrika_api_url"] == settings.metrika_api_url
    assert defaults["input_prefix"] == settings.input_prefix
    assert defaults["work_prefix"] == settings.work_prefix
    assert defaults["default_type"] == settings.default_type.value
    assert defaults["max_part_bytes"] == DEFAULT_MAX_PART_BYTES == settings.max_part_bytes
    assert defaults["timezone"] == settings.timezone
    assert defaults["max_event_age_s"] == settings.max_event_age_s
    assert defaults["poll_give_up_s"] == settings.poll_give_up_s
    assert defaults["log_level"] == settings.log_level
    assert defaults["worker_timeout_s"] == settings.invocation_timeout_s
    assert defaults["default_counter_id"] is None


# --- the bucket ---------------------------------------------------------------------------------


def test_input_bucket_is_private_versioned_and_kept_on_destroy(config: tfconfig.Config) -> None:
    bucket = config.resource("google_storage_bucket", "input").body
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert first(bucket, "versioning", "enabled") is True
    assert bucket.get("force_destroy", False) is False, "users' files must not go with a destroy"


def _delete_rules(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        first(rule, "condition")
        for rule in bucket.get("lifecycle_rule", [])
        if first(rule, "action", "type") == "Delete"
    ]


def test_lifecycle_cleans_the_work_prefix_after_the_retention_days(config: tfconfig.Config) -> None:
    rules = _delete_rules(config.resource("google_storage_bucket", "work").body)
    folders = '${[for folder in local.work_state_folders : "${var.work_prefix}${folder}"]}'
    work_rules = [r for r in rules if r.get("matches_prefix") == folders]
    assert any(r.get("age") == "${var.work_retention_days}" for r in work_rules), rules
    assert config.variables["work_retention_days"].body["default"] == 7
    # Every folder of the work state, and only those: the ledger is kept for longer.
    assert tuple(config.locals["work_state_folders"]) == STATE_FOLDERS
    assert LEDGER_FOLDER not in STATE_FOLDERS


def test_lifecycle_keeps_the_ledger_longer_than_its_window(config: tfconfig.Config) -> None:
    rules = _delete_rules(config.resource("google_storage_bucket", "work").body)
    ledger = [
        r for r in rules if r.get("matches_prefix") == [f"${{var.work_prefix}}{LEDGER_FOLDER}"]
    ]
    assert [r.get("age") for r in ledger] == ["${var.ledger_retention_days}"], rules
    window = config.variables["ledger_window_days"].body["default"]
    assert config.variables["ledger_retention_days"].body["default"] > window == 28


def test_lifecycle_deletes_old_noncurrent_versions(config: tfconfig.Config) -> None:
    rules = _delete_rules(config.resource("google_storage_bucket", "input").body)
    assert any(
        r.get("with_state") == "ARCHIVED"
        and "matches_prefix" not in r
        and r.get("days_since_noncurrent_time") == "${var.noncurrent_version_retention_days}"
        for r in rules
    ), rules


# --- the scheduled follow-up --------------------------------------------------------------------


def test_scheduler_calls_the_poller_with_an_oidc_token(config: tfconfig.Config) -> None:
    job = config.resource("google_cloud_scheduler_job", "poll_uploads").body
    target = first(job, "http_target")
    poller_uri = "google_cloudfunctions2_function.poller.service_config[0].uri"
    assert reference(target["uri"]) == poller_uri
    token = first(target, "oidc_token")
    assert reference(token["service_account_email"]) == "google_service_account.scheduler.email"
    assert reference(token["audience"]) == poller_uri
    assert "oauth_token" not in target


def test_scheduler_runs_every_ten_minutes_by_default(config: tfconfig.Config) -> None:
    job = config.resource("google_cloud_scheduler_job", "poll_uploads").body
    interval = config.variables["poll_interval_minutes"].body["default"]
    schedule = job["schedule"].replace("${var.poll_interval_minutes}", str(interval))
    assert schedule == "*/10 * * * *"


# --- APIs ---------------------------------------------------------------------------------------


def test_every_api_the_stack_uses_is_enabled(config: tfconfig.Config) -> None:
    apis = set(re.findall(r"[a-z]+\.googleapis\.com", str(config.locals["required_apis"])))
    assert apis >= {
        "artifactregistry.googleapis.com",
        "cloudbuild.googleapis.com",
        "cloudfunctions.googleapis.com",
        "cloudscheduler.googleapis.com",
        "eventarc.googleapis.com",
        "iam.googleapis.com",
        "logging.googleapis.com",
        "monitoring.googleapis.com",
        "pubsub.googleapis.com",
        "run.googleapis.com",
        "secretmanager.googleapis.com",
        "storage.googleapis.com",
    }
    service = config.resource("google_project_service", "enabled").body
    assert "local.required_apis" in service["for_each"]
    assert service["disable_on_destroy"] is False


# --- alerting -----------------------------------------------------------------------------------


def _metric(config: tfconfig.Config, name: str) -> dict[str, Any]:
    return config.resource("google_logging_metric", name).body


@pytest.mark.parametrize(
    ("metric", "event", "field", "values"),
    [
        ("file_failures", "file_result", "status", ("rejected", "failed")),
        ("metrika_outcomes", "metrika_outcome", "outcome", ("linkage_failure", "status_unknown")),
    ],
)
def test_log_metrics_count_the_bad_outcomes_by_label(
    config: tfconfig.Config, metric: str, event: str, field: str, values: tuple[str, ...]
) -> None:
    body = _metric(config, metric)
    log_filter = config.expand_locals(body["filter"])
    assert f'jsonPayload.event="{event}"' in log_filter
    quoted = " OR ".join(f'"{value}"' for value in values)
    assert f"jsonPayload.{field}=({quoted})" in log_filter
    for good in ("uploaded", "validated", "partially_uploaded", "processed"):
        assert f'"{good}"' not in log_filter
    assert body["label_extractors"] == {field: f"EXTRACT(jsonPayload.{field})"}
    descriptor = first(body, "metric_descriptor")
    assert (descriptor["metric_kind"], descriptor["value_type"]) == ("DELTA", "INT64")
    assert [label["key"] for label in descriptor["labels"]] == [field]


def test_log_metrics_read_the_logs_of_both_functions(config: tfconfig.Config) -> None:
    worker_name = config.locals["worker_name"]
    poller_name = config.locals["poller_name"]
    assert reference(config.resource(FUNCTION, "worker").body["name"]) == "local.worker_name"
    assert reference(config.resource(FUNCTION, "poller").body["name"]) == "local.poller_name"
    for metric in ("file_failures", "metrika_outcomes"):
        log_filter = config.expand_locals(_metric(config, metric)["filter"])
        assert 'resource.type="cloud_run_revision"' in log_filter
        assert f'"{worker_name}"' in log_filter
        assert f'"{poller_name}"' in log_filter


def _policies(config: tfconfig.Config) -> dict[str, dict[str, Any]]:
    return {b.name: b.body for b in config.resources("google_monitoring_alert_policy")}


@pytest.mark.parametrize("metric", ["file_failures", "metrika_outcomes"])
def test_each_log_metric_has_an_alert_policy(config: tfconfig.Config, metric: str) -> None:
    expected = f"logging.googleapis.com/user/${{google_logging_metric.{metric}.name}}"
    watching = [
        name
        for name, policy in _policies(config).items()
        for condition in policy["conditions"]
        if expected in first(condition, "condition_threshold", "filter")
    ]
    assert watching, f"no alert policy watches {metric}"


def test_an_alert_policy_watches_function_errors(config: tfconfig.Config) -> None:
    filters = [
        config.expand_locals(first(condition, "condition_threshold", "filter"))
        for policy in _policies(config).values()
        for condition in policy["conditions"]
    ]
    errors = [f for f in filters if "run.googleapis.com/request_count" in f and '"5xx"' in f]
    assert errors, filters
    worker_name, poller_name = config.locals["worker_name"], config.locals["poller_name"]
    assert f'"{worker_name}"' in errors[0]
    assert f'"{poller_name}"' in errors[0]


def test_alerts_go_to_the_configured_channels(config: tfconfig.Config) -> None:
    policies = _policies(config)
    assert len(policies) >= 3
    for name, policy in policies.items():
        channels = config.resolve(policy["notification_channels"], defaults=False)
        assert channels == "${var.alert_notification_channels}", name
        assert first(policy, "documentation", "content").strip(), f"{name} needs documentation"
