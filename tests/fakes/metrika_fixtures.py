"""pytest fixtures for this fake (filled in by its issue)."""

from __future__ import annotations
