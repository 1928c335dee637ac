"""``tvm-fusion batch``: a manifest of tuning jobs, resumable and lock-safe (see ``run.py``)."""

from .manifest import Job, Manifest, ManifestError, load_manifest
from .run import BatchResult, format_summary, plan, run_batch, runner_settings

__all__ = ["BatchResult", "Job", "Manifest", "ManifestError", "format_summary", "load_manifest",
           "plan", "run_batch", "runner_settings"]
