# Identities and every role binding of the stack. Least privilege: one service account per job,
# each role bound on the one resource it is needed for. Four bindings are project-level because
# the role can be granted nowhere else; each says why. No basic roles (owner, editor, viewer), no
# project-wide storage role, only additive *_iam_member bindings (never authoritative ones that
# would remove other people's access).

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-runtime"
  display_name = "metrika-offline functions"
  description  = "Runs the worker and follow-up functions: objects of the input bucket and the Metrica token, nothing else."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger"
  display_name = "metrika-offline storage trigger"
  description  = "Identity of the Eventarc trigger that delivers the input bucket's finalize events to the worker."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "metrika-offline function builds"
  description  = "Cloud Build runs the functions' builds as this account: reads the source, writes build logs and the images, nothing else."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-tasks"
  display_name = "metrika-offline upload tasks"
  description  = "Identity of the upload tasks' OIDC token; the only caller allowed to invoke upload_part."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "metrika-offline follow-up scheduler"
  description  = "Identity of the Cloud Scheduler job that calls the follow-up function; the only caller allowed to invoke it."

  depends_on = [google_project_service.enabled]
}

# ---------------------------------------------------------------------------------------------
# Runtime: the functions' own access
# ---------------------------------------------------------------------------------------------

# The worker reads dropped files and their metadata, creates and overwrites (with generation
# preconditions) results, parts and state, deletes parts, and lists its work prefix; the
# follow-up updates results and the pending-uploads index. Object access on this bucket only:
# objectUser cannot change the bucket's settings or its IAM policy.
resource "google_storage_bucket_iam_member" "runtime_objects" {
  bucket = google_storage_bucket.input.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.runtime.email}"
}

# The same on the work bucket: job state, parts, the ledger, locks and the pending index.
resource "google_storage_bucket_iam_member" "runtime_work_objects" {
  bucket = google_storage_bucket.work.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.runtime.email}"
}

# Read the Metrica token, this secret only.
resource "google_secret_manager_secret_iam_member" "runtime_token" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.metrika_token.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# Read each account's token: one binding per secret, never a project-wide accessor role.
resource "google_secret_manager_secret_iam_member" "runtime_account_tokens" {
  for_each = google_secret_manager_secret.account_token

  project   = var.project_id
  secret_id = google_secret_manager_secret.account_token[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# Read each enabled notification target's URL or bot token, one binding per secret.
resource "google_secret_manager_secret_iam_member" "runtime_notifications" {
  for_each = google_secret_manager_secret.notification

  project   = var.project_id
  secret_id = google_secret_manager_secret.notification[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# ---------------------------------------------------------------------------------------------
# Build: Cloud Build builds both functions as the build account (functions.tf), not as the
# project's default build account, which new projects may lack or have stripped of its roles.
# ---------------------------------------------------------------------------------------------

# Project-level by necessity. A build that runs as a user-chosen account must write its logs to
# Cloud Logging itself, and roles/logging.logWriter can only be granted on a project (or above).
# It holds nothing but logging.logEntries.create and logging.logEntries.route.
resource "google_project_iam_member" "build_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"

  depends_on = [google_project_service.enabled]
}

# Project-level by necessity, and conditioned to one bucket. Cloud Functions copies the source
# zip into its own bucket, gcf-v2-sources-PROJECT_NUMBER-REGION, and the build fetches it from
# there; that bucket is created by Cloud Functions on the first deploy, so it cannot be bound on
# beforehand. The condition limits the read role to that bucket's objects: no other bucket of
# the project, the input bucket included, is readable.
resource "google_project_iam_member" "build_reads_source" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "function-source-only"
    description = "Only the bucket Cloud Functions copies this region's function sources into."
    expression  = "resource.name == \"projects/_/buckets/${local.functions_source_copy_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${local.functions_source_copy_bucket}/objects/\")"
  }

  depends_on = [google_project_service.enabled]
}

# The build pushes the images (and its cache) to the stack's repository, and nowhere else.
resource "google_artifact_registry_repository_iam_member" "build_writes_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

locals {
  functions_source_copy_bucket = "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
}

# ---------------------------------------------------------------------------------------------
# Storage events: Cloud Storage -> Pub/Sub -> Eventarc -> worker
# ---------------------------------------------------------------------------------------------

# Project-level by necessity. Cloud Storage publishes object events through its per-project
# service agent into a Pub/Sub topic that Eventarc creates and names itself, so no topic exists
# to bind on beforehand. roles/pubsub.publisher is neither a basic role nor a storage role: it
# only allows publishing messages. Without it the trigger is created but no event ever arrives.
resource "google_project_iam_member" "gcs_agent_publishes_events" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs_agent.email_address}"

  depends_on = [google_project_service.enabled]
}

# Project-level by necessity. Eventarc has no IAM policy on triggers or events: the event
# receiver role can only be granted on the project. It holds nothing but the
# eventarc.events.receive* permissions.
resource "google_project_iam_member" "trigger_receives_events" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger.email}"

  depends_on = [google_project_service.enabled]
}

# The trigger may invoke the worker's Cloud Run service, and nothing else.
resource "google_cloud_run_service_iam_member" "trigger_invokes_worker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.worker.location
  service  = google_cloudfunctions2_function.worker.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger.email}"
}

# ---------------------------------------------------------------------------------------------
# Uploads: worker -> Cloud Tasks -> uploader (tasks.tf)
# ---------------------------------------------------------------------------------------------

# The functions add tasks to the upload queues, and only to those: the checker one per part,
# the uploader a part put back for later. cloudtasks.enqueuer creates tasks and nothing else.
resource "google_cloud_tasks_queue_iam_member" "runtime_enqueues" {
  for_each = google_cloud_tasks_queue.upload

  project  = var.project_id
  location = google_cloud_tasks_queue.upload[each.key].location
  name     = google_cloud_tasks_queue.upload[each.key].name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.runtime.email}"
}

# A task that carries an OIDC token of the invoker account may only be created by someone who
# can act as that account: on this one account, not the project's.
resource "google_service_account_iam_member" "runtime_acts_as_invoker" {
  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.runtime.email}"
}

# The invoker account is the only identity allowed to invoke upload_part.
resource "google_cloud_run_service_iam_member" "tasks_invoke_uploader" {
  project  = var.project_id
  location = google_cloudfunctions2_function.uploader.location
  service  = google_cloudfunctions2_function.uploader.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.tasks_invoker.email}"
}

# ---------------------------------------------------------------------------------------------
# Follow-up: Cloud Scheduler -> poller
# ---------------------------------------------------------------------------------------------

# The scheduler's account is the only identity allowed to invoke the follow-up function.
resource "google_cloud_run_service_iam_member" "scheduler_invokes_poller" {
  project  = var.project_id
  location = google_cloudfunctions2_function.poller.location
  service  = google_cloudfunctions2_function.poller.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}
