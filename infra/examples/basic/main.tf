# The smallest complete deployment: the module with its defaults, a project, a bucket, a region,
# the pinned token version and where alerts go; more accounts and notifications when asked for.
# Copy terraform.tfvars.example to terraform.tfvars, fill it in, then follow infra/README.md.

provider "google" {
  project = var.project_id
  region  = var.region
}

module "metrika_offline" {
  source = "../.."

  project_id                     = var.project_id
  region                         = var.region
  bucket_name                    = var.bucket_name
  default_counter_id             = var.default_counter_id
  timezone                       = var.timezone
  metrika_token_secret_version   = var.metrika_token_secret_version
  metrika_accounts               = var.metrika_accounts
  metrika_account_token_versions = var.metrika_account_token_versions
  notify_slack_webhook           = var.notify_slack_webhook
  notify_webhook                 = var.notify_webhook
  notify_telegram_chat_id        = var.notify_telegram_chat_id
  notify_secret_versions         = var.notify_secret_versions
  alert_notification_channels    = var.alert_notification_channels
  labels = {
    app = "metrika-offline"
  }
}
