# Uploads: the checker (functions.tf, `worker`) queues one Cloud Tasks HTTP task per part on its
# Metrica account's queue; each task calls `upload_part` (the `uploader` function below) with an
# OIDC token of the invoker account. The queue is what holds Metrica's limit, not the instance
# counts: Metrica answers at most 3 concurrent requests per user (per token), the follow-up
# takes one, so each account's queue dispatches at most 2 at once. An agency with ten accounts
# keeps twenty uploads in flight, one with one account two.
#
#   default          the METRIKA_TOKEN account's queue
#   <account>        one per metrika_accounts name (its id: lower case, "_" made "-")
#
# A queue's name cannot be reused for about a week after it is deleted: removing an account and
# adding it back within that time fails until the name is free again.

locals {
  # Each queue's share of Metrica's per-user limit, the follow-up's one request set aside.
  upload_concurrency_per_account = local.metrika_parallel_requests_per_user - local.poller_max_instances
  # The same ids as the code's `queue_id` (metrika_offline/tasks/cloud_tasks.py).
  upload_queue_ids    = toset(concat(["default"], [for account in keys(var.metrika_accounts) : replace(account, "_", "-")]))
  upload_queue_prefix = "${var.name_prefix}-upload-"
  # UPLOAD_QUEUE: the code puts the account's queue id in place of {account}.
  upload_queue_template = "projects/${var.project_id}/locations/${var.region}/queues/${local.upload_queue_prefix}{account}"
  uploader_name         = "${var.name_prefix}-upload-part"
  # The function's cloudfunctions.net URL is known before it exists, so the uploader, which puts
  # a waiting part back on its queue, can be told its own URL.
  uploader_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.uploader_name}"

  upload_environment = {
    WORK_BUCKET    = google_storage_bucket.work.name
    UPLOAD_QUEUE   = local.upload_queue_template
    UPLOAD_URL     = local.uploader_url
    UPLOAD_INVOKER = google_service_account.tasks_invoker.email
  }
}

resource "google_cloud_tasks_queue" "upload" {
  for_each = local.upload_queue_ids

  project  = var.project_id
  location = var.region
  name     = "${local.upload_queue_prefix}${each.key}"

  rate_limits {
    max_concurrent_dispatches = local.upload_concurrency_per_account
    max_dispatches_per_second = var.upload_dispatches_per_s
  }

  # A task the uploader could not finish (Metrica down, a part held by a dead worker's lease)
  # comes back with a growing pause, for as long as a storage event would: then it is given up,
  # and the part stays `sending` or pending in its result for a person to see.
  retry_config {
    max_attempts       = -1
    max_retry_duration = "${var.max_event_age_s}s"
    min_backoff        = "10s"
    max_backoff        = "600s"
    max_doublings      = 5
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloudfunctions2_function" "uploader" {
  # checkov:skip=CKV_GCP_124: Cloud Tasks calls the function on its cloudfunctions.net URL (known before the function exists, so the uploader can put a part back on its own queue), which is not internal traffic; only the invoker account may invoke it (iam.tf).
  project     = var.project_id
  location    = var.region
  name        = local.uploader_name
  description = "metrika-offline: uploads one part to Yandex Metrica exactly once, as Cloud Tasks asks."
  labels      = var.labels

  build_config {
    runtime     = "python312"
    entry_point = "upload_part"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.function_source.name
      }
    }
    service_account   = google_service_account.build.id
    docker_repository = local.function_build_repository
  }

  service_config {
    service_account_email = google_service_account.runtime.email
    available_memory      = "${var.uploader_memory_mb}M"
    timeout_seconds       = var.uploader_timeout_s
    min_instance_count    = 0
    # The queues hold the Metrica limit; this only bounds the instances they can ask for.
    max_instance_count               = local.upload_concurrency_per_account * length(local.upload_queue_ids)
    max_instance_request_concurrency = 1
    # Only the invoker account may call it (iam.tf); the cloudfunctions.net URL it is called on
    # is not internal traffic, so the ingress is open and IAM is the gate.
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.function_environment, local.upload_environment, local.optional_environment, local.allocator_environment, {
      INVOCATION_TIMEOUT_S = tostring(var.uploader_timeout_s)
    })

    secret_environment_variables {
      key        = "METRIKA_TOKEN"
      project_id = var.project_id
      secret     = google_secret_manager_secret.metrika_token.secret_id
      version    = var.metrika_token_secret_version
    }

    dynamic "secret_environment_variables" {
      for_each = local.secret_environment
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.missing_account_token_versions) == 0
      error_message = "metrika_account_token_versions must pin a token version for every account of metrika_accounts (missing: ${join(", ", local.missing_account_token_versions)}). Add each token with gcloud first (see the README)."
    }
    precondition {
      condition     = var.uploader_timeout_s <= 600
      error_message = "uploader_timeout_s must not pass Cloud Tasks' default dispatch deadline of 600 s for HTTP tasks."
    }
  }

  depends_on = [
    google_project_service.enabled,
    time_sleep.iam_propagation,
  ]
}
