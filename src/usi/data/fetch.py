"""``usi data fetch``: the released human-study data as one canonical episodes file.

The study's sessions are the Hugging Face dataset ``cmu-lti/tau-usi`` (CC-BY-NC-4.0,
research and evaluation use only). It is *gated*: its terms must be accepted on the dataset
page, and the download then needs a token (``HF_TOKEN`` or ``hf auth login``); a gated answer
says exactly that. Fetching downloads the one file holding the sessions,
:data:`SESSIONS_FILE`, with ``huggingface_hub`` (its own cache, resume, revision pinning and
progress bar apply) and converts them into ``<dest>/human.jsonl`` — the human reference every
``usi score`` needs. Should the dataset's layout change (that file gone, or no longer in the
tau-usi format), it falls back to the whole snapshot and converts every tau-usi-format JSON
file found in it by content. ``--from PATH`` converts a local copy (a file or a folder).

Where things go:

- snapshot: huggingface_hub's cache (``HF_HUB_CACHE``/``HF_HOME``), or ``DEST/snapshot``
  when ``--dest DEST`` is given;
- episodes: ``DEST/human.jsonl``; ``DEST`` defaults to ``$USI_CACHE_DIR/tau-usi``, else
  ``$XDG_CACHE_HOME/usi/tau-usi``, else ``~/.cache/usi/tau-usi``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from usi.core.episode import Episode
from usi.data.io import atomic_writer, episode_line
from usi.data.readers import EpisodeFormat, detect_format
from usi.data.tau_usi import read_tau_usi
from usi.errors import UsiInputError

DATASET_REPO = "cmu-lti/tau-usi"
DATASET_TYPE = "dataset"
HUMAN_FILE = "human.jsonl"
SNAPSHOT_DIR = "snapshot"
SESSIONS_FILE = "data/tau_bench_tasks_unified.json"
"""The file of the released dataset that holds every session (the one other tools fetch)."""
# Only JSON documents can hold tau-usi sessions; everything else in the repo is skipped.
CANDIDATE_SUFFIXES: tuple[str, ...] = (".json",)


@dataclass
class ConversionSummary:
    """What a conversion wrote: counted from the episodes themselves."""

    episodes: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    domains: Counter[str] = field(default_factory=Counter)
    aligned: int = 0
    duplicates: int = 0

    def add(self, episode: Episode) -> None:
        self.episodes += 1
        self.sources[episode.source] += 1
        self.domains[episode.domain] += 1
        self.aligned += episode.task_id is not None

    def one_line(self) -> str:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{name} {n}" for name, n in sorted(counter.items()))

        line = (
            f"{self.episodes} episodes; sources: {counts(self.sources)}; "
            f"domains: {counts(self.domains)}; task-aligned {self.aligned}, "
            f"unaligned {self.episodes - self.aligned}"
        )
        if self.duplicates:
            line += f"; {self.duplicates} duplicate sessions skipped"
        return line


@dataclass
class FetchResult:
    output: Path
    snapshot: Path
    files: list[Path]
    summary: ConversionSummary


def default_dest() -> Path:
    """The folder ``usi data fetch`` writes to when ``--dest`` is not given."""
    explicit = os.environ.get("USI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser() / "tau-usi"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "usi" / "tau-usi"


def download_snapshot(
    *,
    revision: str | None = None,
    local_dir: Path | None = None,
    endpoint: str | None = None,
    repo_id: str = DATASET_REPO,
) -> Path:
    """Download (or reuse from cache) the dataset snapshot; Hub failures become one line."""
    from huggingface_hub import snapshot_download

    where = _hub_where(repo_id, revision)
    try:
        folder = snapshot_download(
            repo_id,
            repo_type=DATASET_TYPE,
            revision=revision,
            local_dir=str(local_dir) if local_dir is not None else None,
            endpoint=endpoint,
        )
    except Exception as exc:  # narrowed by _hub_problem, else re-raised
        problem = _hub_problem(exc, endpoint, repo_id)
        if problem is None:
            raise
        raise UsiInputError(problem, where) from None
    return Path(folder)


def download_sessions_file(
    *,
    revision: str | None = None,
    local_dir: Path | None = None,
    endpoint: str | None = None,
    repo_id: str = DATASET_REPO,
) -> Path | None:
    """Download (or reuse from cache) :data:`SESSIONS_FILE`; None when the dataset no longer
    has it (the caller falls back to the snapshot). Hub failures become one line."""
    from huggingface_hub import HfApi, constants, hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        if not constants.HF_HUB_OFFLINE:
            # One request without retries (as snapshot_download starts): a gated, missing or
            # unreachable dataset answers at once, not after hf_hub_download's backoff.
            try:
                HfApi(endpoint=endpoint).repo_info(
                    repo_id, repo_type=DATASET_TYPE, revision=revision or constants.DEFAULT_REVISION
                )
            except Exception as exc:
                if _is_http_answer(exc) or _hub_problem(exc, endpoint, repo_id) is None:
                    raise
                cached = _cached_sessions_file(local_dir, repo_id, revision, try_to_load_from_cache)
                if cached is None:
                    raise UsiInputError(
                        _unreachable(endpoint), _hub_where(repo_id, revision)
                    ) from None
                return cached
        path = hf_hub_download(
            repo_id,
            SESSIONS_FILE,
            repo_type=DATASET_TYPE,
            revision=revision,
            local_dir=str(local_dir) if local_dir is not None else None,
            endpoint=endpoint,
        )
    except Exception as exc:
        if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
            return None  # the layout changed: scan the snapshot instead
        problem = _hub_problem(exc, endpoint, repo_id)
        if problem is None:
            raise
        raise UsiInputError(problem, _hub_where(repo_id, revision)) from None
    return Path(path)


def _is_http_answer(exc: Exception) -> bool:
    """The Hub answered (gated, not found, …), as opposed to not being reachable at all."""
    from huggingface_hub.errors import HfHubHTTPError

    return isinstance(exc, HfHubHTTPError)


def _cached_sessions_file(
    local_dir: Path | None, repo_id: str, revision: str | None, lookup: Any
) -> Path | None:
    """The sessions file from an earlier download, for when the Hub cannot be reached."""
    if local_dir is not None:
        candidate = local_dir / SESSIONS_FILE
        return candidate if candidate.is_file() else None
    found = lookup(repo_id, SESSIONS_FILE, repo_type=DATASET_TYPE, revision=revision)
    return Path(found) if isinstance(found, str) else None


def _unreachable(endpoint: str | None) -> str:
    hub = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    return (
        f"cannot reach the Hugging Face Hub at {hub} and no cached copy exists "
        "(check the network or HF_HUB_OFFLINE, or use --from PATH)"
    )


def _hub_where(repo_id: str, revision: str | None) -> str:
    return f"hf://datasets/{repo_id}" + (f"@{revision}" if revision else "")


def _hub_problem(exc: Exception, endpoint: str | None, repo_id: str = DATASET_REPO) -> str | None:
    """The one-line reason a download failed, or None when it is not a Hub/network problem."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    hub = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    if isinstance(exc, GatedRepoError):
        return (
            f"the dataset is gated: accept its terms at {hub.rstrip('/')}/datasets/{repo_id} "
            "(logged in), then give usi your token with HF_TOKEN=… or `hf auth login`"
        )
    if isinstance(exc, RevisionNotFoundError):
        return "revision not found on the Hub"
    if isinstance(exc, RepositoryNotFoundError):
        return "dataset not found on the Hub (or not accessible with your token)"
    if isinstance(exc, LocalEntryNotFoundError):
        return _unreachable(endpoint)
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return f"the Hub answered HTTP {status}"
    module = type(exc).__module__
    if isinstance(exc, OSError) or module.startswith(("httpx", "huggingface_hub", "requests")):
        return f"download failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return None


