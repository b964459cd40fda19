# The Metrica OAuth tokens live in Secret Manager. Terraform creates each secret (the container)
# and nothing else: the value is added by a person with `gcloud secrets versions add` reading it
# from stdin (see the README), so it is never in a variable, a tfvars file, a plan or the state.
# Neither a google_secret_manager_secret_version resource nor its data source may appear in this
# module: both keep the secret's payload in the state.
#
# The functions read one pinned version (var.metrika_token_secret_version), resolved by the
# platform when an instance starts; the code sees it as the METRIKA_TOKEN environment variable.
resource "google_secret_manager_secret" "metrika_token" {
  project   = var.project_id
  secret_id = local.metrika_token_secret_id
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# One token per further Yandex account (var.metrika_accounts), each in its own secret so that
# each can be rotated, disabled and granted on its own. Same rules as the default token: the
# secret only, its value added with gcloud, its version pinned (var.metrika_account_token_versions).
resource "google_secret_manager_secret" "account_token" {
  for_each = var.metrika_accounts

  project   = var.project_id
  secret_id = "${local.metrika_token_secret_id}-${replace(each.key, "_", "-")}"
  labels    = merge(var.labels, { metrika-account = replace(each.key, "_", "-") })

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# Where failures are reported besides the alert policies: a Slack-style incoming webhook URL, a
# generic JSON webhook URL, a Telegram bot token. Each URL carries its own credential, so each is
# a secret like the tokens; versions pinned in var.notify_secret_versions.
resource "google_secret_manager_secret" "notification" {
  for_each = local.notification_secret_env

  project   = var.project_id
  secret_id = "${var.name_prefix}-notify-${replace(each.key, "_", "-")}"
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
