# Not here: compute.googleapis.com. Nothing of the stack runs on Compute Engine, and its default
# service account is not used: the functions run as the runtime account and are built as the
# build account (iam.tf), so a project where that account was never created, or was stripped
# of its grants, deploys the same way.
locals {
  required_apis = toset([
    "artifactregistry.googleapis.com", # the functions' container images
    "cloudbuild.googleapis.com",       # builds the functions from source
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project-level role bindings (iam.tf)
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com", # the upload queues
    "eventarc.googleapis.com",   # the storage trigger
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com", # Eventarc's transport for storage events
    "run.googleapis.com",    # 2nd gen functions run as Cloud Run services
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = var.enable_apis ? local.required_apis : toset([])

  project = var.project_id
  service = each.value

  # Other workloads of the project may use these APIs: destroying this stack leaves them on.
  disable_on_destroy         = false
  disable_dependent_services = false
}
