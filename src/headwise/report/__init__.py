"""Self-contained HTML reports of a run directory (`headwise report RUN`)."""

from ._html import build_report, render_report, write_report
from ._load import RUN_FILES, RunData, load_run

__all__ = ["RUN_FILES", "RunData", "build_report", "load_run", "render_report", "write_report"]
