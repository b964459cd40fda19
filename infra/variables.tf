# Inputs. Every number carries its unit in its name; every value a person could get wrong is
# validated here, before anything is created. Checks that involve two variables live in
# preconditions on the resources that use them (Terraform 1.5 validations see one variable).

# ---------------------------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------------------------

variable "project_id" {
  description = "ID of the Google Cloud project to deploy into (not its number or display name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID: 6 to 30 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, the scheduler job and the function source bucket, for example europe-west1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a single Google Cloud region such as europe-west1 (not a zone, not a multi-region)."
  }
}

variable "bucket_name" {
  description = "Name of the input bucket to create. CSV files are dropped under input_prefix in it; results are written next to them."
  type        = string

  validation {
    # 46 characters at most: the function source bucket is named "<bucket_name>-function-source".
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{1,44}[a-z0-9]$", var.bucket_name)) && !startswith(var.bucket_name, "goog")
    error_message = "bucket_name must be 3 to 46 lower-case letters, digits, hyphens or underscores, without dots, not starting with \"goog\"."
  }
}

variable "bucket_location" {
  description = "Location of the input bucket: a region (europe-west1) or a multi-region (EU). Null means the same as region. The event trigger is created in this location."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_location == null || can(regex("^[A-Za-z0-9-]+$", var.bucket_location))
    error_message = "bucket_location must be a Cloud Storage location such as europe-west1, EU or EUR4."
  }
}

variable "name_prefix" {
  description = "Prefix of every named resource (functions, service accounts, secret, scheduler job, metrics), so that two deployments can share a project."
  type        = string
  default     = "metrika-offline"

  validation {
    # Service account IDs are at most 30 characters; the longest suffix is "-scheduler".
    condition     = can(regex("^[a-z][a-z0-9-]{2,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 4 to 20 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels put on the buckets, the functions and the secret."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.labels) : can(regex("^[a-z][a-z0-9_-]{0,62}$", key))])
    error_message = "Label keys must start with a lower-case letter and hold at most 63 lower-case letters, digits, underscores or hyphens."
  }
}

variable "enable_apis" {
  description = "Enable the Google Cloud APIs the stack needs. Set to false where APIs are managed elsewhere; they are never disabled on destroy."
  type        = bool
  default     = true
}

variable "function_source_dir" {
  description = "Directory holding the function's source (main.py, requirements.txt, the metrika_offline package). Null means the function/ directory of this repository."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------
# The function's environment (see the contract in the design notes)
# ---------------------------------------------------------------------------------------------

variable "metrika_api_url" {
  description = "Base URL of the Metrica management API (METRIKA_API_URL)."
  type        = string
  default     = "https://api-metrika.yandex.net"

  validation {
    condition     = can(regex("^https://[^/\\s]+", var.metrika_api_url))
    error_message = "metrika_api_url must be an https:// URL."
  }
}

variable "input_prefix" {
  description = "Folder of the input bucket that is watched (INPUT_PREFIX): only *.csv objects under it are processed. Must end with a slash."
  type        = string
  default     = "incoming/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$", var.input_prefix))
    error_message = "input_prefix must be a relative folder path ending with a slash, such as incoming/."
  }
}

variable "work_prefix" {
  description = "Folder of the input bucket for the function's own state (WORK_PREFIX): parts, job state and the index of uploads awaiting Metrica's status. Must end with a slash and lie outside input_prefix."
  type        = string
  default     = "metrika-offline/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$", var.work_prefix))
    error_message = "work_prefix must be a relative folder path ending with a slash, such as metrika-offline/."
  }
}

variable "default_counter_id" {
  description = "Metrica counter ID used when neither the object's metadata nor its path names one (DEFAULT_COUNTER_ID). Null: such files are rejected with a clear result."
  type        = string
  default     = null

  validation {
    condition     = var.default_counter_id == null || can(regex("^[1-9][0-9]{0,19}$", var.default_counter_id))
    error_message = "default_counter_id must be a counter ID: digits only."
  }
}

