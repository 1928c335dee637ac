"""Auto-tuning over the templates' spaces with MetaSchedule (see ``tuner.py``)."""

from .measure import RPCSettings
from .records import prune, record_dir, workload_key
from .tuner import GroupTuning, TuningError, tune

__all__ = ["GroupTuning", "RPCSettings", "TuningError", "prune", "record_dir", "tune",
           "workload_key"]
