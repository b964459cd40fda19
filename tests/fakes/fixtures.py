"""pytest fixtures that start the real components on free ports.

Each fake module registers its fixtures here, so every test directory can use them.
"""

from __future__ import annotations