variable "default_type" {
  description = "Conversion type used when neither the object's metadata nor its path names one (DEFAULT_TYPE): BASIC, CALLS or CHATS."
  type        = string
  default     = "BASIC"

  validation {
    condition     = contains(["BASIC", "CALLS", "CHATS"], var.default_type)
    error_message = "default_type must be BASIC, CALLS or CHATS."
  }
}

variable "max_part_bytes" {
  description = "Largest part sent to Metrica in one upload, in bytes (MAX_PART_BYTES). Metrica refuses files over 1 GB; the default leaves 1 MiB for the multipart envelope."
  type        = number
  default     = 998951424

  validation {
    condition     = floor(var.max_part_bytes) == var.max_part_bytes && var.max_part_bytes >= 1048576 && var.max_part_bytes <= 998951424
    error_message = "max_part_bytes must be a whole number of bytes between 1048576 (1 MiB) and 998951424 (1 GB minus the multipart envelope)."
  }
}

variable "timezone" {
  description = "IANA time zone in which dates written without an offset are read (TIMEZONE), for example Europe/Moscow."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", var.timezone))
    error_message = "timezone must be an IANA time zone name such as UTC or Europe/Moscow."
  }
}

variable "max_event_age_s" {
  description = "Age of a storage event, in seconds, after which the worker stops retrying it and writes a failed result (MAX_EVENT_AGE_S). Eventarc itself stops retrying after 24 hours."
  type        = number
  default     = 86400

  validation {
    condition     = floor(var.max_event_age_s) == var.max_event_age_s && var.max_event_age_s >= 600 && var.max_event_age_s <= 86400
    error_message = "max_event_age_s must be a whole number of seconds between 600 and 86400 (Eventarc's own retry window)."
  }
}

variable "poll_give_up_s" {
  description = "Time, in seconds, after which the follow-up stops asking Metrica for an upload's status and records the outcome as unknown (POLL_GIVE_UP_S)."
  type        = number
  default     = 172800

  validation {
    condition     = floor(var.poll_give_up_s) == var.poll_give_up_s && var.poll_give_up_s >= 3600 && var.poll_give_up_s <= 604800
    error_message = "poll_give_up_s must be a whole number of seconds between 3600 (1 hour) and 604800 (7 days)."
  }
}

variable "log_level" {
  description = "Lowest severity the functions log (LOG_LEVEL): DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# ---------------------------------------------------------------------------------------------
# Sizing
# ---------------------------------------------------------------------------------------------

variable "worker_max_instances" {
  description = "Most instances of the storage-triggered worker, which checks and splits files (CPU-bound, one file per instance) and never uploads: sized for how many files may be checked at once. Metrica's limit is held by the upload queues instead."
  type        = number
  default     = 10

  validation {
    condition     = floor(var.worker_max_instances) == var.worker_max_instances && var.worker_max_instances >= 1 && var.worker_max_instances <= 100
    error_message = "worker_max_instances must be a whole number between 1 and 100."
  }
}

variable "uploader_memory_mb" {
  description = "Memory of each upload_part instance, in megabytes. It streams one part (at most max_part_bytes) to Metrica."
  type        = number
  default     = 512

  validation {
    condition     = floor(var.uploader_memory_mb) == var.uploader_memory_mb && var.uploader_memory_mb >= 256 && var.uploader_memory_mb <= 2048
    error_message = "uploader_memory_mb must be a whole number between 256 and 2048."
  }
}

variable "uploader_timeout_s" {
  description = "Time limit of one upload_part invocation, in seconds (also its INVOCATION_TIMEOUT_S). At most 600: Cloud Tasks stops waiting for an HTTP task after that."
  type        = number
  default     = 540

  validation {
    condition     = floor(var.uploader_timeout_s) == var.uploader_timeout_s && var.uploader_timeout_s >= 60 && var.uploader_timeout_s <= 600
    error_message = "uploader_timeout_s must be a whole number of seconds between 60 and 600."
  }
}

variable "upload_dispatches_per_s" {
  description = "How many upload tasks each account's queue starts per second at most (Cloud Tasks' max_dispatches_per_second); the queue also keeps at most 2 in flight."
  type        = number
  default     = 1

  validation {
    condition     = var.upload_dispatches_per_s > 0 && var.upload_dispatches_per_s <= 10
    error_message = "upload_dispatches_per_s must be above 0 and at most 10."
  }
}

variable "work_bucket_name" {
  description = "Name of the work bucket (job state, parts, the ledger); empty for bucket_name with -work appended. It has no trigger."
  type        = string
  default     = ""

  validation {
    condition     = var.work_bucket_name == "" || (can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.work_bucket_name)) && !startswith(var.work_bucket_name, "goog"))
    error_message = "work_bucket_name must be a valid bucket name (lower-case letters, digits, - and _, 3 to 63 characters), or empty."
  }
}

