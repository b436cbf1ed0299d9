"""The sides of every comparison — the people and each simulator — read by one set of rules.

``usi score``, ``usi report`` and ``usi fingerprint`` (and ``usi audit``) read their episode
files here, so the same files give the same episodes, hence the same numbers, whichever
command reads them. The rules, and why each exists:

- **Failed runs are left out.** An episode with a non-empty ``metadata["error"]`` (a
  provider or auth error, a timeout after retries, a crash: see
  :attr:`usi.core.episode.Episode.infrastructure_error`) shows the harness, not a user.
  It is never scored; a warning says how many were left out, and an input with nothing
  left is bad input.
- **An id names one episode.** The same ``episode_id`` twice among the episodes of one
  input (a file concatenated with itself, two runs appended into one file) is bad input,
  and the error names the ids. Failed runs are left out first, so a rerun that replaced a
  failed episode of the same id is fine.
- **Only τ²'s tasks are tasks.** A ``task_id`` that τ² does not have for the episode's
  domain (say ``"99999"``) cannot be paired with anyone's task: it becomes null
  (unaligned) with a warning, instead of counting as task-aligned.
- **People are people.** The human side is the episodes of source ``"human"`` of the
  ``--human`` input; an input without any is bad input. A simulator is a non-human source
  of a simulator input: people in a simulator file are never scored as a simulator.
- **Never pooled across files.** A source found in several simulator files (two runs of
  one model, or a run and its copy) gives one row per file, named ``SOURCE (FILE)``, with
  a warning that says how to pool them (concatenate the files). The same file given
  twice is read and scored once.

Warnings are returned as notes (one line each, no prefix); each command prints them on
stderr after :data:`WARNING_PREFIX`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usi.core.episode import HUMAN_SOURCE, Episode
from usi.errors import UsiInputError
from usi.inputs.frame import ERROR_COLUMN

if TYPE_CHECKING:
    import pandas as pd

    from usi.inputs.table import ProgressCallback

WARNING_PREFIX = "usi: warning: "
"""What every command prints before a note of this module, on stderr."""

NAMED = 5
"""Ids or tasks an error or a warning names before saying "and N more"."""

QUOTED = 120
"""Characters of the first failure's text a message quotes."""


@functools.cache
def known_task_ids(domain: str) -> frozenset[str]:
    """τ²'s task ids of ``domain``; empty for a domain τ² and usi do not share.

    The one place scoring asks τ² for its tasks (loaded once per process).
    """
    from usi.tau.align import tau2_task_texts

    return frozenset(tau2_task_texts(domain))


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMED])
    return shown if len(names) <= NAMED else f"{shown} and {len(names) - NAMED} more"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.items())


