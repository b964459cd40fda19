"""Least privilege and the secrets: every role binding scoped to one resource of this stack, no
basic roles, no project-wide storage role, and the Metrica tokens (the default one and one per
further account) and the notification URLs reaching the functions only as secret environment
variables, each secret readable by the runtime account alone, never through a variable, a tfvars
file, an output or the state.

Each check is a function returning the problems it finds; the real configuration must have
none, and a small configuration with the mistake the check is for must have some."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import tfconfig
from .tfconfig import Config, first, reference, walk

# Which attribute names the one resource a binding is on, per IAM member type. A type missing
# here is reported, so that a new kind of binding is looked at before it passes.
SCOPE_ATTRIBUTE = {
    "google_storage_bucket_iam_member": "bucket",
    "google_secret_manager_secret_iam_member": "secret_id",
    "google_cloud_run_service_iam_member": "service",
    "google_cloud_run_v2_service_iam_member": "name",
    "google_cloudfunctions2_function_iam_member": "cloud_function",
    "google_service_account_iam_member": "service_account_id",
    "google_pubsub_topic_iam_member": "topic",
    "google_artifact_registry_repository_iam_member": "repository",
    "google_cloud_tasks_queue_iam_member": "name",
}

# The only project-level grants, each because the role can be granted nowhere else (iam.tf).
PROJECT_LEVEL_GRANTS = {
    (
        "roles/pubsub.publisher",
        "data.google_storage_project_service_account.gcs_agent.email_address",
    ),
    ("roles/eventarc.eventReceiver", "google_service_account.trigger.email"),
    ("roles/logging.logWriter", "google_service_account.build.email"),
    ("roles/storage.objectViewer", "google_service_account.build.email"),
}
# The one storage role granted at the project: conditioned to the bucket Cloud Functions copies
# the source into, which does not exist before the first deploy.
SOURCE_COPY_BUCKET_LOCAL = "functions_source_copy_bucket"

PRIMITIVE_ROLE = re.compile(r"roles/(owner|editor|viewer)\b")
MEMBER = re.compile(r"^serviceAccount:\$\{([\w.\[\]-]+)\}$")
TOKENISH_NAME = re.compile(r"token|secret|password|oauth|credential", re.IGNORECASE)
# Yandex OAuth tokens: "y0_..." (current), "AQAAAA..." (older), or 32 hex digits (oldest).
TOKENISH_VALUE = re.compile(
    r"\b(y[0-9]_[A-Za-z0-9_-]{20,}|AQAAAA[A-Za-z0-9_-]{20,}|[0-9a-f]{32})\b"
)
SECRET_VERSION_TYPES = {
    "google_secret_manager_secret_version",
    "google_secret_manager_regional_secret_version",
}
TOKEN_VERSION_VARIABLE = "metrika_token_secret_version"
# Inputs whose names say token or secret but that hold version numbers only, validated as such.
VERSION_VARIABLES = {
    TOKEN_VERSION_VARIABLE,
    "metrika_account_token_versions",
    "notify_secret_versions",
}


def _declared(config: Config, ref: str) -> bool:
    parts = ref.split(".")
    address = ".".join(parts[:3]) if parts[0] == "data" else ".".join(parts[:2])
    return config.has_address(address.split("[")[0])


def _limited_to_source_copy(config: Config, block: tfconfig.Block) -> bool:
    """A project-level storage grant whose condition admits the source-copy bucket only."""
    conditions = block.body.get("condition", [])
    if len(conditions) != 1:
        return False
    expression = str(conditions[0].get("expression", ""))
    bucket = f"projects/_/buckets/${{local.{SOURCE_COPY_BUCKET_LOCAL}}}"
    names = re.findall(r"resource\.name\s*(==|\.startsWith\()\s*\\?\"([^\"\\]*)", expression)
    return (
        bool(names)
        and all(name == bucket or name.startswith(f"{bucket}/") for _, name in names)
        and "&&" not in expression
        and str(config.locals.get(SOURCE_COPY_BUCKET_LOCAL, "")).startswith("gcf-v2-sources-")
    )


def iam_problems(config: Config) -> list[str]:
    problems: list[str] = []
    for block in config.resources():
        if "_iam_" not in block.type:
            continue
        where = block.address
        if not block.type.endswith("_iam_member"):
            problems.append(f"{where}: authoritative binding; use an additive *_iam_member")
            continue
        if block.type.startswith(("google_organization_", "google_folder_")):
            problems.append(f"{where}: binding above the project")
            continue
        role = block.body.get("role")
        if not isinstance(role, str) or "${" in role or not role.startswith("roles/"):
            problems.append(f"{where}: role must be a literal predefined role, not {role!r}")
            continue
        match = MEMBER.match(str(block.body.get("member", "")))
        if not match or not _declared(config, match.group(1)):
            problems.append(f"{where}: member must be a service account of this stack")
            continue
        if block.type == "google_project_iam_member":
            if role.startswith("roles/storage.") and not _limited_to_source_copy(config, block):
                problems.append(f"{where}: project-wide storage role {role}")
            elif (role, match.group(1)) not in PROJECT_LEVEL_GRANTS:
                problems.append(f"{where}: project-level grant of {role} is not a known exception")
            continue
        attribute = SCOPE_ATTRIBUTE.get(block.type)
        if attribute is None:
            problems.append(f"{where}: unknown binding type; add its scope attribute here")
            continue
        target = reference(block.body.get(attribute))
        if target is None or not _declared(config, target):
            problems.append(
                f"{where}: {attribute} must name one resource of this stack, "
                f"not {block.body.get(attribute)!r}"
            )
    return problems


def primitive_role_problems(config: Config) -> list[str]:
    problems = [
        f"{path.name}: {match.group(0)}"
        for path, text in config.texts.items()
        for match in PRIMITIVE_ROLE.finditer(text)
    ]
    for block in config.blocks:
        for key_path, value in walk(block.body):
            if isinstance(value, str) and PRIMITIVE_ROLE.search(value):
                problems.append(f"{block.address}.{'.'.join(key_path)}: {value}")
    return problems


def _is_secret_env_key(key_path: tuple[str, ...]) -> bool:
    return len(key_path) >= 3 and key_path[-3] == "secret_environment_variables"


def _token_leaks_in_values(config: Config) -> list[str]:
    problems: list[str] = []
    for block in config.blocks:
        if block.type in SECRET_VERSION_TYPES:
            problems.append(f"{block.address}: keeps the secret's payload in the state")
        for key_path, value in walk(block.body):
            if key_path[-1:] in {("description",), ("error_message",)}:
                continue
            where = f"{block.address}.{'.'.join(key_path)}"
            mentioned = "METRIKA_TOKEN" in key_path or "METRIKA_TOKEN" in str(value)
            if mentioned and not (_is_secret_env_key(key_path) and key_path[-1] == "key"):
                problems.append(f"{where}: token outside a secret")
            if TOKENISH_VALUE.search(str(value)):
                problems.append(f"{where}: looks like a token")
    problems.extend(
        f"local.{name}: token outside a secret"
        for name, value in config.locals.items()
        if "METRIKA_TOKEN" in f"{name} {value}" and not _names_secret_variables(name, value)
    )
    return problems


def _names_secret_variables(name: str, value: object) -> bool:
    """A local that only builds the names METRIKA_TOKEN_<ACCOUNT> of secret variables: the
    per-account map, whose values are those names and nothing else."""
    return (
        name == "account_token_env"
        and re.fullmatch(
            r".*=>\s*\\?\"METRIKA_TOKEN_\$\{upper\(replace\(account,.*\)\)\}\\?\"\s*\}?\}?",
            str(value),
            flags=re.DOTALL,
        )
        is not None
    )


def token_problems(config: Config) -> list[str]:
    problems = _token_leaks_in_values(config)
    for name, variable in config.variables.items():
        if TOKENISH_NAME.search(name) and name not in VERSION_VARIABLES:
            problems.append(
                f"variable {name}: a token-like input; the token goes to Secret Manager"
            )
        if name == TOKEN_VERSION_VARIABLE and "default" in variable.body:
            problems.append(f"variable {name}: must be given, not defaulted")
    for name, output in config.outputs.items():
        if re.search(r"secret_data|payload|var\.\w*token", str(output.body.get("value", ""))):
            problems.append(f"output {name}: exposes the token")
    return problems


def function_secret_problems(config: Config) -> list[str]:
    problems: list[str] = []
    for function in config.resources("google_cloudfunctions2_function"):
        service = first(function.body, "service_config")
        secrets = service.get("secret_environment_variables", [])
        tokens = [s for s in secrets if s.get("key") == "METRIKA_TOKEN"]
        if len(tokens) != 1:
            problems.append(f"{function.address}: needs METRIKA_TOKEN as one secret variable")
            continue
        secret = reference(tokens[0].get("secret"))
        if not (secret and secret.startswith("google_secret_manager_secret.")):
            problems.append(f"{function.address}: the token must come from this stack's secret")
        if tokens[0].get("version") != f"${{var.{TOKEN_VERSION_VARIABLE}}}":
            problems.append(f"{function.address}: the token version must be the pinned variable")
    return problems


def tfvars_problems(texts: dict[Path, str], declared: set[str]) -> list[str]:
    problems: list[str] = []
    for path, text in texts.items():
        values = tfconfig.parse(text)
        for key, value in values.items():
            if key not in declared:
                problems.append(f"{path.name}: {key} is not a variable of the example")
            if TOKENISH_NAME.search(key) and key not in VERSION_VARIABLES:
                problems.append(f"{path.name}: {key} looks like a token input")
            if key == TOKEN_VERSION_VARIABLE and not re.fullmatch(r"[1-9][0-9]*", str(value)):
                problems.append(f"{path.name}: {key} must be a version number")
        if TOKENISH_VALUE.search(text):
            problems.append(f"{path.name}: holds something that looks like a token")
    return problems


def _tfvars_files() -> dict[Path, str]:
    paths = sorted(p for p in tfconfig.INFRA_DIR.rglob("*.tfvars*") if ".terraform" not in p.parts)
    return {path: path.read_text(encoding="utf-8") for path in paths}


# --- the real configuration ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> Config:
    return tfconfig.load()


def test_every_binding_is_additive_and_scoped_to_one_resource(config: Config) -> None:
    assert iam_problems(config) == []
    assert len([b for b in config.resources() if b.type.endswith("_iam_member")]) >= 6


def test_no_basic_roles_anywhere(config: Config) -> None:
    assert primitive_role_problems(config) == []
    assert primitive_role_problems(tfconfig.load(tfconfig.EXAMPLE_DIR)) == []


def test_no_project_wide_storage_role(config: Config) -> None:
    storage = [
        b
        for b in config.resources("google_project_iam_member")
        if b.body["role"].startswith("roles/storage.")
    ]
    # One, read-only, for the build, and conditioned to the bucket Cloud Functions copies the
    # source into (it appears on the first deploy: nothing to bind on before).
    assert [(b.name, b.body["role"]) for b in storage] == [
        ("build_reads_source", "roles/storage.objectViewer")
    ]
    assert _limited_to_source_copy(config, storage[0])
    assert config.locals[SOURCE_COPY_BUCKET_LOCAL] == (
        "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
    )


def test_project_level_grants_say_why(config: Config) -> None:
    for block in config.resources("google_project_iam_member"):
        text = block.file.read_text(encoding="utf-8")
        header = f'resource "google_project_iam_member" "{block.name}"'
        above = text[: text.index(header)].rstrip("\n").split("\n")
        comment: list[str] = []
        for line in reversed(above):
            if not line.startswith("#"):
                break
            comment.append(line)
        assert len(comment) >= 2, f"{block.address} needs a comment saying why"
        assert "project-level" in " ".join(comment).lower(), block.address


def test_runtime_has_object_access_on_its_two_buckets_and_enqueues_on_its_queues_only(
    config: Config,
) -> None:
    runtime = "serviceAccount:${google_service_account.runtime.email}"
    grants = [
        b
        for b in config.resources()
        if b.type.endswith("_iam_member") and b.body["member"] == runtime
    ]
    scopes = {(b.type, b.body["role"], reference(b.body[SCOPE_ATTRIBUTE[b.type]])) for b in grants}
    accessor = ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor")
    assert scopes == {
        (
            "google_storage_bucket_iam_member",
            "roles/storage.objectUser",
            "google_storage_bucket.input.name",
        ),
        (
            "google_storage_bucket_iam_member",
            "roles/storage.objectUser",
            "google_storage_bucket.work.name",
        ),
        # Add tasks to the upload queues, each queue its own binding.
        (
            "google_cloud_tasks_queue_iam_member",
            "roles/cloudtasks.enqueuer",
            "google_cloud_tasks_queue.upload[each.key].name",
        ),
        # Sign the tasks' OIDC token as the invoker account: on that one account.
        (
            "google_service_account_iam_member",
            "roles/iam.serviceAccountUser",
            "google_service_account.tasks_invoker.name",
        ),
        (*accessor, "google_secret_manager_secret.metrika_token.secret_id"),
        (*accessor, "google_secret_manager_secret.account_token[each.key].secret_id"),
        (*accessor, "google_secret_manager_secret.notification[each.key].secret_id"),
    }


@pytest.mark.parametrize(
    ("function", "account"),
    [("worker", "trigger"), ("poller", "scheduler"), ("uploader", "tasks_invoker")],
)
def test_each_function_has_exactly_one_invoker(config: Config, function: str, account: str) -> None:
    service = f"google_cloudfunctions2_function.{function}.service_config[0].service"
    invokers = [
        b.body["member"]
        for b in config.resources("google_cloud_run_service_iam_member")
        if reference(b.body["service"]) == service and b.body["role"] == "roles/run.invoker"
    ]
    assert invokers == [f"serviceAccount:${{google_service_account.{account}.email}}"]


def test_storage_service_agent_may_publish_events(config: Config) -> None:
    grants = {
        (b.body["role"], b.body["member"]) for b in config.resources("google_project_iam_member")
    }
    agent = "serviceAccount:${data.google_storage_project_service_account.gcs_agent.email_address}"
    assert ("roles/pubsub.publisher", agent) in grants
    # The worker (and so its trigger) waits until the grant has propagated (waits.tf).
    worker = config.resource("google_cloudfunctions2_function", "worker").body
    assert "${time_sleep.iam_propagation}" in worker["depends_on"]
    wait = config.resource("time_sleep", "iam_propagation").body
    assert "${google_project_iam_member.gcs_agent_publishes_events.id}" in wait["triggers"].values()


def test_storage_service_agent_is_read_at_plan_time(config: Config) -> None:
    """A data source with depends_on is read during the apply whenever one of its dependencies
    changes: the agent's email turns unknown and the publisher binding is replaced, that is
    removed and added again, on every change of the APIs."""
    agent = next(
        b
        for b in config.data_sources("google_storage_project_service_account")
        if b.name == "gcs_agent"
    )
    assert "depends_on" not in agent.body
    binding = config.resource("google_project_iam_member", "gcs_agent_publishes_events").body
    assert (
        "data.google_storage_project_service_account.gcs_agent.email_address" in binding["member"]
    )


def test_token_reaches_the_functions_only_as_a_pinned_secret(config: Config) -> None:
    assert token_problems(config) == []
    assert function_secret_problems(config) == []
    assert config.resources("google_secret_manager_secret")


def test_token_version_variable_is_required_and_typed(config: Config) -> None:
    variable = config.variables[TOKEN_VERSION_VARIABLE].body
    assert "default" not in variable
    assert variable["type"] == "string"


def test_no_tfvars_file_holds_a_token() -> None:
    files = _tfvars_files()
    assert files, "the example's tfvars file is expected"
    declared = set(tfconfig.load(tfconfig.EXAMPLE_DIR).variables)
    assert tfvars_problems(files, declared) == []


def test_example_passes_the_token_version_through(config: Config) -> None:
    module = tfconfig.load(tfconfig.EXAMPLE_DIR).of_kind("module")[0].body
    assert module[TOKEN_VERSION_VARIABLE] == f"${{var.{TOKEN_VERSION_VARIABLE}}}"
    assert not [key for key in module if TOKENISH_NAME.search(key) and key not in VERSION_VARIABLES]
    for name in VERSION_VARIABLES - {TOKEN_VERSION_VARIABLE}:
        assert module[name] == f"${{var.{name}}}"


# --- the checks catch the mistakes they are for -------------------------------------------------

_SERVICE_ACCOUNT = """
resource "google_service_account" "runtime" {
  account_id = "x-runtime"
}
resource "google_storage_bucket" "input" {
  name = "b"
}
"""
_MEMBER = 'member = "serviceAccount:${google_service_account.runtime.email}"'


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        (
            f'resource "google_project_iam_member" "x" {{\n role = "roles/editor"\n {_MEMBER}\n}}',
            "not a known exception",
        ),
        (
            f'resource "google_project_iam_member" "x" {{\n role = "roles/storage.objectAdmin"\n'
            f" {_MEMBER}\n}}",
            "project-wide storage role",
        ),
        (
            f'resource "google_storage_bucket_iam_member" "x" {{\n bucket = var.bucket\n'
            f' role = "roles/storage.objectUser"\n {_MEMBER}\n}}',
            "must name one resource",
        ),
        (
            'resource "google_storage_bucket_iam_member" "x" {\n'
            " bucket = google_storage_bucket.input.name\n"
            ' role = "roles/storage.objectViewer"\n member = "allUsers"\n}',
            "service account of this stack",
        ),
        (
            'resource "google_storage_bucket_iam_binding" "x" {\n'
            " bucket = google_storage_bucket.input.name\n"
            ' role = "roles/storage.objectUser"\n members = []\n}',
            "authoritative",
        ),
        (
            f'resource "google_storage_bucket_iam_member" "x" {{\n'
            f" bucket = google_storage_bucket.input.name\n role = var.role\n {_MEMBER}\n}}",
            "literal predefined role",
        ),
        (
            f'resource "google_bigquery_dataset_iam_member" "x" {{\n dataset_id = "d"\n'
            f' role = "roles/bigquery.dataViewer"\n {_MEMBER}\n}}',
            "unknown binding type",
        ),
    ],
)
def test_iam_check_catches(binding: str, expected: str) -> None:
    problems = iam_problems(tfconfig.from_snippet(_SERVICE_ACCOUNT + binding))
    assert any(expected in problem for problem in problems), problems


def test_primitive_role_check_catches_an_owner_anywhere() -> None:
    snippet = 'locals {\n  role = "roles/owner"\n}\n'
    assert primitive_role_problems(tfconfig.from_snippet(snippet))


_FUNCTION = """
variable "metrika_token_secret_version" {
  type = string
}
resource "google_secret_manager_secret" "metrika_token" {
  secret_id = "t"
}
resource "google_cloudfunctions2_function" "f" {
  service_config {
    environment_variables = %s
    secret_environment_variables {
      key     = "METRIKA_TOKEN"
      secret  = google_secret_manager_secret.metrika_token.secret_id
      version = %s
    }
  }
}
"""


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (_FUNCTION % ("{ METRIKA_TOKEN = var.x }", "var.metrika_token_secret_version"), "outside"),
        (
            _FUNCTION % ("{}", "var.metrika_token_secret_version") + 'variable "metrika_token" {\n'
            " type = string\n}\n",
            "token-like input",
        ),
        (
            _FUNCTION
            % ("{}", "var.metrika_token_secret_version")
            + 'resource "google_secret_manager_secret_version" "v" {\n'
            " secret = google_secret_manager_secret.metrika_token.id\n secret_data = var.x\n}\n",
            "payload in the state",
        ),
        (
            _FUNCTION % ("{}", "var.metrika_token_secret_version")
            + 'output "token" {\n value = var.metrika_token\n}\n',
            "exposes the token",
        ),
    ],
)
def test_token_check_catches(snippet: str, expected: str) -> None:
    problems = token_problems(tfconfig.from_snippet(snippet))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("version", "expected"),
    [('"latest"', "pinned variable"), ('"1"', "pinned variable")],
)
def test_function_secret_check_catches_an_unpinned_version(version: str, expected: str) -> None:
    problems = function_secret_problems(tfconfig.from_snippet(_FUNCTION % ("{}", version)))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("tfvars", "expected"),
    [
        ('metrika_token = "y0_AgAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n', "looks like a token"),
        ('metrika_token_secret_version = "latest"\n', "must be a version number"),
        ('metrika_token_secret_version = "y0_AgAAAAAxxxxxxxxxxxxxxxxxxxxxxx"\n', "looks like a"),
        ('bucket = "b"\n', "not a variable of the example"),
    ],
)
def test_tfvars_check_catches(tfvars: str, expected: str) -> None:
    declared = {"metrika_token_secret_version", "metrika_token"}
    problems = tfvars_problems({Path("bad.tfvars"): tfvars}, declared)
    assert any(expected in problem for problem in problems), problems


# --- further accounts and notification targets ------------------------------------------------

# secret resource => (what it is created for, the runtime's accessor binding on it)
EXTRA_SECRETS = {
    "account_token": ("${var.metrika_accounts}", "runtime_account_tokens"),
    "notification": ("${local.notification_secret_env}", "runtime_notifications"),
}
RUNTIME_MEMBER = "serviceAccount:${google_service_account.runtime.email}"


def secret_access_problems(config: Config) -> list[str]:
    """Every secret of the stack is readable by the runtime account, by its own binding, and by
    no one else of the stack; no accessor role anywhere above a secret."""
    problems: list[str] = []
    secrets = {b.name: b for b in config.resources("google_secret_manager_secret")}
    accessors: dict[str, list[str]] = {name: [] for name in secrets}
    for block in config.resources():
        if block.body.get("role") != "roles/secretmanager.secretAccessor":
            continue
        if block.type != "google_secret_manager_secret_iam_member":
            problems.append(f"{block.address}: secret accessor granted above a single secret")
            continue
        target = reference(block.body.get("secret_id")) or ""
        match = re.fullmatch(
            r"google_secret_manager_secret\.(\w+)(\[each\.key\])?\.secret_id", target
        )
        if not match or match.group(1) not in secrets:
            problems.append(f"{block.address}: not bound on one secret of the stack")
            continue
        name, indexed = match.group(1), bool(match.group(2))
        one_per_secret = block.body.get("for_each") == f"${{google_secret_manager_secret.{name}}}"
        if indexed != ("for_each" in secrets[name].body) or (indexed and not one_per_secret):
            problems.append(f"{block.address}: must bind each instance of {name}, one per secret")
        accessors[name].append(block.body.get("member", ""))
    for name, members in accessors.items():
        if members != [RUNTIME_MEMBER]:
            problems.append(f"google_secret_manager_secret.{name}: readable by {members}")
    return problems


def test_every_secret_is_readable_by_the_runtime_only(config: Config) -> None:
    assert secret_access_problems(config) == []
    assert set(EXTRA_SECRETS) < {b.name for b in config.resources("google_secret_manager_secret")}


@pytest.mark.parametrize("name", sorted(EXTRA_SECRETS))
def test_one_secret_and_one_binding_per_account_or_target(config: Config, name: str) -> None:
    created_for, binding_name = EXTRA_SECRETS[name]
    secret = config.resource("google_secret_manager_secret", name).body
    assert secret["for_each"] == created_for
    binding = config.resource("google_secret_manager_secret_iam_member", binding_name).body
    assert binding["for_each"] == f"${{google_secret_manager_secret.{name}}}"
    assert binding["member"] == RUNTIME_MEMBER


def test_each_extra_secret_is_mounted_pinned_on_both_functions(config: Config) -> None:
    secret_environment = tfconfig.squash(config.locals["secret_environment"])
    for resource, env, key, versions in (
        ("account_token", "account_token_env", "account", "var.metrika_account_token_versions"),
        ("notification", "notification_secret_env", "name", "var.notify_secret_versions"),
    ):
        assert f"local.{env}" in secret_environment
        assert f"secretgoogle_secret_manager_secret.{resource}[{key}].secret_id" in (
            secret_environment
        )
        assert f"versiontry({versions}[{key}],null)" in secret_environment
    for name in ("worker", "poller"):
        function = config.resource("google_cloudfunctions2_function", name).body
        dynamic = first(function, "service_config")["dynamic"]
        blocks = [entry["secret_environment_variables"] for entry in dynamic]
        assert len(blocks) == 1, f"{name}: one dynamic block of secret variables"
        assert blocks[0]["for_each"] == "${local.secret_environment}"
        content = first(blocks[0], "content")
        assert content["key"] == "${secret_environment_variables.key}"
        assert content["secret"] == "${secret_environment_variables.value.secret}"
        assert content["version"] == "${secret_environment_variables.value.version}"
        conditions = " ".join(p["condition"] for p in first(function, "lifecycle")["precondition"])
        assert "local.missing_account_token_versions" in conditions, name
        assert "local.missing_notify_secret_versions" in conditions, name


def test_secret_variable_names_follow_the_contract(config: Config) -> None:
    assert tfconfig.squash(config.locals["account_token_env"]) == tfconfig.squash(
        "{for account in keys(var.metrika_accounts) : account => "
        '"METRIKA_TOKEN_${upper(replace(account, "/[^A-Za-z0-9]/", "_"))}"}'
    )
    targets = tfconfig.squash(config.locals["notification_targets"])
    for target, enabled, env in (
        ("slack_webhook", "var.notify_slack_webhook", "NOTIFY_SLACK_WEBHOOK_URL"),
        ("webhook", "var.notify_webhook", "NOTIFY_WEBHOOK_URL"),
        ("telegram_bot_token", 'var.notify_telegram_chat_id!""', "NOTIFY_TELEGRAM_BOT_TOKEN"),
    ):
        assert f"{target}enabled{tfconfig.squash(enabled)},env{env}" in targets, target
    assert "NOTIFY_TELEGRAM_CHAT_IDvar.notify_telegram_chat_id" in tfconfig.squash(
        config.locals["notification_environment"]
    )


def test_no_output_names_a_secret_value(config: Config) -> None:
    for name, output in config.outputs.items():
        value = str(output.body.get("value", ""))
        assert not re.search(r"secret_data|payload|versions?\.\w+\.data", value), name
        assert "sensitive" not in output.body, f"{name}: nothing sensitive belongs in an output"


_SECRETS = """
resource "google_service_account" "runtime" {
  account_id = "r"
}
resource "google_service_account" "other" {
  account_id = "o"
}
resource "google_secret_manager_secret" "account_token" {
  for_each  = var.metrika_accounts
  secret_id = each.key
}
"""


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        ("", "readable by []"),
        (
            'resource "google_project_iam_member" "x" {\n project = "p"\n'
            ' role = "roles/secretmanager.secretAccessor"\n'
            ' member = "serviceAccount:${google_service_account.runtime.email}"\n}\n',
            "above a single secret",
        ),
        (
            'resource "google_secret_manager_secret_iam_member" "x" {\n'
            " for_each = google_secret_manager_secret.account_token\n"
            " secret_id = google_secret_manager_secret.account_token[each.key].secret_id\n"
            ' role = "roles/secretmanager.secretAccessor"\n'
            ' member = "serviceAccount:${google_service_account.other.email}"\n}\n',
            "readable by",
        ),
        (
            'resource "google_secret_manager_secret_iam_member" "x" {\n'
            ' secret_id = google_secret_manager_secret.account_token["a"].secret_id\n'
            ' role = "roles/secretmanager.secretAccessor"\n'
            ' member = "serviceAccount:${google_service_account.runtime.email}"\n}\n',
            "not bound on one secret",
        ),
    ],
)
def test_secret_access_check_catches(binding: str, expected: str) -> None:
    problems = secret_access_problems(tfconfig.from_snippet(_SECRETS + binding))
    assert any(expected in problem for problem in problems), problems
