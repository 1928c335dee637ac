"""Auto-tuning over the templates' spaces with MetaSchedule (see ``tuner.py``)."""

from .farm import FarmError, FarmStatus, RPCSettings, check_farm
from .records import record_dir, workload_key
from .throughput import Throughput
from .tuner import GroupTuning, tune
from .verify import TuningError, confirm_best

__all__ = ["FarmError", "FarmStatus", "GroupTuning", "RPCSettings", "Throughput", "TuningError",
           "check_farm", "confirm_best", "record_dir", "tune", "workload_key"]
