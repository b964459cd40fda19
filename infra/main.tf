# metrika-offline on Google Cloud: a bucket watched by a worker function that checks, splits and
# uploads each dropped CSV to Yandex Metrica, and a scheduled follow-up that asks Metrica for
# each upload's final status. The resources are split by concern:
#
#   apis.tf        the APIs the stack needs
#   storage.tf     the input bucket
#   source.tf      the function source: zipped, uploaded under its hash
#   iam.tf         service accounts and every role binding
#   secret.tf      the Secret Manager secret for the Metrica token (the value never passes here)
#   functions.tf   the worker (storage trigger) and the follow-up (HTTP) functions
#   scheduler.tf   the Cloud Scheduler job that calls the follow-up
#   monitoring.tf  log-based metrics and alert policies

locals {
  # Metrica answers at most this many concurrent requests per user (its documented quota).
  metrika_parallel_requests_per_user = 3
  # The follow-up runs on one instance, one request at a time: two overlapping polls of the
  # same uploads would only spend Metrica's daily request quota twice.
  poller_max_instances = 1

  function_source_dir = coalesce(var.function_source_dir, "${path.module}/../function")
  bucket_location     = upper(coalesce(var.bucket_location, var.region))

  worker_name             = "${var.name_prefix}-upload"
  poller_name             = "${var.name_prefix}-poll"
  source_bucket_name      = "${var.bucket_name}-function-source"
  metrika_token_secret_id = "${var.name_prefix}-metrika-token"
  file_failures_metric    = "${var.name_prefix}-file-failures"
  metrika_outcomes_metric = "${var.name_prefix}-metrika-outcomes"
  storage_finalized_event = "google.cloud.storage.object.v1.finalized"

  # Both functions run the same code and read the same settings (the package's config module
  # says what each one means). METRIKA_TOKEN is not here: it is a secret environment variable
  # that the platform reads from Secret Manager (functions.tf). The follow-up is called without
  # an event, so BUCKET tells it which bucket's pending uploads to follow.
  function_environment = {
    METRIKA_API_URL = var.metrika_api_url
    BUCKET          = google_storage_bucket.input.name
    INPUT_PREFIX    = var.input_prefix
    WORK_PREFIX     = var.work_prefix
    DEFAULT_TYPE    = var.default_type
    MAX_PART_BYTES  = tostring(var.max_part_bytes)
    TIMEZONE        = var.timezone
    MAX_EVENT_AGE_S = tostring(var.max_event_age_s)
    POLL_GIVE_UP_S  = tostring(var.poll_give_up_s)
    LOG_LEVEL       = var.log_level
  }
  # Set only when given: an absent DEFAULT_COUNTER_ID means "no default counter".
  default_counter_environment = var.default_counter_id == null ? {} : { DEFAULT_COUNTER_ID = var.default_counter_id }
}

# The Cloud Storage service agent publishes the bucket's object events (iam.tf). Reading it
# also makes sure it exists in a project that has never used Cloud Storage notifications.
data "google_storage_project_service_account" "gcs_agent" {
  project = var.project_id

  depends_on = [google_project_service.enabled]
}
