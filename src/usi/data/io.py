"""Writing files so that a failure never leaves half a file behind.

Every command that writes output goes through :func:`atomic_writer` (write to a temporary
sibling, then ``os.replace``), and long runs append whole lines with :func:`append_line`
so a crash loses at most what was in flight.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from usi.core.episode import Episode
from usi.errors import UsiInputError
from usi.outputs import file_mode


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "w") -> Iterator[IO[str]]:
    """Open a temporary file next to ``path``; it replaces ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes 0600; outputs are 0644 like any file
        with os.fdopen(fd, mode, encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def episode_line(episode: Episode) -> str:
    """One canonical JSON Lines record, without the newline."""
    return episode.model_dump_json(exclude_none=False)


def write_episodes(path: str | Path, episodes: Iterable[Episode]) -> int:
    """Write ``episodes`` as canonical JSON Lines, atomically; return how many."""
    count = 0
    with atomic_writer(path) as handle:
        for episode in episodes:
            handle.write(episode_line(episode))
            handle.write("\n")
            count += 1
    return count


def append_line(path: str | Path, line: str) -> None:
    """Append one whole line on an ``O_APPEND`` descriptor, then fsync; all of it or none.

    ``write`` may write less than asked (a nearly full disk, a signal): the rest is written
    in a loop. If the disk is full, the part already written is cut off again
    (``ftruncate`` back to the size before), so the file holds only whole lines and
    ``--resume`` goes on from it once there is space; the failure is one line naming the
    file, not a traceback. A crash mid-write still leaves at most one torn last line,
    which the canonical reader reports (and ``--resume`` drops).
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:  # pragma: no cover - POSIX reports an error instead
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise UsiInputError(
                f"cannot append ({exc.strerror or type(exc).__name__}); it holds only whole "
                "lines: free space, then rerun with --resume",
                path,
            ) from None
    finally:
        os.close(fd)
