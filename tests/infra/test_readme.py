"""infra/README.md tells a user everything needed to deploy, use and remove the stack."""

from __future__ import annotations

import re

import pytest

from . import tfconfig

README = tfconfig.INFRA_DIR / "README.md"


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def _code(text: str) -> str:
    """The fenced code blocks and inline code of the README: where commands are."""
    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", text)
    return "\n".join(fenced + inline)


@pytest.mark.parametrize(
    ("what", "pattern"),
    [
        ("the example tfvars copied", r"cp terraform\.tfvars\.example terraform\.tfvars"),
        ("terraform init", r"^terraform init"),
        ("terraform apply", r"^terraform apply\s*$"),
        (
            "the secrets created first",
            r"terraform apply\s*\\?\n?\s*-target=\S+google_secret_manager_secret\.metrika_token",
        ),
        (
            "the accounts' secrets created first",
            r"-target=\S+google_secret_manager_secret\.account_token",
        ),
        (
            "the notification secrets created first",
            r"-target=\S+google_secret_manager_secret\.notification",
        ),
        (
            "an account's token added from stdin",
            r"gcloud secrets versions add \S+-metrika-token-\S+ .*\\?\n?.*--data-file=-",
        ),
        ("the account versions pinned", r"metrika_account_token_versions = \{\n\s+\w+ = \"\d+\""),
        ("the notification versions pinned", r"notify_secret_versions = \{\n\s+\w+ = \"\d+\""),
        (
            "droppers granted on the bucket",
            r"gcloud storage buckets add-iam-policy-binding gs://\S+(?: .*\\\n)*.*"
            r"--role=roles/storage\.objectCreator",
        ),
        ("a notification channel created", r"gcloud beta monitoring channels create"),
        ("the token read without echo", r"read -rs "),
        ("the token added from stdin", r"gcloud secrets versions add .*\\?\n?.*--data-file=-"),
        ("the version pinned", r'metrika_token_secret_version = "\d+"'),
        ("a file dropped by path", r"gcloud storage cp \S+\.csv gs://\S+\.csv\s*$"),
        (
            "a file dropped with metadata",
            r"gcloud storage cp .*\\?\n?.*"
            r"--custom-metadata=counter-id=[^,\s]+,type=[^,\s]+,comment=",
        ),
        ("the result read", r"gcloud storage cat gs://\S+\.result\.json"),
        ("the rejected rows fetched", r"gs://\S+\.rejected\.csv"),
        ("the bucket emptied, old versions too", r"gcloud storage rm --all-versions"),
        ("terraform destroy", r"^terraform destroy"),
        ("terraform validate", r"terraform validate"),
    ],
)
def test_readme_shows(readme: str, what: str, pattern: str) -> None:
    assert re.search(pattern, _code(readme), flags=re.MULTILINE), f"README must show {what}"


@pytest.mark.parametrize(
    ("what", "pattern"),
    [
        ("the prerequisites", r"^## Prerequisites"),
        ("where alerts go", r"^## Where alerts go"),
        ("notification channels", r"alert_notification_channels"),
        ("teardown", r"^## Teardown"),
        ("why the bucket resists destroy", r"force_destroy"),
        ("where terraform validate runs", r"validate.{0,200}provider"),
        ("what it costs", r"^## What it costs"),
        ("invocations, storage and the scheduler in the costs", r"Invocations.*Storage.*Scheduler"),
        ("that one apply is enough", r"One apply is enough"),
        ("what the waits are for", r"wait.{0,300}propagate.{0,600}404 Cannot find metric"),
        (
            "incidents closing when failures stop",
            r"evaluation_missing_data.{0,200}closes\s+by\s+itself",
        ),
        ("alerts firing again", r"next failure\s+opens a new incident"),
        ("the build account", r"<name_prefix>-build"),
        ("overwrites need more than objectCreator", r"objectCreator` cannot replace"),
    ],
)
def test_readme_explains(readme: str, what: str, pattern: str) -> None:
    assert re.search(pattern, readme, flags=re.MULTILINE | re.DOTALL), f"README must explain {what}"


def test_readme_lists_every_input_and_output(readme: str) -> None:
    config = tfconfig.load()
    names = set(re.findall(r"`(\w+)`", readme))
    assert set(config.variables) - names == set()
    assert set(config.outputs) - names == set()


def test_readme_never_puts_a_token_in_terraform(readme: str) -> None:
    assignments = re.findall(r"^\s*(\w*token\w*)\s*=", _code(readme), flags=re.MULTILINE)
    assert set(assignments) <= {"metrika_token_secret_version", "metrika_account_token_versions"}
    assert not re.search(r"(-var|TF_VAR_)\S*token", readme, flags=re.IGNORECASE)
