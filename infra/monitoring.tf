# Alerting. The code logs one structured line (jsonPayload) per file's final outcome and one per
# upload's final Metrica status:
#
#   {"event": "file_result", "status": "rejected" | "failed" | "partially_uploaded" | "uploaded"
#    | "validated", "bucket": ..., "name": ..., "generation": ..., "severity": ..., "message": ...}
#   {"event": "metrika_outcome", "outcome": "processed" | "linkage_failure" | "status_unknown", ...}
#
# Two log-based metrics count the bad ones; three alert policies watch them and the functions'
# own failures. Alerts go to var.alert_notification_channels.
#
# What an operator sees: a failure opens an incident (one per status or outcome, or per function)
# and notifies the channels. With no further failure, the next alignment period has no data, the
# condition stops holding and the incident closes by itself, with a "resolved" notification. The
# next failure opens a new incident and notifies again. alert_strategy.auto_close (no data for
# that long closes an incident) is the upper bound.

locals {
  # 2nd gen functions log as Cloud Run services named after the functions. Logging and
  # Monitoring filters are written on one line each: the two languages differ, and neither
  # needs the other's line breaks.
  function_logs_filter    = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(\"${local.worker_name}\" OR \"${local.poller_name}\")"
  file_failures_filter    = "${local.function_logs_filter} AND jsonPayload.event=\"file_result\" AND jsonPayload.status=(\"rejected\" OR \"failed\")"
  metrika_outcomes_filter = "${local.function_logs_filter} AND jsonPayload.event=\"metrika_outcome\" AND jsonPayload.outcome=(\"linkage_failure\" OR \"status_unknown\")"
  function_errors_filter  = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND metric.labels.response_code_class=\"5xx\" AND resource.labels.service_name=one_of(\"${local.worker_name}\", \"${local.poller_name}\")"
  notification_channels   = var.alert_notification_channels
}

resource "google_logging_metric" "file_failures" {
  project     = var.project_id
  name        = local.file_failures_metric
  description = "metrika-offline: files whose final result is rejected (bad data, no counter) or failed (Metrica refused, gave up retrying), by status."
  filter      = local.file_failures_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "metrika-offline files rejected or failed"
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "The file's final status: rejected or failed."
    }
  }

  label_extractors = {
    status = "EXTRACT(jsonPayload.status)"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_logging_metric" "metrika_outcomes" {
  project     = var.project_id
  name        = local.metrika_outcomes_metric
  description = "metrika-offline: uploads whose final Metrica status is LINKAGE_FAILURE, or still unknown when the follow-up gave up, by outcome."
  filter      = local.metrika_outcomes_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "metrika-offline uploads not linked"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "linkage_failure or status_unknown."
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "file_failures" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: files rejected or failed"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels

  conditions {
    display_name = "A dropped file was rejected or failed"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.file_failures.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      # The metrics are sparse: a point exists only where something went wrong. Missing data
      # makes the condition false, so the incident closes once failures stop, and the next
      # failure opens a new incident and notifies again (instead of the first incident staying
      # open until auto_close while later failures notify no one).
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.status"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "${var.alert_auto_close_s}s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A CSV dropped in gs://${var.bucket_name}/${var.input_prefix} ended as **rejected** (its data
      or routing is wrong: no counter, wrong type, too many invalid rows) or **failed** (Metrica
      refused it, or the upload kept failing). Each file's report sits next to it:
      `gcloud storage cat gs://${var.bucket_name}/${var.input_prefix}PATH/FILE.csv.result.json`.
      To list the files concerned, query Logs Explorer for
      `jsonPayload.event="file_result" jsonPayload.status=("rejected" OR "failed")`.
    EOT
  }

  # Cloud Monitoring refuses a policy on a log-based metric it does not know yet (waits.tf).
  depends_on = [time_sleep.log_metrics_propagation]
}

resource "google_monitoring_alert_policy" "metrika_outcomes" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: uploads not linked by Metrica"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels

  conditions {
    display_name = "An upload ended in LINKAGE_FAILURE or its status stayed unknown"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.metrika_outcomes.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      # The metrics are sparse: a point exists only where something went wrong. Missing data
      # makes the condition false, so the incident closes once failures stop, and the next
      # failure opens a new incident and notifies again (instead of the first incident staying
      # open until auto_close while later failures notify no one).
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.outcome"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "${var.alert_auto_close_s}s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Metrica accepted an upload but linked none of its conversions (LINKAGE_FAILURE), or the
      follow-up gave up before Metrica reported a final status. Usual causes: conversions older
      than the linking window, IDs of the wrong kind for the counter, a goal (Target) that does
      not exist. The file's result JSON names the upload and carries Metrica's counters; query
      Logs Explorer for `jsonPayload.event="metrika_outcome"` to find it.
    EOT
  }

  # Cloud Monitoring refuses a policy on a log-based metric it does not know yet (waits.tf).
  depends_on = [time_sleep.log_metrics_propagation]
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: function invocations failing"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "Invocations answered with 5xx (exceptions, crashes, timeouts)"
    condition_threshold {
      filter          = local.function_errors_filter
      comparison      = "COMPARISON_GT"
      threshold_value = var.function_error_alert_threshold_count
      duration        = "0s"
      # The metrics are sparse: a point exists only where something went wrong. Missing data
      # makes the condition false, so the incident closes once failures stop, and the next
      # failure opens a new incident and notifies again (instead of the first incident staying
      # open until auto_close while later failures notify no one).
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
      aggregations {
        alignment_period     = "${var.function_error_alert_window_s}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "${var.alert_auto_close_s}s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      ${local.worker_name} or ${local.poller_name} answered more than
      ${var.function_error_alert_threshold_count} invocations with an error within
      ${var.function_error_alert_window_s} s. The worker raises on transient faults so that the
      event is retried; a steady stream means Metrica or Cloud Storage keeps failing, the token
      is wrong or expired, or the code crashes. Read the functions' logs at severity ERROR in
      Logs Explorer.
    EOT
  }
}
