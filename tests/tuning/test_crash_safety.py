"""Crash safety of the records folder (issue 14 item 5), for real: `tvm-fusion tune` SIGKILLed
at random moments of every phase, then rerun; corrupted lines anywhere in the MetaSchedule
tables and trials.jsonl; a full disk (/dev/full: the kernel's ENOSPC) under MetaSchedule's C++
writer and under ours.

TVM_FUSION_CRASH_KILLS=N kills N times instead of 3 (the phases in turn)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import tvm_fusion as tf
from tests.tuning.crash import check_folder, folders, kill, start, wait_until
from tests.tuning.crash import whole_lines as lines_of
from tvm_fusion import schedules, workloads
from tvm_fusion.build import template_context
from tvm_fusion.fusion import fuse
from tvm_fusion.lower import lower
from tvm_fusion.target import as_target
from tvm_fusion.tuning import tune
from tvm_fusion.tuning.durable import RecordsWarning, RecordsWriteError
from tvm_fusion.tuning.records import (
    RECORD_FILE,
    WORKLOAD_FILE,
    count_records,
    open_database,
    record_dir,
)
from tvm_fusion.tuning.repair import json_database
from tvm_fusion.tuning.trials import TRIALS_FILE, TrialLog, read_trials

KILLS = int(os.environ.get("TVM_FUSION_CRASH_KILLS", "3"))
TRIALS = 5  # the default and a round of 4


def _records(folder: Path) -> int:
    return len(lines_of(folder / RECORD_FILE)) if folder.exists() else 0


def test_sigkill_tune_at_random_moments_then_rerun_loses_and_duplicates_nothing(tmp_path):
    logs, seed = tmp_path / "logs", random.randrange(1 << 30)
    rng = random.Random(seed)
    args = ("tune", "W1s", "--trials", str(TRIALS), "--logs", str(logs), "--no-transfer")
    folder = _folder(logs)
    kept: set[str] = set()
    for kill_number in range(KILLS):
        phase = ("startup, default, first commit", "a round", "the in-process check")[
            kill_number % 3]
        process, before = start(*args), _records(folder)
        if kill_number % 3 == 0:
            time.sleep(rng.uniform(0.5, 5.0))
        elif kill_number % 3 == 1:  # a round committing or running
            wait_until(lambda n=before: _records(folder) > n, process)
            time.sleep(rng.uniform(0.0, 2.0))
        else:  # every trial recorded: the check and the verdict's write, which take
            wait_until(lambda: _records(folder) == TRIALS, process)  # 0.6-0.9 s in all
            time.sleep(rng.uniform(0.0, 0.3))
        assert process.poll() is None, (f"seed {seed}: finished before the kill in {phase}",
                                        process.communicate())
        kill(process)
        for each in folders(logs):  # whole lines only, no duplicate, atomic files
            kept |= set(check_folder(each, finished=False))
    process = start(*args)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0 and "Traceback" not in err, (seed, out, err)
    records = check_folder(folder, finished=True)
    assert len(records) == TRIALS, (seed, len(records))  # an uninterrupted run's count
    assert kept <= set(records), f"seed {seed}: records committed before a kill were lost"
    assert len(open_database(folder, _mod())) == len(json_database(
        folder / WORKLOAD_FILE, folder / RECORD_FILE)) == TRIALS
    trials = [t["trial"] for t in read_trials(folder)]  # a kill between a round's records
    assert trials == sorted(set(trials)) and trials[-1] <= TRIALS, trials  # and its lines
    assert json.loads((folder / "verdict.json").read_text())["why"]


def _group():
    (group,) = fuse(workloads.graph("W1s"))
    return group


def _mod():
    group = _group()
    return lower(group.nodes, group.outputs).mod


def _folder(logs: Path) -> Path:
    target, group = as_target(None), _group()
    return record_dir(logs, target, group, schedules.choose(template_context(group, target)).NAME)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> Path:
    """A W1s records folder of 4 records (tuned once for this module)."""
    logs = tmp_path_factory.mktemp("tuned") / "logs"
    (result,) = tune(workloads.graph("W1s"), trials=4, log_dir=logs, transfer=False)
    assert count_records(result.folder) == 4
    return logs


def _copy(tuned: Path, tmp_path: Path) -> tuple[Path, Path]:
    logs = tmp_path / "logs"
    shutil.copytree(tuned, logs)
    return logs, _folder(logs)


def _bad_trace(line: str) -> str:
    index, record = json.loads(line)
    record[0][0][0][0] = "NoSuchInstruction"  # the first instruction of the trace
    return json.dumps([index, record])


def _insert(lines, number, text):
    return lines[:number - 1] + [text] + lines[number - 1:]


def _replace(lines, number, text):
    return lines[:number - 1] + [text] + lines[number:]


# (file, what, corrupt(lines) -> lines, the bad line's number, records a reader still loads)
CORRUPTIONS = [
    (RECORD_FILE, "garbage", lambda ls: _insert(ls, 2, "garbage ]]"), 2, 4),
    (RECORD_FILE, "an empty line", lambda ls: _insert(ls, 3, ""), 3, 4),  # crashes TVM
    (RECORD_FILE, "half JSON", lambda ls: _replace(ls, 2, ls[1][:len(ls[1]) // 2]), 2, 3),
    (RECORD_FILE, "a bad trace", lambda ls: _replace(ls, 3, _bad_trace(ls[2])), 3, 3),
    (RECORD_FILE, "another workload", lambda ls: _replace(ls, 2, ls[1].replace("[0,", "[7,", 1)),
     2, 3),
    (RECORD_FILE, "a cut last line", lambda ls: ls + ['[0,[[["GetSBlock",[],["re'], 5, 4),
    (WORKLOAD_FILE, "garbage", lambda ls: ["{not json"], 1, 0),
    (TRIALS_FILE, "garbage", lambda ls: _insert(ls, 2, "\x00\x00garbage"), 2, 4),
    (TRIALS_FILE, "a cut last line", lambda ls: ls + ['{"trial": 5, "elaps'], 5, 4),
]


def _corrupt(path: Path, what: str, corrupt) -> None:
    lines = corrupt(path.read_text().splitlines())
    path.write_text("\n".join(lines) + ("" if what == "a cut last line" else "\n"))


def _warnings_about(caught, path: Path) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, RecordsWarning)
            and str(path) in str(w.message)]


@pytest.mark.parametrize(("name", "what", "corrupt", "number", "readable"), CORRUPTIONS,
                         ids=[f"{c[0]}-{c[1]}" for c in CORRUPTIONS])
def test_a_corrupted_line_is_skipped_with_one_warning_then_moved_aside(
        tuned, tmp_path, name, what, corrupt, number, readable):
    folder = _copy(tuned, tmp_path)[1]
    path = folder / name
    good = lines_of(path)
    _corrupt(path, what, corrupt)
    corrupted = path.read_bytes()
    with warnings.catch_warnings(record=True) as caught:  # a reader: twice, as compile does
        warnings.simplefilter("always")
        for _ in range(2):
            database = open_database(folder)
            trials = read_trials(folder)
    (message,) = _warnings_about(caught, path)  # ONE warning, naming the file and the line
    assert message.startswith(f"{path}:{number}: "), message
    assert "tvm-fusion tune" in message  # what to do
    assert path.read_bytes() == corrupted  # a reader changes nothing
    assert len(database) == readable and len(trials) == 4
    with warnings.catch_warnings(record=True) as caught:  # the writer (the tuner) repairs
        warnings.simplefilter("always")
        database = open_database(folder, _mod())
        TrialLog(folder, knobs_of=dict, unlogged=4)
    (message,) = _warnings_about(caught, path)
    assert message.startswith(f"{path}:{number}: ") and ".skipped" in message, message
    assert len(database) == (4 if name == WORKLOAD_FILE else readable)  # its records kept
    aside = path.with_name(name + ".skipped").read_text().splitlines()
    assert len(aside) == 1 and aside[0] in corrupted.decode(errors="replace")
    if name == WORKLOAD_FILE:
        assert lines_of(path) == good  # the kernel's workload, as MetaSchedule wrote it
    else:
        assert set(lines_of(path)) <= set(good) and len(lines_of(path)) >= len(good) - 1
    with warnings.catch_warnings(record=True) as caught:  # and nothing is left to warn about
        warnings.simplefilter("always")
        assert len(json_database(folder / WORKLOAD_FILE, folder / RECORD_FILE)) == \
            len(open_database(folder)) and read_trials(folder)
    assert not _warnings_about(caught, path)


def test_tuning_and_compile_go_on_over_corrupted_lines(tuned, tmp_path):
    logs, folder = _copy(tuned, tmp_path)
    records = lines_of(folder / RECORD_FILE)
    (folder / RECORD_FILE).write_text("\n".join(
        [records[0], "garbage", _bad_trace(records[1]), *records[2:], "[0,[[[\"Get"]))
    (folder / TRIALS_FILE).write_text((folder / TRIALS_FILE).read_text() + '{"trial": 5, "e')
    graph = workloads.graph("W1s")
    with pytest.warns(RecordsWarning) as caught:
        compiled = tf.compile(graph, tuning_logs=logs)
    assert len({str(w.message) for w in caught}) == 3, [str(w.message) for w in caught]
    arrays = workloads.inputs("W1s")
    np.testing.assert_allclose(compiled(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-6)
    with pytest.warns(RecordsWarning, match=r":(2|3|5): .*moved to .*\.skipped"):
        (result,) = tune(graph, trials=4, log_dir=logs, transfer=False)
    final = check_folder(folder, finished=True)  # whole lines, no duplicate
    assert len(final) == result.trials == 4 and {records[0], *records[2:]} <= set(final)
    assert [t["trial"] for t in read_trials(folder)] == [1, 2, 3, 4, 5]  # 4 were logged


def _swap_for_dev_full(path: Path):
    """A progress callback that, after the first round, puts /dev/full where ``path`` was
    (writes fail with ENOSPC) and keeps the real file beside it."""
    def swap(*args) -> None:
        if not path.is_symlink():
            path.rename(path.with_name(path.name + ".real"))
            path.symlink_to("/dev/full")
    return swap


def test_a_full_disk_under_metaschedule_fails_the_run_clearly_and_keeps_the_records(tmp_path):
    """MetaSchedule's C++ appends to /dev/full without a word; the check after the round
    finds the record missing and says so."""
    logs, name, kept = tmp_path / "logs", RECORD_FILE, 2
    folder = _folder(logs)
    path = folder / name
    with pytest.raises(RecordsWriteError) as caught:
        tune(workloads.graph("W1s"), trials=3, batch=1, log_dir=logs, transfer=False,
             progress=_swap_for_dev_full(path))
    assert str(caught.value) == (
        f"no space left writing {path}: [Errno 28] No space left on device; free space and "
        f"rerun; records up to trial {kept} are kept")
    assert isinstance(caught.value, OSError) and caught.value.errno == 28
    path.unlink()
    path.with_name(name + ".real").rename(path)  # space freed
    check_folder(folder, finished=True)
    assert count_records(folder) == kept == len(open_database(folder, _mod())) == \
        len(json_database(folder / WORKLOAD_FILE, path))
    assert [t["trial"] for t in read_trials(folder)] == [1, 2]


def test_tune_on_a_full_disk_exits_2_with_one_line(tmp_path):
    """Our own writer (trials.jsonl) on /dev/full, through the command line."""
    logs = tmp_path / "logs"
    folder = _folder(logs)
    folder.mkdir(parents=True)
    (folder / TRIALS_FILE).symlink_to("/dev/full")
    process = start("tune", "W1s", "--trials", "3", "--logs", str(logs), "--no-transfer")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 2, (out, err)
    assert "Traceback" not in err, err
    assert (f"no space left writing {folder / TRIALS_FILE}: [Errno 28] No space left on "
            "device; free space and rerun; records up to trial 1 are kept\n") in err, err
    assert count_records(folder) == len(open_database(folder)) == 1
    (folder / TRIALS_FILE).unlink()  # space freed: the trial numbers go on after the records
    assert TrialLog(folder, dict, unlogged=1).count == 1


if os.environ.get("TVM_FUSION_CRASH_BATCH") == "1":  # opt-in: a few minutes
    def test_sigkill_batch_at_random_moments_then_rerun_loses_and_duplicates_nothing(tmp_path):
        manifest = tmp_path / "jobs.toml"
        manifest.write_text('log_dir = "logs"\noutput_dir = "out"\n[[jobs]]\nname = "w1s"\n'
                            f'workload = "W1s"\ntrials = {TRIALS}\n')
        seed = random.randrange(1 << 30)
        rng, kept = random.Random(seed), set()
        for _ in range(KILLS):
            process = start("batch", str(manifest))
            time.sleep(rng.uniform(2.0, 25.0))
            assert process.poll() is None, (seed, process.communicate())
            kill(process)
            for each in folders(tmp_path / "logs"):
                kept |= set(check_folder(each, finished=False))
        process = start("batch", str(manifest))
        out, err = process.communicate(timeout=900)
        assert process.returncode == 0 and "Traceback" not in err, (seed, out, err)
        (folder,) = folders(tmp_path / "logs")
        records = check_folder(folder, finished=True)
        assert len(records) == TRIALS and kept <= set(records), seed
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert [job["status"] for job in summary["jobs"]] == ["done"]


def test_a_half_written_round_keeps_its_whole_lines_and_names_the_limit(tmp_path):
    """A write cut by `ulimit -f` (a real RLIMIT_FSIZE in a child process, EFBIG): the whole
    lines of the round stay, the half one is cut off, and the error names the limit."""
    path = tmp_path / RECORD_FILE
    path.write_text("[1]\n[2]\n")
    code = (f"import os, pathlib, resource\n"
            f"from tvm_fusion.tuning.durable import AppendCheck, RecordsWriteError\n"
            f"path = pathlib.Path({str(path)!r})\n"
            f"check = AppendCheck(path)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))\n"
            f"fd = os.open(path, os.O_WRONLY | os.O_APPEND)\n"
            f"os.write(fd, b'[3]\\n[4444444444]\\n')  # as the C++ writer: no error seen\n"
            f"try:\n    check.committed(2)\nexcept RecordsWriteError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == (f"file size limit reached writing {path}: [Errno 27] File too large; raise "
                   "the limit (ulimit -f) or free space and rerun; records up to trial 3 are "
                   "kept\n")
    assert path.read_text() == "[1]\n[2]\n[3]\n"
