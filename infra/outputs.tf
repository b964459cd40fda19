output "bucket_name" {
  description = "Name of the input bucket."
  value       = google_storage_bucket.input.name
}

output "bucket_url" {
  description = "URL of the input bucket (gs://NAME)."
  value       = google_storage_bucket.input.url
}

output "input_url" {
  description = "Where to drop CSV files: gs://BUCKET/INPUT_PREFIX. Results appear next to each file."
  value       = "${google_storage_bucket.input.url}/${var.input_prefix}"
}

output "worker_function_name" {
  description = "Name of the storage-triggered function (entry point on_object_finalized)."
  value       = google_cloudfunctions2_function.worker.name
}

output "poller_function_name" {
  description = "Name of the follow-up function (entry point poll_uploads) called by Cloud Scheduler."
  value       = google_cloudfunctions2_function.poller.name
}

output "uploader_function_name" {
  description = "Name of the upload function (entry point upload_part) that Cloud Tasks calls once per part."
  value       = google_cloudfunctions2_function.uploader.name
}

output "work_bucket_name" {
  description = "Name of the work bucket: job state, parts, the ledger (no trigger)."
  value       = google_storage_bucket.work.name
}

output "upload_queue_names" {
  description = "The upload queues, one per Metrica account (default: the METRIKA_TOKEN account)."
  value       = { for id, queue in google_cloud_tasks_queue.upload : id => queue.name }
}

output "scheduler_job_name" {
  description = "Name of the Cloud Scheduler job that calls the follow-up function."
  value       = google_cloud_scheduler_job.poll_uploads.name
}

output "runtime_service_account_email" {
  description = "Service account the functions run as."
  value       = google_service_account.runtime.email
}

output "metrika_token_secret_id" {
  description = "ID of the Secret Manager secret that holds the Metrica OAuth token. Its value is added with gcloud, never through Terraform."
  value       = google_secret_manager_secret.metrika_token.secret_id
}

output "add_token_version_command" {
  description = "Command that adds a token version to the secret from stdin; it prints the version number to put into metrika_token_secret_version."
  value       = "gcloud secrets versions add ${google_secret_manager_secret.metrika_token.secret_id} --project=${var.project_id} --data-file=-"
}

output "account_token_secret_ids" {
  description = "IDs of the Secret Manager secrets of the further accounts' tokens, as account name => secret ID (names, not values)."
  value       = { for account, secret in google_secret_manager_secret.account_token : account => secret.secret_id }
}

output "notification_secret_ids" {
  description = "IDs of the Secret Manager secrets of the enabled notification targets, as slack_webhook, webhook or telegram_bot_token => secret ID (names, not values)."
  value       = { for name, secret in google_secret_manager_secret.notification : name => secret.secret_id }
}

output "add_secret_version_commands" {
  description = "For every secret of the stack (the default token, each account's token, each notification target), the command that adds a version from stdin; each prints the version number to pin."
  value = {
    for secret_id in concat(
      [google_secret_manager_secret.metrika_token.secret_id],
      [for secret in google_secret_manager_secret.account_token : secret.secret_id],
      [for secret in google_secret_manager_secret.notification : secret.secret_id],
    ) : secret_id => "gcloud secrets versions add ${secret_id} --project=${var.project_id} --data-file=-"
  }
}

output "build_service_account_email" {
  description = "Service account Cloud Build builds the functions as."
  value       = google_service_account.build.email
}

output "upload_example_command" {
  description = "A ready gcloud command that drops a file with its counter, type and comment given as object metadata."
  value       = "gcloud storage cp leads.csv ${google_storage_bucket.input.url}/${var.input_prefix}leads.csv --custom-metadata='counter-id=${coalesce(var.default_counter_id, "COUNTER_ID")},type=${var.default_type},comment=spring campaign'"
}

output "result_example_command" {
  description = "A ready gcloud command that prints the result of the file dropped by upload_example_command."
  value       = "gcloud storage cat ${google_storage_bucket.input.url}/${var.input_prefix}leads.csv.result.json"
}

output "alert_policy_names" {
  description = "Full names of the alert policies (rejected or failed files, uploads not linked, function errors)."
  value = [
    google_monitoring_alert_policy.file_failures.name,
    google_monitoring_alert_policy.metrika_outcomes.name,
    google_monitoring_alert_policy.function_errors.name,
  ]
}
