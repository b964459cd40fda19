# The function source: the function/ directory zipped and uploaded as an object named by the
# zip's hash. A code change gives a new name, the functions' storage_source changes with it, and
# the next apply rebuilds and redeploys them; an unchanged tree gives the same name and nothing
# is redeployed.

data "archive_file" "function_source" {
  type        = "zip"
  source_dir  = local.function_source_dir
  output_path = "${path.root}/.terraform/tmp/metrika-offline-function-source.zip"
  # Same bytes on every machine whatever the local umask, so the same tree gives the same hash.
  output_file_mode = "0644"

  excludes = [
    "**/__pycache__",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/*.egg-info",
    "**/*.egg-info/**",
    "**/.mypy_cache/**",
    "**/.pytest_cache/**",
  ]
}

# Build input only: it can be recreated from the repository at any time, hence force_destroy.
resource "google_storage_bucket" "function_source" {
  # checkov:skip=CKV_GCP_62: Holds only the zipped source, rebuilt from the repository on every apply and read only by the build; an access log of it would record nothing worth keeping.
  project  = var.project_id
  name     = local.source_bucket_name
  location = upper(var.region)
  labels   = var.labels

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  # A replaced zip is only needed until the build that used it has finished.
  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "function_source" {
  name         = "function-source/${data.archive_file.function_source.output_sha256}.zip"
  bucket       = google_storage_bucket.function_source.name
  source       = data.archive_file.function_source.output_path
  content_type = "application/zip"
}

# The functions' container images. Cloud Functions would otherwise push them to a repository it
# creates itself (gcf-artifacts) on the first deploy, which cannot be granted on beforehand: with
# a repository of the stack, the build account may write here and nowhere else (iam.tf), and old
# images do not pile up.
resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84: The images hold the function code and its libraries only, no data and no secret (tokens are read from Secret Manager at run time); a customer-managed key would add a key ring to run and pay for and protect nothing the source repository does not already hold.
  project       = var.project_id
  location      = var.region
  repository_id = local.artifact_repository_id
  format        = "DOCKER"
  description   = "metrika-offline: container images of the worker and follow-up functions, built by Cloud Build."
  labels        = var.labels

  # Every deploy pushes an image per function (and a build cache). Keep the last few of each so
  # that a rollback is possible, delete the rest after a month. KEEP wins over DELETE, so the
  # images the functions run are never removed.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
