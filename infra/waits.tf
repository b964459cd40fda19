# Waits where Google documents a delay between "created" and "usable", so that one apply (after
# the secrets step of the README) goes through on a fresh project instead of failing halfway.
# Each wait runs when it is created and again only when one of its triggers changes: a later
# apply that changes none of them does not wait.

locals {
  # IAM: "policy changes typically take 2 minutes to propagate" (and sometimes longer). The
  # provider's own tests wait before using freshly granted roles for the same reason.
  iam_propagation_wait = "120s"
  # A new log-based metric: creating an alert policy on it fails with "404 Cannot find
  # metric(s) ... it could take up to 10 minutes to become available".
  log_metric_propagation_wait = "600s"
}

# Every grant a function needs before its first revision and its trigger can work: the Storage
# agent's publisher role (else no event ever arrives), the trigger's receiver role, the build's
# roles (else the build cannot fetch the source, log or push), and the runtime's access to the
# bucket and to each secret (else the revision cannot start). The functions depend on this wait,
# not only on the bindings.
resource "time_sleep" "iam_propagation" {
  create_duration = local.iam_propagation_wait

  # A new or changed grant waits again; the ids of for_each bindings cover added accounts and
  # notification targets.
  triggers = {
    gcs_agent_publisher   = google_project_iam_member.gcs_agent_publishes_events.id
    trigger_receiver      = google_project_iam_member.trigger_receives_events.id
    build_logs            = google_project_iam_member.build_writes_logs.id
    build_source          = google_project_iam_member.build_reads_source.id
    build_images          = google_artifact_registry_repository_iam_member.build_writes_images.id
    runtime_objects       = google_storage_bucket_iam_member.runtime_objects.id
    runtime_work_objects  = google_storage_bucket_iam_member.runtime_work_objects.id
    runtime_enqueues      = jsonencode(sort([for binding in google_cloud_tasks_queue_iam_member.runtime_enqueues : binding.id]))
    runtime_acts_as       = google_service_account_iam_member.runtime_acts_as_invoker.id
    runtime_token         = google_secret_manager_secret_iam_member.runtime_token.id
    runtime_account_token = jsonencode(sort([for binding in google_secret_manager_secret_iam_member.runtime_account_tokens : binding.id]))
    runtime_notification  = jsonencode(sort([for binding in google_secret_manager_secret_iam_member.runtime_notifications : binding.id]))
  }
}

# The alert policies on the log-based metrics wait until Cloud Monitoring knows the metrics.
resource "time_sleep" "log_metrics_propagation" {
  create_duration = local.log_metric_propagation_wait

  # A renamed (that is, new) metric waits again.
  triggers = {
    file_failures    = google_logging_metric.file_failures.id
    metrika_outcomes = google_logging_metric.metrika_outcomes.id
  }
}