@dataclass
class Screening:
    """What the rules changed in one input: the counts behind its warnings and errors."""

    label: str
    #: Source → episodes left out because they failed for infrastructure reasons.
    failed: Counter[str] = field(default_factory=Counter)
    #: Source → the first failure's text, quoted in messages.
    first_errors: dict[str, str] = field(default_factory=dict)
    #: ``domain/task_id`` → episodes whose task τ² does not have (now unaligned).
    unknown_tasks: Counter[str] = field(default_factory=Counter)
    #: Source → episodes kept.
    kept: Counter[str] = field(default_factory=Counter)

    #: Ids seen among the kept episodes, and those seen again (in order of their repeat).
    seen: set[str] = field(default_factory=set, repr=False)
    repeated: dict[str, None] = field(default_factory=dict, repr=False)

    def leave_out(self, source: str, error: str, n: int = 1) -> None:
        self.failed[source] += n
        self.first_errors.setdefault(source, error)

    def admit(
        self, source: str, error: str | None, domain: str, task_id: str | None
    ) -> tuple[bool, str | None]:
        """The rules for one episode, in one place: (kept?, its task_id after the rules).

        Every view applies the rules through here: the stream (:func:`screen_episodes`), the
        table (:func:`screen_table`) and the table builder's pass over a file, in its reading
        workers too (:func:`usi.inputs.table.build_table`). Repeated ids are :meth:`see`'s.
        """
        if error:
            self.leave_out(source, error)
            return False, task_id
        if task_id is not None and task_id not in known_task_ids(domain):
            self.unknown_tasks[f"{domain}/{task_id}"] += 1
            task_id = None
        self.kept[source] += 1
        return True, task_id

    def see(self, episode_id: str) -> bool:
        """Note a kept episode's id; False when it was seen before (noted in ``repeated``)."""
        if episode_id in self.seen:
            self.repeated[episode_id] = None
            return False
        self.seen.add(episode_id)
        return True

    def merge(self, other: Screening) -> None:
        """Add the counts of a later part of the same input (a reading worker's shard)."""
        for source, n in other.failed.items():
            self.leave_out(source, other.first_errors[source], n)
        self.unknown_tasks.update(other.unknown_tasks)
        self.kept.update(other.kept)

    def check_ids(self, ids: Iterable[str]) -> None:
        """The id rule over a whole input: every repeated id named in one error."""
        for episode_id in ids:
            self.see(episode_id)
        if self.repeated:
            raise self.duplicates(list(self.repeated))

    def notes(self) -> list[str]:
        """One warning line per rule that changed something."""
        notes: list[str] = []
        n_failed = self.failed.total()
        if n_failed:
            notes.append(
                f"{self.label}: left out {n_failed} episode(s) that failed for "
                f"infrastructure reasons (metadata.error; {_counts(self.failed)}), "
                f"first: {_quote(next(iter(self.first_errors.values())))}"
            )
        n_unknown = self.unknown_tasks.total()
        if n_unknown:
            notes.append(
                f"{self.label}: {n_unknown} episode(s) on task(s) τ² does not have "
                f"({_listing(list(self.unknown_tasks))}): counted as unaligned (task_id null)"
            )
        return notes

    def duplicates(self, ids: Sequence[str]) -> UsiInputError:
        """The error for episode ids that occur more than once."""
        return UsiInputError(
            f"episode_id given more than once: {_listing(list(ids))} (one id, one episode; "
            "was a file concatenated with itself?)",
            self.label,
        )

    def nothing_left(
        self, what: str, hint: str = "", among: Callable[[str], bool] = lambda source: True
    ) -> UsiInputError:
        """The error for an input with no ``what`` (episodes of sources ``among``) left."""
        failed = sum(n for source, n in self.failed.items() if among(source))
        if failed:
            first = next(e for source, e in self.first_errors.items() if among(source))
            return UsiInputError(
                f"no {what} left: all {failed} failed for infrastructure reasons "
                f"(metadata.error), first: {_quote(first)}",
                self.label,
            )
        return UsiInputError(f"no {what}" + (f" ({hint})" if hint else ""), self.label)


def _quote(error: str) -> str:
    text = " ".join(error.split())
    return repr(text if len(text) <= QUOTED else text[: QUOTED - 1] + "…")


@dataclass(frozen=True, eq=False)
class Input:
    """One input (a file, or a table given as is) after the rules: what commands score."""

    label: str
    table: pd.DataFrame
    screening: Screening
    path: Path | None = None
    #: What ``read_input``'s ``per_episode`` gave for each row of ``table``, in row order
    #: (the audit of ``usi score``, computed in the reading pass); None when not asked.
    per_episode: list[Any] | None = None
    #: The same rows under other definition sets, read in the same pass (``also``).
    also: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def notes(self) -> list[str]:
        return self.screening.notes()

    def under(self, definitions: str) -> Input:
        """This input with the features of ``definitions`` (its own or one read ``also``)."""
        if self.table.attrs.get("definitions") == definitions:
            return self
        if definitions not in self.also:
            raise KeyError(f"{self.label} was not read under {definitions}")
        return replace(self, table=self.also[definitions], also={})