def tau_usi_files(root: Path) -> list[Path]:
    """Every tau-usi-format JSON file under ``root`` (or ``root`` itself), in path order."""
    if root.is_file():
        return [root] if detect_format(root) is EpisodeFormat.TAU_USI else []
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in CANDIDATE_SUFFIXES:
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # huggingface_hub's own .cache metadata
        try:
            if detect_format(path) is EpisodeFormat.TAU_USI:
                found.append(path)
        except UsiInputError:
            continue  # not an episodes file (dataset card data, configs, …)
    return found


def _if_tau_usi(path: Path) -> list[Path]:
    """``[path]`` when it is a tau-usi file, else [] (its format changed: scan the snapshot)."""
    try:
        return tau_usi_files(path)
    except UsiInputError:
        return []


def _merged_sessions(files: Iterable[Path], summary: ConversionSummary) -> Iterator[Episode]:
    """Sessions of all files; an identical repeat is skipped, a conflicting one is an error."""
    seen: dict[str, tuple[Path, str]] = {}
    for path in files:
        for episode in read_tau_usi(path):
            line = episode_line(episode)
            if episode.episode_id in seen:
                first_path, first_line = seen[episode.episode_id]
                if first_line == line:
                    summary.duplicates += 1
                    continue
                raise UsiInputError(
                    f"session also in {first_path} with different content", path, episode.episode_id
                )
            seen[episode.episode_id] = (path, line)
            yield episode


def convert_tau_usi_files(files: list[Path], output: Path) -> ConversionSummary:
    """Write the sessions of ``files`` as canonical JSON Lines at ``output``, atomically."""
    summary = ConversionSummary()
    with atomic_writer(output) as handle:
        for episode in _merged_sessions(files, summary):
            handle.write(episode_line(episode) + "\n")
            summary.add(episode)
        if summary.episodes == 0:
            raise UsiInputError("no sessions in the tau-usi files", files[0] if files else None)
    return summary


def fetch(
    *,
    dest: Path | None = None,
    source: Path | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
) -> FetchResult:
    """Download (or take from ``source``) the tau-usi data and write ``DEST/human.jsonl``."""
    out_dir = dest if dest is not None else default_dest()
    if source is not None:
        if not source.exists():
            raise UsiInputError("no such file or folder", source)
        snapshot = source
        files = tau_usi_files(snapshot)
    else:
        local_dir = out_dir / SNAPSHOT_DIR if dest is not None else None
        sessions = download_sessions_file(revision=revision, local_dir=local_dir, endpoint=endpoint)
        # SESSIONS_FILE is data/…: the folder two levels up is the (partial) snapshot.
        files = _if_tau_usi(sessions) if sessions is not None else []
        if sessions is not None and files:
            snapshot = sessions.parents[len(Path(SESSIONS_FILE).parts) - 1]
        else:
            snapshot = download_snapshot(revision=revision, local_dir=local_dir, endpoint=endpoint)
            files = tau_usi_files(snapshot)
    if not files:
        raise UsiInputError("no tau-usi JSON file found", snapshot)
    output = out_dir / HUMAN_FILE
    summary = convert_tau_usi_files(files, output)
    return FetchResult(output=output, snapshot=snapshot, files=files, summary=summary)
