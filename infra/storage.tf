# The input bucket: people and CRM exports drop CSV files under input_prefix; the worker writes
# each file's result (<name>.result.json, <name>.rejected.csv) next to it and keeps its own
# state under work_prefix.
#
# No force_destroy: this bucket holds the users' files and their results. `terraform destroy`
# stops here until the bucket has been emptied by hand (see the README).
resource "google_storage_bucket" "input" {
  # checkov:skip=CKV_GCP_62: Usage logs are a legacy hourly CSV export; who read or wrote which object is recorded by Cloud Storage Data Access audit logs (the README says how to turn them on), and the function logs every file it handles.
  project  = var.project_id
  name     = var.bucket_name
  location = local.bucket_location
  labels   = var.labels

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # A file overwritten by mistake, or a result replaced, can be recovered.
  versioning {
    enabled = true
  }

  # Work state (parts, job state, dispatch orders, the pending-uploads index) is rewritten often
  # and is worth nothing once every upload is final: delete it after work_retention_days. The
  # folders are listed (layout.STATE_FOLDERS) so that the ledger beside them is not.
  lifecycle_rule {
    condition {
      age            = var.work_retention_days
      matches_prefix = [for folder in local.work_state_folders : "${var.work_prefix}${folder}"]
    }
    action {
      type = "Delete"
    }
  }

  # The ledger of rows sent (what keeps a rolling export from sending a row twice) must outlast
  # the longest window it is read with: delete it after ledger_retention_days.
  lifecycle_rule {
    condition {
      age            = var.ledger_retention_days
      matches_prefix = ["${var.work_prefix}ledger/"]
    }
    action {
      type = "Delete"
    }
  }

  # Every compare-and-swap write of the work state leaves an old version behind: drop those
  # after a day instead of keeping them as long as the users' own old versions.
  lifecycle_rule {
    condition {
      matches_prefix             = [var.work_prefix]
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = 1
    }
    action {
      type = "Delete"
    }
  }

  # Old versions of everything else (users' files, results) go after a grace period.
  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    precondition {
      condition     = !startswith(var.work_prefix, var.input_prefix) && !startswith(var.input_prefix, var.work_prefix)
      error_message = "work_prefix and input_prefix must not contain one another: the function's own state would be taken for dropped files, or be deleted with them."
    }
    precondition {
      condition     = var.ledger_retention_days > var.ledger_window_days
      error_message = "ledger_retention_days must outlast ledger_window_days: rows sent within the window are read from the ledger."
    }
    precondition {
      condition     = var.work_retention_days * 86400 > var.poll_give_up_s
      error_message = "work_retention_days must outlast poll_give_up_s: the follow-up needs the work state until it gives up."
    }
  }

  depends_on = [google_project_service.enabled]
}