def screen_table(table: pd.DataFrame, label: str, path: Path | None = None) -> Input:
    """Apply the rules to a table of ``usi.metrics.load_table``'s shape: the table view of
    :meth:`Screening.admit`, row by row, then the id rule over the rows kept."""
    import pandas as pd

    screening = Screening(label)
    errors = table[ERROR_COLUMN] if ERROR_COLUMN in table.columns else [None] * len(table)
    kept: list[bool] = []
    nulled: list[bool] = []
    for source, error, domain, task in zip(
        table["source"], errors, table["domain"], table["task_id"], strict=True
    ):
        failure = None if _missing(error) or str(error) == "" else str(error)
        task_id = None if _missing(task) else str(task)
        keep, after = screening.admit(str(source), failure, str(domain), task_id)
        kept.append(keep)
        nulled.append(keep and task_id is not None and after is None)
    if not all(kept):
        table = table[kept]
        nulled = [flag for flag, keep in zip(nulled, kept, strict=True) if keep]
    screening.check_ids(table["episode_id"].astype(str))
    table = table.reset_index(drop=True)
    if any(nulled):
        # Null as load_table writes it (None, not NaN): the same table as an unaligned file.
        keep_task = pd.Series(_not(nulled), index=table.index)
        table = table.assign(task_id=table["task_id"].astype(object).where(keep_task, None))
    return Input(label=label, table=table, screening=screening, path=path)


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA: a cell with no value."""
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _not(flags: list[bool]) -> list[bool]:
    return [not flag for flag in flags]


def screened(episodes: Iterable[Episode], screening: Screening) -> Iterator[Episode]:
    """The episodes :meth:`Screening.admit` keeps, their task ids after the rules; the id rule
    is left to the caller (the table builder checks it over a whole input's rows, across its
    reading workers; :func:`screen_episodes` at each episode)."""
    for episode in episodes:
        keep, task_id = screening.admit(
            episode.source, episode.infrastructure_error, episode.domain, episode.task_id
        )
        if keep:
            episode.task_id = task_id
            yield episode


def screen_episodes(episodes: Iterable[Episode], screening: Screening) -> Iterator[Episode]:
    """Apply the rules to a stream of episodes (``usi fingerprint`` never builds a table).

    The stream view of :meth:`Screening.admit`: a duplicate id is an error at its second
    occurrence (what was written before it stays written). ``screening`` collects the counts
    for the warnings.
    """
    for episode in screened(episodes, screening):
        if not screening.see(episode.episode_id):
            raise screening.duplicates([episode.episode_id])
        yield episode


def read_input(
    path: Path,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    definitions: str = "usi-v2",
    per_episode: Callable[[Episode], Any] | None = None,
    also: tuple[str, ...] = (),
) -> Input:
    """One episode file in any format ``usi`` reads, as a table of ``definitions``' features,
    after the rules, read once: the rules, ``per_episode`` (a module-level function, so
    that reading workers can run it) and the tables of the definition sets of ``also`` come
    out of the same pass that builds the rows."""
    from usi.inputs.table import build_table

    screening = Screening(str(path))
    try:
        built = build_table(
            path,
            progress=progress,
            workers=workers,
            definitions=definitions,
            screening=screening,
            per_episode=per_episode,
            also=also,
        )
    except OSError as exc:
        raise UsiInputError(exc.strerror or str(exc), path) from None
    return Input(
        label=str(path),
        table=built.table,
        screening=screening,
        path=path,
        per_episode=built.results if per_episode is not None else None,
        also=built.also,
    )


def human_side(source: Input) -> pd.DataFrame:
    """The people's episodes of the ``--human`` input; none is bad input."""
    table = source.table
    human = table[table["source"] == HUMAN_SOURCE].reset_index(drop=True)
    if human.empty:
        raise source.screening.nothing_left(
            "human episodes", f'source "{HUMAN_SOURCE}"', lambda name: name == HUMAN_SOURCE
        )
    return human


def simulator_tables(source: Input) -> dict[str, pd.DataFrame]:
    """Each non-human source of a simulator input, in order of first appearance."""
    table = source.table
    names = list(dict.fromkeys(table.loc[table["source"] != HUMAN_SOURCE, "source"].astype(str)))
    if not names:
        raise source.screening.nothing_left(
            "simulator episodes",
            f'every source is "{HUMAN_SOURCE}"',
            lambda name: name != HUMAN_SOURCE,
        )
    return {name: table[table["source"] == name].reset_index(drop=True) for name in names}


