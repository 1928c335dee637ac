"""Open a records folder whose MetaSchedule tables hold bad lines (``records.open_database``).

TVM's ``JSONDatabase`` refuses a whole folder for one bad line, without saying which (its
parallel reader reports only the error), and crashes the process on an empty line. The lines
``records.py`` could not reject from their JSON alone (a module that does not load, a trace
that does not replay) are found here by reading each with TVM, one at a time; then the writer
moves them aside, a reader loads cleaned copies (see ``durable.py``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import tvm

from .durable import set_aside, warn_line


def json_database(path_workload: Path, path_record: Path):
    from tvm.s_tir import meta_schedule as ms

    return ms.database.JSONDatabase(str(path_workload), str(path_record), allow_missing=True)


def _reason(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[-1] if lines else type(err).__name__)[:160]


def workload_json(workload) -> str:
    """A workload's line as MetaSchedule writes it."""
    return json.dumps([str(v) for v in workload.as_json()], separators=(",", ":"))


def open_checked(paths: tuple[Path, Path], mod: tvm.IRModule | None,
                 lines: tuple[list[str], list[str]], bad: tuple[list, list]):
    """The database of ``paths`` (workload and record tables) without its bad lines.

    ``lines``: each table's lines; ``bad``: ``(number, line, why)`` already found in each."""
    from tvm.s_tir import meta_schedule as ms

    (workloads, records), (bad_workloads, bad_records) = lines, bad
    bad_w = {number: why for number, _, why in bad_workloads}
    bad_r = {number: why for number, _, why in bad_records}
    objects = []
    for number, line in enumerate(workloads, 1):
        workload = None
        if number not in bad_w:
            try:
                workload = ms.database.Workload.from_json(json.loads(line))
            except Exception as err:  # noqa: BLE001 - TVM raises several kinds
                bad_w[number] = f"its module does not load ({_reason(err)})"
        objects.append(workload)
    replaced = {}
    if mod is not None:  # the writer knows the folder's kernel: its workload replaces the bad
        for number in bad_w:
            objects[number - 1] = ms.database.Workload(mod)
            replaced[number] = workload_json(objects[number - 1])
    orphans = dict.fromkeys(bad_w, 0)  # records of a workload that is gone, per its line
    for number, line in enumerate(records, 1):
        if number in bad_r:
            continue
        index, record = json.loads(line)
        if objects[index] is None:
            orphans[index + 1] += 1
            continue
        try:
            ms.database.TuningRecord.from_json(record, objects[index])
        except Exception as err:  # noqa: BLE001
            bad_r[number] = f"its trace does not replay on its workload ({_reason(err)})"
    if mod is not None:
        _move_aside(paths[0], workloads, bad_w, replaced)
        _move_aside(paths[1], records, bad_r)
        return _load(paths)
    return _load_cleaned(paths, (workloads, records), (bad_w, bad_r), orphans)


def _move_aside(path: Path, lines: list[str], bad: dict[int, str],
                replaced: dict[int, str] | None = None) -> None:
    if bad:
        set_aside(path, lines, [(n, lines[n - 1], why) for n, why in sorted(bad.items())],
                  replaced)


def _load(paths):
    try:
        return json_database(*paths)
    except Exception as err:  # noqa: BLE001 - every line read alone, yet TVM refuses them
        raise ValueError(f"{paths[1].parent}: MetaSchedule cannot read these records "
                         f"({_reason(err)}); move the folder aside and tune again") from None


def _load_cleaned(paths, lines, bad, orphans):
    """A reader changes no file: the database is loaded from cleaned copies."""
    from tvm.s_tir import meta_schedule as ms

    (workloads, records), (bad_w, bad_r) = lines, bad
    placeholder = workload_json(ms.database.Workload(tvm.IRModule()))  # keeps the indices
    for number, why in sorted(bad_w.items()):
        warn_line(paths[0], number, workloads[number - 1],
                  f"{why}; its {orphans[number]} records are not used until the next "
                  "tvm-fusion tune of this workload repairs the line (nothing is deleted)")
    for number, why in sorted(bad_r.items()):
        warn_line(paths[1], number, records[number - 1],
                  f"{why}; skipped, the other records are used (the next tvm-fusion tune "
                  f"of this workload moves it to {paths[1].name}.skipped)")
    kept = [line for n, line in enumerate(records, 1) if n not in bad_r and
            json.loads(line)[0] + 1 not in bad_w]
    copy = Path(tempfile.mkdtemp(prefix="tvm-fusion-records-"))
    try:
        clean = copy / paths[0].name, copy / paths[1].name
        clean[0].write_text("".join(f"{placeholder if n in bad_w else line}\n"
                                    for n, line in enumerate(workloads, 1)))
        clean[1].write_text("".join(f"{line}\n" for line in kept))
        return _load(clean)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
