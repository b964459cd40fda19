# Two 2nd gen functions built from the same source:
#
#   worker  on_object_finalized  every object finalized in the input bucket (Eventarc); the
#                                code ignores what is not a *.csv under INPUT_PREFIX
#   poller  poll_uploads         HTTP, called by Cloud Scheduler (scheduler.tf) to follow each
#                                upload until Metrica reports its final status

resource "google_cloudfunctions2_function" "worker" {
  project     = var.project_id
  location    = var.region
  name        = local.worker_name
  description = "metrika-offline: checks, splits and uploads each CSV dropped under gs://${var.bucket_name}/${var.input_prefix} to Yandex Metrica."
  labels      = var.labels

  build_config {
    runtime     = "python312"
    entry_point = "on_object_finalized"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.function_source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.runtime.email
    available_memory      = "${var.worker_memory_mb}M"
    available_cpu         = tostring(var.worker_vcpu_count)
    timeout_seconds       = var.worker_timeout_s
    min_instance_count    = 0
    max_instance_count    = var.worker_max_instances
    # One event per instance, so one Metrica request per instance: the instance count is the
    # worker's whole share of Metrica's parallel requests.
    max_instance_request_concurrency = 1
    # Eventarc's deliveries are internal; nothing else has to reach the worker.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.function_environment, local.default_counter_environment, {
      INVOCATION_TIMEOUT_S = tostring(var.worker_timeout_s)
    })

    secret_environment_variables {
      key        = "METRIKA_TOKEN"
      project_id = var.project_id
      secret     = google_secret_manager_secret.metrika_token.secret_id
      version    = var.metrika_token_secret_version
    }
  }

  event_trigger {
    event_type = local.storage_finalized_event
    # A storage trigger must live where the bucket lives.
    trigger_region = lower(google_storage_bucket.input.location)
    # Without it a transient fault loses the file: raising is how the code asks for a retry,
    # and the code stops retrying on its own after max_event_age_s.
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.trigger.email

    # Cloud Storage triggers filter on the bucket only; the prefix is filtered in code.
    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.input.name
    }
  }

  lifecycle {
    precondition {
      condition     = var.worker_max_instances + local.poller_max_instances <= local.metrika_parallel_requests_per_user
      error_message = "The worker's and the follow-up's instances together must not exceed Metrica's 3 parallel requests per user."
    }
  }

  # Everything the trigger and a new revision need must exist before the first deploy: the
  # topic publisher role (or no event ever arrives), the receiver role, and the runtime's access
  # to the secret (or the revision cannot start).
  depends_on = [
    google_project_service.enabled,
    google_project_iam_member.gcs_agent_publishes_events,
    google_project_iam_member.trigger_receives_events,
    google_secret_manager_secret_iam_member.runtime_token,
    google_storage_bucket_iam_member.runtime_objects,
  ]
}

resource "google_cloudfunctions2_function" "poller" {
  project     = var.project_id
  location    = var.region
  name        = local.poller_name
  description = "metrika-offline: asks Metrica for the status of pending uploads and writes the outcome into each file's result."
  labels      = var.labels

  build_config {
    runtime     = "python312"
    entry_point = "poll_uploads"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.function_source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    available_memory                 = "${var.poller_memory_mb}M"
    timeout_seconds                  = var.poller_timeout_s
    min_instance_count               = 0
    max_instance_count               = local.poller_max_instances
    max_instance_request_concurrency = 1
    # Cloud Scheduler in the same project reaches internal-only services on their run.app URL;
    # invocation is further limited by IAM to the scheduler's account (iam.tf).
    ingress_settings               = var.poller_ingress_settings
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.function_environment, local.default_counter_environment, {
      INVOCATION_TIMEOUT_S = tostring(var.poller_timeout_s)
    })

    secret_environment_variables {
      key        = "METRIKA_TOKEN"
      project_id = var.project_id
      secret     = google_secret_manager_secret.metrika_token.secret_id
      version    = var.metrika_token_secret_version
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_secret_manager_secret_iam_member.runtime_token,
    google_storage_bucket_iam_member.runtime_objects,
  ]
}
