# metrika-offline on Google Cloud: a bucket watched by a worker function that checks and splits
# each dropped CSV and queues its parts, an upload function that Cloud Tasks calls once per
# part (one queue per Metrica account), and a scheduled follow-up that asks Metrica for each
# upload's final status. The resources are split by concern:
#
#   apis.tf        the APIs the stack needs
#   storage.tf     the input bucket, and the work bucket (no trigger) the functions keep state in
#   tasks.tf       the upload queues and the upload function
#   source.tf      the function source, and the Artifact Registry repository of the built images
#   iam.tf         service accounts and every role binding
#   secret.tf      the Secret Manager secrets: Metrica tokens, notification targets (containers
#                  only: no value ever passes here)
#   waits.tf       waits where Google documents propagation delays
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
  work_bucket_name        = coalesce(var.work_bucket_name, "${var.bucket_name}-work")
  metrika_token_secret_id = "${var.name_prefix}-metrika-token"
  artifact_repository_id  = "${var.name_prefix}-functions"
  file_failures_metric    = "${var.name_prefix}-file-failures"
  metrika_outcomes_metric = "${var.name_prefix}-metrika-outcomes"
  storage_finalized_event = "google.cloud.storage.object.v1.finalized"

  # The three functions run the same code and read the same settings (the package's config module
  # says what each one means). METRIKA_TOKEN is not here: it is a secret environment variable
  # that the platform reads from Secret Manager (functions.tf). The follow-up is called without
  # an event, so BUCKET tells it which bucket's pending uploads to follow.
  function_environment = {
    METRIKA_API_URL    = var.metrika_api_url
    BUCKET             = google_storage_bucket.input.name
    INPUT_PREFIX       = var.input_prefix
    WORK_PREFIX        = var.work_prefix
    DEFAULT_TYPE       = var.default_type
    MAX_PART_BYTES     = tostring(var.max_part_bytes)
    TIMEZONE           = var.timezone
    MAX_EVENT_AGE_S    = tostring(var.max_event_age_s)
    POLL_GIVE_UP_S     = tostring(var.poll_give_up_s)
    LOG_LEVEL          = var.log_level
    LEDGER_WINDOW_DAYS = tostring(var.ledger_window_days)
  }
  # Not a setting of ours but of the C library's allocator, read when the process starts: a
  # block of 128 KiB or more is always mapped on its own and handed back to the system when
  # freed. Left to itself, the allocator raises that threshold after the first such block is
  # freed (up to 32 MiB), and from then on the streams' megabyte buffers come from a heap that
  # only grows. Measured with tests/bench/bench_e2e.py: the worker's peak RSS for a 200 MB file
  # falls by about 50 MB, and with the ledger off three such files in one process peak at 232,
  # 235 and 236 MB instead of 280, 289 and 313.
  allocator_environment = { MALLOC_MMAP_THRESHOLD_ = "131072" }
  # What the work-state lifecycle rule deletes under work_prefix (flow/record/layout.py STATE_FOLDERS);
  # the ledger/ folder beside them has a rule of its own.
  work_state_folders = ["jobs/", "parts/", "pending/", "goals/"]
  # Set only when given: an absent DEFAULT_COUNTER_ID means "no default counter".
  default_counter_environment = var.default_counter_id == null ? {} : { DEFAULT_COUNTER_ID = var.default_counter_id }

  # ---- More Yandex accounts (var.metrika_accounts) -------------------------------------------
  # Each account has its own token secret, read as METRIKA_TOKEN_<ACCOUNT> (the name upper-cased,
  # anything not a letter or digit turned into "_"); METRIKA_ACCOUNTS tells the code which
  # counter belongs to which account. Counters of no account use METRIKA_TOKEN.
  account_token_env = {
    for account in keys(var.metrika_accounts) :
    account => "METRIKA_TOKEN_${upper(replace(account, "/[^A-Za-z0-9]/", "_"))}"
  }
  counter_accounts = merge([
    for account, counters in var.metrika_accounts : { for counter in counters : counter => account }
  ]...)
  # Set only when there are accounts, like DEFAULT_COUNTER_ID.
  accounts_environment = length(var.metrika_accounts) == 0 ? {} : { METRIKA_ACCOUNTS = jsonencode(local.counter_accounts) }

  # ---- Notifications ---------------------------------------------------------------------------
  # Each enabled target's URL or bot token is a secret (secret.tf), read as the variable named
  # here; the Telegram chat ID is not a secret and is a plain variable.
  notification_targets = {
    slack_webhook      = { enabled = var.notify_slack_webhook, env = "NOTIFY_SLACK_WEBHOOK_URL" }
    webhook            = { enabled = var.notify_webhook, env = "NOTIFY_WEBHOOK_URL" }
    telegram_bot_token = { enabled = var.notify_telegram_chat_id != "", env = "NOTIFY_TELEGRAM_BOT_TOKEN" }
  }
  notification_secret_env  = { for name, target in local.notification_targets : name => target.env if target.enabled }
  notification_environment = var.notify_telegram_chat_id == "" ? {} : { NOTIFY_TELEGRAM_CHAT_ID = var.notify_telegram_chat_id }
}

# The Cloud Storage service agent publishes the bucket's object events (iam.tf). Reading it
# also makes sure it exists in a project that has never used Cloud Storage notifications.
#
# No depends_on: a data source that depends on resources with pending changes is read only
# during the apply, its email becomes unknown in the plan, and the publisher binding that uses
# it is replaced (removed, then added) whenever any API of the stack changes. Read at plan time
# it needs only the Cloud Storage API, which is on in every new project (the README's
# prerequisites enable it where it was turned off).
data "google_storage_project_service_account" "gcs_agent" {
  project = var.project_id
}

# The project number, for the name of the bucket Cloud Functions copies the source into
# (iam.tf). Read at plan time with the Resource Manager API, a prerequisite.
data "google_project" "this" {
  project_id = var.project_id
}
