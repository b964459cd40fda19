variable "project_id" {
  description = "ID of the Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, the scheduler job and the bucket."
  type        = string
  default     = "europe-west1"
}

variable "bucket_name" {
  description = "Name of the input bucket to create (globally unique)."
  type        = string
}

variable "default_counter_id" {
  description = "Metrica counter ID for files whose metadata and path name none. Null: such files are rejected."
  type        = string
  default     = null
}

variable "timezone" {
  description = "IANA time zone in which dates written without an offset are read, for example Europe/Moscow."
  type        = string
  default     = "UTC"
}

variable "metrika_token_secret_version" {
  description = "Version number of the Metrica token in Secret Manager, as printed by `gcloud secrets versions add`."
  type        = string
}

variable "alert_notification_channels" {
  description = "Notification channels for the alerts, as projects/PROJECT/notificationChannels/ID."
  type        = list(string)
  default     = []
}

variable "metrika_accounts" {
  description = "Further Yandex accounts, as account name => the counter IDs uploaded with its token."
  type        = map(list(string))
  default     = {}
}

variable "metrika_account_token_versions" {
  description = "Version number of each further account's token in Secret Manager, as account name => number."
  type        = map(string)
  default     = {}
}

variable "notify_slack_webhook" {
  description = "Report each file's outcome to a Slack-style incoming webhook (its URL in Secret Manager)."
  type        = bool
  default     = false
}

variable "notify_webhook" {
  description = "Post each file's outcome as JSON to a webhook (its URL in Secret Manager)."
  type        = bool
  default     = false
}

variable "notify_telegram_chat_id" {
  description = "Telegram chat that receives each file's outcome; empty for none (the bot token in Secret Manager)."
  type        = string
  default     = ""
}

variable "notify_secret_versions" {
  description = "Version number of each enabled notification secret: slack_webhook, webhook, telegram_bot_token => number."
  type        = map(string)
  default     = {}
}
