output "input_url" {
  description = "Where to drop CSV files."
  value       = module.metrika_offline.input_url
}

output "metrika_token_secret_id" {
  description = "Secret Manager secret that holds the Metrica token."
  value       = module.metrika_offline.metrika_token_secret_id
}

output "add_token_version_command" {
  description = "Adds a token version to the secret from stdin."
  value       = module.metrika_offline.add_token_version_command
}

output "add_secret_version_commands" {
  description = "For every secret of the stack, the command that adds a version from stdin."
  value       = module.metrika_offline.add_secret_version_commands
}

output "upload_example_command" {
  description = "Drops a file with its counter, type and comment as metadata."
  value       = module.metrika_offline.upload_example_command
}

output "result_example_command" {
  description = "Prints the result of that file."
  value       = module.metrika_offline.result_example_command
}

output "worker_function_name" {
  description = "Name of the storage-triggered function."
  value       = module.metrika_offline.worker_function_name
}

output "poller_function_name" {
  description = "Name of the follow-up function."
  value       = module.metrika_offline.poller_function_name
}