variable "worker_memory_mb" {
  description = "Memory of each worker instance, in megabytes. The worker streams files, so this does not grow with file size."
  type        = number
  default     = 1024

  validation {
    condition     = floor(var.worker_memory_mb) == var.worker_memory_mb && var.worker_memory_mb >= 512 && var.worker_memory_mb <= 4096
    error_message = "worker_memory_mb must be a whole number between 512 and 4096."
  }
}

variable "worker_vcpu_count" {
  description = "vCPUs of each worker instance: 1 or 2. Parsing and validating rows is CPU-bound."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2], var.worker_vcpu_count)
    error_message = "worker_vcpu_count must be 1 or 2."
  }
}

variable "worker_timeout_s" {
  description = "Time limit of one worker invocation, in seconds (also given to the code as INVOCATION_TIMEOUT_S so it hands over before being stopped). Event-driven functions stop at 540."
  type        = number
  default     = 540

  validation {
    condition     = floor(var.worker_timeout_s) == var.worker_timeout_s && var.worker_timeout_s >= 60 && var.worker_timeout_s <= 540
    error_message = "worker_timeout_s must be a whole number of seconds between 60 and 540."
  }
}

variable "poller_memory_mb" {
  description = "Memory of the follow-up (status polling) instance, in megabytes."
  type        = number
  default     = 512

  validation {
    condition     = floor(var.poller_memory_mb) == var.poller_memory_mb && var.poller_memory_mb >= 256 && var.poller_memory_mb <= 2048
    error_message = "poller_memory_mb must be a whole number between 256 and 2048."
  }
}

variable "poller_timeout_s" {
  description = "Time limit of one follow-up run, in seconds; also the scheduler's attempt deadline. Keep it below the polling interval so runs do not overlap."
  type        = number
  default     = 300

  validation {
    condition     = floor(var.poller_timeout_s) == var.poller_timeout_s && var.poller_timeout_s >= 60 && var.poller_timeout_s <= 1800
    error_message = "poller_timeout_s must be a whole number of seconds between 60 and 1800 (Cloud Scheduler's longest attempt deadline)."
  }
}

variable "poll_interval_minutes" {
  description = "How often Cloud Scheduler calls the follow-up function, in minutes. A divisor of 60, so that runs are evenly spaced."
  type        = number
  default     = 10

  validation {
    condition     = contains([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30], var.poll_interval_minutes)
    error_message = "poll_interval_minutes must divide 60: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30."
  }
}

variable "poller_ingress_settings" {
  description = "Network ingress of the follow-up function. ALLOW_INTERNAL_ONLY admits Cloud Scheduler of the same project; ALLOW_ALL is the fallback where that path is not available (a VPC Service Controls perimeter without Cloud Scheduler, for example). Either way only the scheduler's service account may invoke it."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_ALL"], var.poller_ingress_settings)
    error_message = "poller_ingress_settings must be ALLOW_INTERNAL_ONLY or ALLOW_ALL."
  }
}

