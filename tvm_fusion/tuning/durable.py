"""The records folder's files survive kills, corrupted lines and full disks.

- :func:`write_atomic`: a whole file (manifest, verdict, a repaired line file) is replaced by
  writing a temporary file beside it, ``fsync``, ``rename`` and an ``fsync`` of the folder: a
  SIGKILL leaves the old file or the new one, never half of either.
- :func:`split_lines` and :func:`set_aside`: a line file (the two MetaSchedule tables,
  ``trials.jsonl``) is read line by line; a line that is not what it should be (cut short by
  a kill, garbage, a bad trace) is skipped with one warning naming the file and the line, and
  a writer moves it to ``<file>.skipped`` beside it (nothing is deleted) before appending, so
  a new line never joins a half one.
- :class:`AppendCheck`: MetaSchedule's ``JSONDatabase`` appends from C++ through an
  ``std::ofstream`` whose errors nobody checks, so on a full disk (``ENOSPC``, ``EDQUOT``,
  ``EFBIG`` past ``ulimit -f``) records vanish silently. After every commit the file must
  have grown by exactly the committed lines; if not, the half line is cut off and
  :class:`RecordsWriteError` says which file, why and how many records are kept.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path


class RecordsWriteError(OSError):
    """A records file could not be written (full disk, quota, file size limit): the message
    names the file, the system's reason, what to do and how many records are kept; ``errno``
    and ``filename`` are the failed write's."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else super().__str__()


class RecordsWarning(UserWarning):
    """A line of a records file was skipped."""


def write_failure(path: Path, err: OSError, kept: int) -> RecordsWriteError:
    """The one-line error for a failed write of ``path``; ``kept``: complete records left."""
    reason = f"[Errno {err.errno}] {err.strerror}" if err.errno else str(err)
    what, todo = {
        errno.ENOSPC: ("no space left writing", "free space and rerun"),
        errno.EDQUOT: ("disk quota exceeded writing", "free space and rerun"),
        errno.EFBIG: ("file size limit reached writing",
                      "raise the limit (ulimit -f) or free space and rerun"),
    }.get(err.errno, ("cannot write", "fix that and rerun"))
    error = RecordsWriteError(f"{what} {path}: {reason}; {todo}; records up to trial {kept} "
                              "are kept")
    error.errno, error.filename = err.errno, str(path)
    return error


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str, kept: Callable[[], int] = lambda: 0) -> None:
    """Replace ``path`` by ``text``; a failed write leaves the old file (and no temporary
    one) and raises :class:`RecordsWriteError` (``kept()``: the records kept)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise write_failure(path, err, kept()) from None


def regular_text(path: Path) -> str:
    """The text of ``path``; ``""`` when it is missing or not a regular file (a device such
    as ``/dev/full`` reads forever)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return ""
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


_warned: set[tuple[str, int, str, str]] = set()


def warn_line(path: Path, number: int, line: str, message: str) -> None:
    """Warn once per process about line ``number`` of ``path`` (a reader opening the same
    records again does not repeat it)."""
    key = (str(path), number, hashlib.sha256(line.encode()).hexdigest(), message)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f"{path}:{number}: {message}", RecordsWarning, stacklevel=3)


def split_lines(path: Path, problem: Callable[[str], str | None]
                ) -> tuple[list[str], list[tuple[int, str, str]]]:
    """``(lines, bad)``: every line of ``path`` (without its newline) and
    ``(number, line, why)`` of those ``problem`` rejects (a bad last line without its newline
    was cut short by a kill)."""
    text = regular_text(path)
    lines = text.splitlines()
    bad = []
    for number, line in enumerate(lines, 1):
        why = problem(line)
        if why is not None and number == len(lines) and not text.endswith("\n"):
            why = f"cut short, a run killed while writing it? ({why})"
        if why is not None:
            bad.append((number, line, why))
    return lines, bad


def end_line(path: Path, kept: Callable[[], int] = lambda: 0) -> None:
    """End a whole last line that lacks its newline (an edit), so an append starts a line."""
    text = regular_text(path)
    if text and not text.endswith("\n"):
        try:
            with open(path, "a") as f:
                f.write("\n")
        except OSError as err:
            raise write_failure(path, err, kept()) from None


SET_ASIDE_NOTE = "nothing to do: tuning goes on and re-measures what it held"


def set_aside(path: Path, lines: list[str], bad: list[tuple[int, str, str]],
              replaced: dict[int, str] | None = None, note: str = SET_ASIDE_NOTE) -> None:
    """Move the ``bad`` lines of ``path`` to ``<path>.skipped`` and rewrite ``path`` without
    them (lines numbered in ``replaced`` get that text instead), warning once per line."""
    replaced = replaced or {}
    aside = path.with_name(path.name + ".skipped")
    try:
        with open(aside, "a") as f:
            f.write("".join(f"{line}\n" for _, line, _ in bad))
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise write_failure(aside, err, len(lines) - len(bad)) from None
    dropped = {number for number, _, _ in bad} - set(replaced)
    kept = [replaced.get(n, line) for n, line in enumerate(lines, 1) if n not in dropped]
    write_atomic(path, "".join(f"{line}\n" for line in kept), lambda: len(kept))
    for number, line, why in bad:
        done = ("replaced by this kernel's workload, its records kept"
                if number in replaced else "skipped")
        warn_line(path, number, line,
                  f"{why}; {done}, the line moved to {aside.name} beside it ({note})")


class AppendCheck:
    """Checks that a file MetaSchedule appends to from C++ holds every committed line."""

    def __init__(self, path: Path, kept: Callable[[], int] | None = None) -> None:
        """``kept()``: the records kept, for the error (default: the lines of ``path``)."""
        self.path = path
        self.size = self._size()
        self.lines = regular_text(path).count("\n")
        self.kept = kept or (lambda: self.lines)

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def committed(self, count: int) -> None:
        """``count`` lines were just appended: check they are there and make them durable;
        else cut the file back to its last whole line and raise RecordsWriteError."""
        try:
            regular = stat.S_ISREG(os.stat(self.path).st_mode)
        except FileNotFoundError:
            regular = False
        if regular:
            with open(self.path, "rb") as f:
                f.seek(self.size)
                tail = f.read()
            if tail.count(b"\n") >= count:  # more: another process tunes here too
                with open(self.path, "rb+") as f:
                    os.fsync(f.fileno())  # the round is on disk, not only in the page cache
                self.size, self.lines = self.size + len(tail), self.lines + tail.count(b"\n")
                return
            whole = tail[:tail.rfind(b"\n") + 1]  # the round's whole lines stay, not a half one
            self.size, self.lines = self.size + len(whole), self.lines + whole.count(b"\n")
        raise self._failure(regular)

    def _failure(self, regular: bool) -> RecordsWriteError:
        error = self._probe(regular)
        if regular:
            os.truncate(self.path, self.size)  # no half line for the next reader or append
        if error is not None:
            return write_failure(self.path, error, self.kept())
        return RecordsWriteError(
            f"records were not written to {self.path} (MetaSchedule's writer reports no "
            f"error: a full disk?); free space and rerun; records up to trial {self.kept()} "
            "are kept")

    def _probe(self, regular: bool) -> OSError | None:
        """The writer hid why: ask the file system with a write of our own, big enough to
        need new blocks (a byte fits in the last one even on a full disk), then cut it off."""
        end = self._size()
        try:
            with open(self.path, "ab") as f:
                f.write(b"\n" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            return err
        finally:
            if regular:
                os.truncate(self.path, end)
        return None


PROBE_BYTES = 1 << 16
