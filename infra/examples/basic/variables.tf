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

variable "metrika_token_secret_version" {
  description = "Version number of the Metrica token in Secret Manager, as printed by `gcloud secrets versions add`."
  type        = string
}

variable "alert_notification_channels" {
  description = "Notification channels for the alerts, as projects/PROJECT/notificationChannels/ID."
  type        = list(string)
  default     = []
}
