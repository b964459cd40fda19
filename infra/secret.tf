# The Metrica OAuth token lives in Secret Manager. Terraform creates the secret (the container)
# and nothing else: the value is added by a person with `gcloud secrets versions add` reading it
# from stdin (see the README), so it is never in a variable, a tfvars file, a plan or the state.
# Neither a google_secret_manager_secret_version resource nor its data source may appear in this
# module: both keep the secret's payload in the state.
#
# The functions read one pinned version (var.metrika_token_secret_version), resolved by the
# platform when an instance starts; the code sees it as the METRIKA_TOKEN environment variable.
resource "google_secret_manager_secret" "metrika_token" {
  project   = var.project_id
  secret_id = local.metrika_token_secret_id
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
