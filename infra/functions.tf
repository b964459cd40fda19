# Three 2nd gen functions built from the same source:
#
#   worker    on_object_finalized  every object finalized in the input bucket (Eventarc); the
#                                  code ignores what is not a *.csv under INPUT_PREFIX; checks,
#                                  splits and queues the parts, never uploads
#   uploader  upload_part          HTTP, called by Cloud Tasks once per part (tasks.tf)
#   poller    poll_uploads         HTTP, called by Cloud Scheduler (scheduler.tf) to follow each
#                                  upload until Metrica reports its final status
#
# Both are built by Cloud Build as the stack's build account into the stack's image repository,
# and both run as the runtime account with the same environment and the same secrets.

locals {
  # Plain environment: the contract's settings, then the optional ones.
  optional_environment = merge(local.default_counter_environment, local.accounts_environment, local.notification_environment)

  # Secret environment besides METRIKA_TOKEN: each account's token and each enabled notification
  # target, as variable name => the secret and its pinned version. Only names and numbers here.
  secret_environment = merge(
    {
      for account, env in local.account_token_env : env => {
        secret  = google_secret_manager_secret.account_token[account].secret_id
        version = try(var.metrika_account_token_versions[account], null)
      }
    },
    {
      for name, env in local.notification_secret_env : env => {
        secret  = google_secret_manager_secret.notification[name].secret_id
        version = try(var.notify_secret_versions[name], null)
      }
    },
  )

  function_build_repository = google_artifact_registry_repository.functions.id

  # Checked by both functions before anything is deployed (see their preconditions).
  missing_account_token_versions = setsubtract(keys(var.metrika_accounts), keys(var.metrika_account_token_versions))
  missing_notify_secret_versions = setsubtract(keys(local.notification_secret_env), keys(var.notify_secret_versions))
}

resource "google_cloudfunctions2_function" "worker" {
  project     = var.project_id
  location    = var.region
  name        = local.worker_name
  description = "metrika-offline: checks and splits each CSV dropped under gs://${var.bucket_name}/${var.input_prefix} and queues its parts for upload to Yandex Metrica."
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
    # Built as the stack's build account (its full resource name), pushed to the stack's repository.
    service_account   = google_service_account.build.id
    docker_repository = local.function_build_repository
  }

  service_config {
    service_account_email = google_service_account.runtime.email
    available_memory      = "${var.worker_memory_mb}M"
    available_cpu         = tostring(var.worker_vcpu_count)
    timeout_seconds       = var.worker_timeout_s
    min_instance_count    = 0
    max_instance_count    = var.worker_max_instances
    # One file per instance: checking is CPU-bound. The worker's only Metrica call, the goals
    # of a counter, is made by one instance at a time per counter (cached in the work bucket).
    max_instance_request_concurrency = 1
    # Eventarc's deliveries are internal; nothing else has to reach the worker.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.function_environment, local.upload_environment, local.optional_environment, local.allocator_environment, {
      INVOCATION_TIMEOUT_S = tostring(var.worker_timeout_s)
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
      condition     = length(local.missing_account_token_versions) == 0
      error_message = "metrika_account_token_versions must pin a token version for every account of metrika_accounts (missing: ${join(", ", local.missing_account_token_versions)}). Add each token with gcloud first (see the README)."
    }
    precondition {
      condition     = length(local.missing_notify_secret_versions) == 0
      error_message = "notify_secret_versions must pin a version for every enabled notification target (missing: ${join(", ", local.missing_notify_secret_versions)}). Add each value with gcloud first (see the README)."
    }
  }

  # Everything the build, the trigger and a new revision need must exist, and have propagated,
  # before the first deploy: the build's roles, the topic publisher role (or no event ever
  # arrives), the receiver role, and the runtime's access to the bucket and the secrets (or the
  # revision cannot start). time_sleep.iam_propagation depends on all of those grants (waits.tf).
  depends_on = [
    google_project_service.enabled,
    time_sleep.iam_propagation,
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
    # Built as the stack's build account (its full resource name), pushed to the stack's repository.
    service_account   = google_service_account.build.id
    docker_repository = local.function_build_repository
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

    environment_variables = merge(local.function_environment, local.upload_environment, local.optional_environment, local.allocator_environment, {
      INVOCATION_TIMEOUT_S = tostring(var.poller_timeout_s)
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
      condition     = length(local.missing_notify_secret_versions) == 0
      error_message = "notify_secret_versions must pin a version for every enabled notification target (missing: ${join(", ", local.missing_notify_secret_versions)}). Add each value with gcloud first (see the README)."
    }
  }

  # The build's roles and the runtime's access to the bucket and the secrets, propagated (waits.tf).
  depends_on = [
    google_project_service.enabled,
    time_sleep.iam_propagation,
  ]
}