variable "work_retention_days" {
  description = "Days after which objects under work_prefix (parts, job state) are deleted by a lifecycle rule. Must outlast poll_give_up_s."
  type        = number
  default     = 7

  validation {
    condition     = floor(var.work_retention_days) == var.work_retention_days && var.work_retention_days >= 1 && var.work_retention_days <= 365
    error_message = "work_retention_days must be a whole number of days between 1 and 365."
  }
}

variable "ledger_window_days" {
  description = "Days within which a row sent once is not sent again (LEDGER_WINDOW_DAYS; a folder or a file may set its own). 0 turns the ledger off."
  type        = number
  default     = 28

  validation {
    condition     = var.ledger_window_days >= 0 && var.ledger_window_days <= 3650
    error_message = "ledger_window_days must be between 0 and 3650 days."
  }
}

variable "ledger_retention_days" {
  description = "Days after which the ledger's entries (the keys of rows sent, under work_prefix/ledger/) are deleted by a lifecycle rule. Must outlast every window in use."
  type        = number
  default     = 35

  validation {
    condition     = floor(var.ledger_retention_days) == var.ledger_retention_days && var.ledger_retention_days >= 1 && var.ledger_retention_days <= 3650
    error_message = "ledger_retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object's old version is kept in the input bucket before it is deleted for good."
  type        = number
  default     = 30

  validation {
    condition     = floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days && var.noncurrent_version_retention_days >= 1 && var.noncurrent_version_retention_days <= 3650
    error_message = "noncurrent_version_retention_days must be a whole number of days between 1 and 3650."
  }
}

# ---------------------------------------------------------------------------------------------
# The Metrica OAuth token
# ---------------------------------------------------------------------------------------------

variable "metrika_token_secret_version" {
  description = "Version number of the Metrica OAuth token in the Secret Manager secret this module creates (the number printed by `gcloud secrets versions add`). Pinned, so that a new token reaches the functions only through an apply. The token itself never passes through Terraform."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.metrika_token_secret_version))
    error_message = "metrika_token_secret_version must be a version number such as 1 (not \"latest\", and never the token itself)."
  }
}

# ---------------------------------------------------------------------------------------------
# More Yandex accounts
# ---------------------------------------------------------------------------------------------

variable "metrika_accounts" {
  description = "Yandex accounts besides the default token's, as account name => the IDs of the counters uploaded with that account's token, for example { agency_a = [\"51234567\"] }. Each gets a Secret Manager secret <name_prefix>-metrika-token-<name> (value added with gcloud), read as METRIKA_TOKEN_<NAME>; METRIKA_ACCOUNTS maps each counter to its account. Counters of no account use METRIKA_TOKEN."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.metrika_accounts) : can(regex("^[a-z][a-z0-9_]{0,39}$", name))])
    error_message = "Each account name must be 1 to 40 lower-case letters, digits or underscores, starting with a letter (it becomes part of a secret name and of METRIKA_TOKEN_<NAME>)."
  }
  validation {
    condition     = alltrue([for counters in values(var.metrika_accounts) : length(counters) > 0 && alltrue([for counter in counters : can(regex("^[1-9][0-9]{0,19}$", counter))])])
    error_message = "Each account must list at least one counter ID, and counter IDs are digits only."
  }
  validation {
    condition     = length(flatten(values(var.metrika_accounts))) == length(distinct(flatten(values(var.metrika_accounts))))
    error_message = "A counter ID may belong to one account only."
  }
}

variable "metrika_account_token_versions" {
  description = "Version number of each account's token in its Secret Manager secret, as account name => the number printed by `gcloud secrets versions add`. Pinned like metrika_token_secret_version; every account of metrika_accounts needs one before the functions are deployed."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for version in values(var.metrika_account_token_versions) : can(regex("^[1-9][0-9]*$", version))])
    error_message = "Each token version must be a version number such as 1 (not \"latest\", and never the token itself)."
  }
}

