"""Auto-tuning over the templates' spaces with MetaSchedule (see ``tuner.py``)."""

from .measure import RPCSettings
from .records import record_dir, workload_key
from .tuner import GroupTuning, tune
from .verify import TuningError, confirm_best

__all__ = ["GroupTuning", "RPCSettings", "TuningError", "confirm_best", "record_dir", "tune",
           "workload_key"]
