# The smallest complete deployment: the module with its defaults, a project, a bucket, a region,
# the pinned token version and where alerts go. Copy terraform.tfvars.example to terraform.tfvars,
# fill it in, then follow infra/README.md.

provider "google" {
  project = var.project_id
  region  = var.region
}

module "metrika_offline" {
  source = "../.."

  project_id                   = var.project_id
  region                       = var.region
  bucket_name                  = var.bucket_name
  default_counter_id           = var.default_counter_id
  metrika_token_secret_version = var.metrika_token_secret_version
  alert_notification_channels  = var.alert_notification_channels
  labels = {
    app = "metrika-offline"
  }
}
