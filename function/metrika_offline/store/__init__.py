"""The object-store seam: Cloud Storage in production, a local folder for the CLI."""