# ---------------------------------------------------------------------------------------------
# Notifications (besides the alert policies)
# ---------------------------------------------------------------------------------------------

variable "notify_slack_webhook" {
  description = "Report each file's outcome to a Slack-style incoming webhook. Creates the secret <name_prefix>-notify-slack-webhook for the webhook URL (value added with gcloud), read as NOTIFY_SLACK_WEBHOOK_URL."
  type        = bool
  default     = false
}

variable "notify_webhook" {
  description = "Post each file's outcome as JSON to a webhook. Creates the secret <name_prefix>-notify-webhook for the URL (value added with gcloud), read as NOTIFY_WEBHOOK_URL."
  type        = bool
  default     = false
}

variable "notify_telegram_chat_id" {
  description = "Telegram chat that receives each file's outcome (NOTIFY_TELEGRAM_CHAT_ID): a numeric chat ID such as -1001234567890, or @channelname. Empty: no Telegram. When set, creates the secret <name_prefix>-notify-telegram-bot-token for the bot token (value added with gcloud), read as NOTIFY_TELEGRAM_BOT_TOKEN."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(|-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{4,31})$", var.notify_telegram_chat_id))
    error_message = "notify_telegram_chat_id must be empty, a numeric chat ID (negative for groups and channels) or @channelname."
  }
}

variable "notify_secret_versions" {
  description = "Version number of each enabled notification secret, as slack_webhook, webhook or telegram_bot_token => the number printed by `gcloud secrets versions add`. Pinned like the tokens; each enabled target needs one before the functions are deployed."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.notify_secret_versions) : contains(["slack_webhook", "webhook", "telegram_bot_token"], name)])
    error_message = "notify_secret_versions keys must be slack_webhook, webhook or telegram_bot_token."
  }
  validation {
    condition     = alltrue([for version in values(var.notify_secret_versions) : can(regex("^[1-9][0-9]*$", version))])
    error_message = "Each version must be a version number such as 1 (not \"latest\", and never the secret itself)."
  }
}

# ---------------------------------------------------------------------------------------------
# Alerting
# ---------------------------------------------------------------------------------------------

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channels that receive the alerts, as full names: projects/PROJECT/notificationChannels/ID. Empty: incidents are only shown in the Cloud Monitoring console."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for channel in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", channel))])
    error_message = "Each notification channel must be a full name: projects/PROJECT/notificationChannels/ID."
  }
}

variable "function_error_alert_threshold_count" {
  description = "Number of failed invocations (5xx answers, crashes, timeouts) of the functions within function_error_alert_window_s above which an alert opens. Transient Metrica faults are retried by raising, so a few are expected."
  type        = number
  default     = 3

  validation {
    condition     = floor(var.function_error_alert_threshold_count) == var.function_error_alert_threshold_count && var.function_error_alert_threshold_count >= 0
    error_message = "function_error_alert_threshold_count must be a whole number, 0 or more."
  }
}

variable "function_error_alert_window_s" {
  description = "Window, in seconds, over which failed invocations are counted for the function error alert."
  type        = number
  default     = 600

  validation {
    condition     = var.function_error_alert_window_s >= 60 && var.function_error_alert_window_s <= 86400 && var.function_error_alert_window_s % 60 == 0
    error_message = "function_error_alert_window_s must be a whole number of minutes, in seconds, between 60 and 86400."
  }
}

variable "alert_auto_close_s" {
  description = "Time, in seconds, after which Cloud Monitoring closes an open incident whose metric has had no data for that long. The conditions count missing data as no failure, so incidents normally close sooner, once failures stop; this is the upper bound. 1800 is the shortest Cloud Monitoring accepts."
  type        = number
  default     = 1800

  validation {
    condition     = var.alert_auto_close_s >= 1800 && var.alert_auto_close_s <= 604800 && var.alert_auto_close_s % 60 == 0
    error_message = "alert_auto_close_s must be a whole number of minutes, in seconds, between 1800 and 604800."
  }
}
