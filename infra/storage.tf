# The input bucket: people and CRM exports drop CSV files under input_prefix; the worker writes
# each file's result (<name>.result.json, <name>.rejected.csv) next to it. Every object
# finalized here is an event of the worker, so its own state lives in the work bucket below.
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

  # Old versions (users' files, results) go after a grace period.
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
  }

  depends_on = [google_project_service.enabled]
}

# The work bucket: job state, parts, the ledger, locks, the pending-uploads index, under
# work_prefix. No trigger watches it: the functions' own writes here fire nothing. Only the
# runtime account reads or writes it (iam.tf).
resource "google_storage_bucket" "work" {
  # checkov:skip=CKV_GCP_62: Usage logs are a legacy hourly CSV export; the functions log every write that matters, and Data Access audit logs can be turned on (README).
  # checkov:skip=CKV_GCP_78: No versioning: every write is a compare-and-swap on the object's generation, and an old version of the work state is worth nothing.
  project  = var.project_id
  name     = local.work_bucket_name
  location = local.bucket_location
  labels   = var.labels

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # No force_destroy either: the ledger here is what keeps a rolling export from sending a row
  # twice, and `terraform destroy` should not take it by accident.

  # Work state (parts, job state, the pending-uploads index) is rewritten often and is worth
  # nothing once every upload is final: delete it after work_retention_days. The
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

  lifecycle {
    precondition {
      condition     = var.ledger_retention_days > var.ledger_window_days
      error_message = "ledger_retention_days must outlast ledger_window_days: rows sent within the window are read from the ledger."
    }
    precondition {
      condition     = var.work_retention_days * 86400 > var.poll_give_up_s
      error_message = "work_retention_days must outlast poll_give_up_s: the follow-up needs the work state until it gives up."
    }
    precondition {
      condition     = local.work_bucket_name != var.bucket_name
      error_message = "work_bucket_name must name another bucket than bucket_name: the work bucket has no trigger."
    }
  }

  depends_on = [google_project_service.enabled]
}
