"""The output file of ``usi run`` and ``usi judge``: one episode per line, resumable, locked.

Both commands append each finished episode to OUT as one line (``append_line``: one write +
fsync), so a killed command loses only the episodes in flight. Both hold OUT alone while
they write it (:func:`hold`, an OS file lock), and ``--resume`` reads it back with
:func:`finished_lines`: a torn last line (a crash mid-write) is dropped, any other line that
is not an episode is bad input. What each command keeps of the lines it read (a run drops
failed episodes and duplicates, the judge failed judgments) is cut with :func:`keep_only`,
atomically. On Ctrl-C both report :class:`RunInterrupted` with the episodes OUT safely holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from usi.core.episode import Episode
from usi.data.io import atomic_writer
from usi.data.readers import LineError, parse_line
from usi.errors import UsiInputError
from usi.outputs import output_lock

# (episode, its line exactly as OUT holds it)
Record = tuple[Episode, bytes]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: how many episodes OUT safely holds, for the one-line hint."""

    def __init__(self, written: int, out: Path, tau2_results: Path | None = None) -> None:
        super().__init__(written, out)
        self.written = written
        self.out = out
        self.tau2_results = tau2_results


@contextlib.contextmanager
def hold(out: Path) -> Iterator[None]:
    """OUT's folder made, and OUT this command's alone until the block ends."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        yield


def whole_lines(out: Path) -> int:
    """Newline-terminated lines of OUT: the episodes it safely holds."""
    return out.read_bytes().count(b"\n") if out.exists() else 0


def finished_lines(out: Path) -> tuple[list[Record], bool]:
    """(episode, its line) for each record of OUT, and whether a torn last line was dropped."""
    if not out.exists():
        return [], False
    lines = out.read_bytes().split(b"\n")
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        is_last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
        if not line.strip():
            continue
        try:
            records.append((parse_line(line), line))
        except LineError:
            if is_last:
                return records, True
            raise UsiInputError(
                "not a canonical episode line (cannot resume)", out, f"line {number}"
            ) from None
    return records, False


def rewrite(out: Path, lines: list[bytes]) -> None:
    """Replace OUT by exactly ``lines`` (atomically: a crash leaves the old file)."""
    with atomic_writer(out) as handle:
        for line in lines:
            handle.write(line.decode("utf-8"))
            handle.write("\n")


def keep_only(out: Path, records: list[Record], kept: list[Record], torn: bool) -> None:
    """Cut OUT down to the ``kept`` records (of the ``records`` it held) when that drops
    anything: a torn last line, or records the command will write again."""
    if torn or len(kept) < len(records):
        rewrite(out, [line for _, line in kept])


def read_finished(out: Path, *, repair: bool) -> tuple[list[Episode], bool]:
    """Episodes in OUT; a torn last line (crash mid-write) is dropped, and cut if ``repair``."""
    records, torn = finished_lines(out)
    if torn and repair:
        rewrite(out, [line for _, line in records])
    return [episode for episode, _ in records], torn
