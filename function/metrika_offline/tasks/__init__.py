"""Cloud Tasks: the queue the parts are uploaded from (`cloud_tasks`)."""
