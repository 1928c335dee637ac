"""Auto-tuning over the templates' spaces with MetaSchedule (see ``tuner.py``)."""

from .records import record_dir, workload_key
from .tuner import GroupTuning, TuningError, tune

__all__ = ["GroupTuning", "TuningError", "record_dir", "tune", "workload_key"]
