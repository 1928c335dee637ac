"""``tvm-fusion report LOG_DIR -o report/``: tuning curves, knob effects, roofline, schedules.

Writes ``report/index.html`` (self-contained: its PNGs beside it, inline CSS, no network),
``report/report.md`` (the same tables) and the PNGs. ``collect.py`` reads the records
folders, ``plots.py`` draws, ``page.py`` writes the two pages.
"""

from .page import write_report

__all__ = ["write_report"]
