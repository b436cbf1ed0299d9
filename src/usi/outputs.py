"""The output guard: every command that writes checks its target here, before any work.

One policy everywhere, so a mistake in ``-o`` costs one line and exit code 2 instead of a
traceback after minutes of work:

- the parent folder exists and really accepts a new file (probed by creating and removing
  one: ``os.access`` says yes to root even on a read-only file system);
- a file target is not a folder, and a folder target is not a file;
- an existing target is refused unless ``--overwrite`` (or ``--resume`` where a command can
  continue its output);
- a folder target (a report) is replaced whole, never merged with stale files, and only when
  it is empty or recognisably one of usi's own (so ``-o ~ --overwrite`` cannot wipe a home);
- a file that a command appends to for a long time (``usi run``, ``usi judge``) is held by
  one command at a time (:func:`output_lock`): a second one on the same OUT is refused at
  once instead of interleaving its episodes with the first one's.

Files are written with the usual ``0644`` (less the umask), never ``mkstemp``'s ``0600``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from usi.errors import UsiInputError

FILE_MODE = 0o666
"""New files: read-write for everyone, less the umask (0644 with the usual 022)."""
DIR_MODE = 0o777


def _umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permission bits of a file usi writes."""
    return FILE_MODE & ~_umask()


def dir_mode() -> int:
    """Permission bits of a folder usi writes."""
    return DIR_MODE & ~_umask()


def _first_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_parent(path: Path, *, create: bool = False) -> None:
    """The folder that will hold ``path`` exists (or, with ``create``, can be made) and
    accepts new files."""
    parent = path.absolute().parent
    if not parent.is_dir():
        ancestor = _first_existing(parent)
        if ancestor.exists() and not ancestor.is_dir():
            raise UsiInputError(f"cannot write under {ancestor}: it is a file, not a folder", path)
        if not create:
            raise UsiInputError(f"folder {parent} does not exist", path)
        parent = ancestor
    try:
        fd, probe = tempfile.mkstemp(prefix=".usi-write-check.", dir=parent)
    except OSError as exc:
        raise UsiInputError(
            f"cannot write in folder {parent} ({exc.strerror or type(exc).__name__})", path
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_input_file(path: Path, *, what: str = "file") -> None:
    """A file to read exists and is a file: checked with the outputs, before heavy imports."""
    if not path.exists():
        raise UsiInputError(f"no such {what}", path)
    if path.is_dir():
        raise UsiInputError(f"is a directory; expected a {what}", path)


def _refusal(*, resume: bool | None) -> str:
    hint = (
        "--resume to continue it or --overwrite to replace it"
        if resume is not None
        else ("--overwrite to replace it")
    )
    return f"already exists (use {hint})"


def check_output_file(
    path: Path,
    *,
    overwrite: bool = False,
    resume: bool | None = None,
    create_parent: bool = False,
) -> None:
    """A file a command is about to write. ``resume``: None when the command cannot resume."""
    if path.is_dir():
        raise UsiInputError("is a directory; expected a file to write", path)
    check_parent(path, create=create_parent)
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise UsiInputError("exists and is not a regular file", path)
        if not (overwrite or resume):
            raise UsiInputError(_refusal(resume=resume), path)


def check_output_dir(
    path: Path, *, overwrite: bool = False, marker: str, create_parent: bool = False
) -> None:
    """A folder a command fills and replaces whole; ``marker`` is the entry (e.g.
    ``report.html``) that shows an existing folder is usi's own and may be replaced."""
    if path.exists() and not path.is_dir():
        raise UsiInputError("exists and is not a folder", path)
    check_parent(path, create=create_parent)
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not overwrite:
        raise UsiInputError(_refusal(resume=None), path)
    if not (path / marker).exists():
        raise UsiInputError(
            f"not a folder usi wrote (no {marker} in it); --overwrite replaces only those", path
        )


def replace_dir(staging: Path, target: Path) -> None:
    """Put the finished folder ``staging`` at ``target``, replacing an old one whole.

    Two renames on one file system: the old folder moves aside, the new one in, and only
    then is the old one deleted, so ``target`` is never a mix of old and new files.
    """
    staging.chmod(dir_mode())
    if not target.exists():
        os.replace(staging, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    old = aside / target.name
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def lock_path(path: Path) -> Path:
    """The hidden sibling that :func:`output_lock` locks (kept: unlinking a lock file that
    another process may be opening would let two holders in)."""
    return path.absolute().parent / f".{path.name}.lock"


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold OUT for this command alone, or refuse at once (another run or judge writes it).

    An OS file lock (``flock`` through the ``filelock`` library), released by the kernel
    when the holder dies, so a killed run never leaves a stale lock behind and ``--resume``
    right after a ``kill -9`` just works. Taken before OUT is read for ``--resume``, so a
    resumed run never counts episodes another run is still writing.
    """
    lock = FileLock(str(lock_path(path)), timeout=0, mode=file_mode())
    try:
        lock.acquire()
    except Timeout:
        raise UsiInputError(
            "another usi command is writing this file (wait for it to finish, or use another -o)",
            path,
        ) from None
    except OSError as exc:
        raise UsiInputError(
            f"cannot lock the file ({exc.strerror or type(exc).__name__})", path
        ) from None
    try:
        yield
    finally:
        lock.release()