def only_simulator(source: Input, name: str) -> pd.DataFrame:
    """The one simulator of a ``--sim NAME=FILE`` input (``usi report``)."""
    tables = simulator_tables(source)
    if len(tables) > 1:
        raise UsiInputError(
            f"holds {len(tables)} simulators ({_listing(list(tables))}); --sim {name}=FILE "
            "takes one simulator's episodes (`usi score FILE --human HUMAN` scores each)",
            source.label,
        )
    return next(iter(tables.values()))


def people_note(source: Input) -> list[str]:
    """The warning for people in a simulator input that is not the ``--human`` input."""
    n = int((source.table["source"] == HUMAN_SOURCE).sum())
    if not n:
        return []
    return [f"{source.label}: {n} human episode(s) not scored (the people come from --human)"]


def _file_labels(inputs: Sequence[Input]) -> list[str]:
    """File names, or the paths as given where two files share a name."""
    names = [source.path.name if source.path is not None else source.label for source in inputs]
    return names if len(set(names)) == len(names) else [source.label for source in inputs]


@dataclass(frozen=True)
class Origin:
    """Where a simulator row's episodes come from: one source of one file."""

    path: Path | None
    source: str


def simulator_rows(
    inputs: Sequence[Input],
) -> tuple[dict[str, pd.DataFrame], list[str], dict[str, Origin]]:
    """One row per (source, file): a source in several files is split by file, with a note.

    Also returns each row's origin, so what is computed per episode beside the scores (the
    audit) names and fills its rows exactly as the scores do.
    """
    found: dict[str, list[tuple[Input, pd.DataFrame]]] = {}
    for source in inputs:
        for name, table in simulator_tables(source).items():
            found.setdefault(name, []).append((source, table))
    rows: dict[str, pd.DataFrame] = {}
    origins: dict[str, Origin] = {}
    notes: list[str] = []
    for name, parts in found.items():
        if len(parts) == 1:
            named = [(name, parts[0][1], parts[0][0])]
        else:
            labels = _file_labels([source for source, _ in parts])
            named = [
                (f"{name} ({label})", table, source)
                for label, (source, table) in zip(labels, parts, strict=True)
            ]
            notes.append(
                f"source {name!r} is in {len(parts)} files: scored as separate rows "
                f"{', '.join(repr(row) for row, _, _ in named)} "
                "(concatenate the files to pool them)"
            )
        for row, table, source in named:
            if row in rows:
                raise UsiInputError(f"two simulator rows would both be named {row!r}")
            rows[row] = table
            origins[row] = Origin(source.path, name)
    return rows, notes, origins


@dataclass(frozen=True, eq=False)
class Sides:
    """The people and each simulator, ready to score, and the warnings reading them gave."""

    human: pd.DataFrame
    simulators: dict[str, pd.DataFrame]
    notes: list[str]
    #: Row name → the file and source its episodes come from.
    origins: dict[str, Origin] = field(default_factory=dict)
    #: Each file read (resolved) → its input, with what ``per_episode`` gave for its rows.
    inputs: dict[Path, Input] = field(default_factory=dict)


Reader = Callable[[Path], Input]


def read_sides(simulators: Sequence[Path], human: Path, read: Reader = read_input) -> Sides:
    """Read ``--human`` and every simulator file once each (``read`` adds a status line).

    With no simulator files (``usi score --ceiling``) only the people are read.
    """
    inputs: dict[Path, Input] = {}
    for path in (human, *simulators):
        if path.resolve() not in inputs:
            inputs[path.resolve()] = read(path)
    notes = [note for source in inputs.values() for note in source.notes]
    people = human_side(inputs[human.resolve()])
    given = Counter(path.resolve() for path in simulators)
    for key, times in given.items():
        if times > 1:
            notes.append(f"{inputs[key].label}: given {times} times: scored once")
    sim_inputs = [inputs[key] for key in given]
    rows, split_notes, origins = simulator_rows(sim_inputs)
    notes += split_notes
    for key, source in zip(given, sim_inputs, strict=True):
        if key != human.resolve():
            notes += people_note(source)
    return Sides(human=people, simulators=rows, notes=notes, origins=origins, inputs=inputs)
