"""headwise: heads on frozen foundation models."""

from __future__ import annotations

__version__ = "0.1.0"
