terraform {
  # Validations, lifecycle preconditions and startswith() as used here need nothing newer.
  required_version = ">= 1.5, < 2.0"

  required_providers {
    # 5.40: service_config.environment_variables no longer shows a permanent diff for the
    # LOG_EXECUTION_ID variable the platform adds. 7.x is not yet tested with this module.
    google = {
      source  = "hashicorp/google"
      version = ">= 5.40, < 7.0"
    }
    # 2.5: glob patterns in archive_file `excludes` (used to keep __pycache__ out of the zip).
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5, < 3.0"
    }
    # time_sleep: waits where Google documents propagation delays (waits.tf). 0.9 is the oldest
    # release tested with the triggers used there; 1.0 may change them.
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9, < 1.0"
    }
  }
}
