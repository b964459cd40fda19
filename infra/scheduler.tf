# Metrica takes up to a couple of hours to process an upload. Every poll_interval_minutes the
# scheduler calls the follow-up function, which asks Metrica about the uploads still pending and
# writes their final status into each file's result.
resource "google_cloud_scheduler_job" "poll_uploads" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-poll-uploads"
  description = "Calls ${local.poller_name} to follow pending Metrica uploads until their status is final."

  schedule         = "*/${var.poll_interval_minutes} * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "${var.poller_timeout_s}s"

  # A missed run is not retried: the next one, poll_interval_minutes later, does the same work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    # The run.app URL: the one Cloud Scheduler's requests count as internal traffic on.
    uri = google_cloudfunctions2_function.poller.service_config[0].uri

    # Signed as the scheduler's service account; the function accepts no other caller.
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.poller.service_config[0].uri
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_cloud_run_service_iam_member.scheduler_invokes_poller,
  ]
}
