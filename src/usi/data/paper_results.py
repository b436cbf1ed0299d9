"""The paper's simulator results and ratings files (spec §10.1, §10.6), read as usi data.

Results: ``{instance_id: {conversation, survey, reward, keep}}`` — or ``{"results": [...]}``
records with ``instance_id`` (or ``domain`` + ``task_index``) — one entry per task and run,
keys ``{domain}_{index}`` or ``{domain}_{index}_{run}``. Each entry becomes a canonical
episode whose source is the file's model label (the name without ``eval_results_``, as the
reference labels it). The entry's key is kept as ``metadata["tau_usi_instance"]``: the
reference groups runs by it (:mod:`usi.metrics.tau_usi.sides`). User messages are kept as
written — a ``###STOP###`` glued to text is speech the paper counts — except a message that
is exactly the token, which ends the episode (``metadata["ended_by"]``). Agent messages are
kept verbatim (their markup is not parsed).

Ratings: ``{human_instance_id: {survey: {field: {answer}}}}`` — a model's answers about each
*human* conversation (the paper's ``survey_comparable_*.json``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from usi.core.episode import Episode, Message
from usi.core.survey import ITEMS_BY_ID
from usi.data.paper import INSTANCE_KEY, N_TURNS_KEY, STOP, raw_turns
from usi.errors import UsiInputError

_KEY_RE = re.compile(r"^(?P<domain>[a-z][a-z0-9]*)_(?P<index>\d+)(?:_(?P<run>\d+))?$")
_ANN_RE = re.compile(r"^(?P<key>.+)_ann(?P<batch>\d+)$")


def model_label(path: Path) -> str:
    """The simulator's name from the file name, as the reference's ``_model_label``."""
    stem = path.stem
    return stem[len("eval_results_") :] if stem.startswith("eval_results_") else stem


def is_results_document(document: Any) -> bool:
    """True for the results format (not the human study's sessions, which carry set-up lines)."""
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        return True
    if not isinstance(document, dict) or not document:
        return False
    values = list(document.values())
    if not all(isinstance(v, dict) and isinstance(v.get("conversation"), list) for v in values):
        return False
    # A results entry carries its own id or reward and none of the study's session fields;
    # anything else with conversations is read as the human study's format (spec §8).
    if not all("instance_id" in v or "reward" in v for v in values):
        return False
    return not any(is_study_session(v) for v in values)


def is_study_session(entry: Mapping[str, Any]) -> bool:
    """True for a session of the human study (never a results entry): platform fields or the
    study's set-up line first."""
    if "quality_score" in entry or "task_id" in entry:
        return True
    conversation = entry.get("conversation") or []
    first = conversation[0] if conversation and isinstance(conversation[0], dict) else {}
    return str(first.get("content", "")).startswith("\\tau ")


def is_ratings_document(document: Any) -> bool:
    """True for a ratings file: entries with a survey and no conversation."""
    if not isinstance(document, dict) or not document:
        return False
    return all(
        isinstance(v, dict) and isinstance(v.get("survey"), dict) and "conversation" not in v
        for v in document.values()
    )


def _entries(document: Any, path: Path) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        out: list[tuple[str, Mapping[str, Any]]] = []
        for n, record in enumerate(document["results"]):
            if not isinstance(record, dict):
                raise UsiInputError("result is not a JSON object", path, f"results[{n}]")
            iid = record.get("instance_id") or f"{record.get('domain')}_{record.get('task_index')}"
            out.append((str(iid), record))
        return out
    return [(str(k), v) for k, v in document.items()]


def read_results(path: str | Path, document: Any) -> Iterator[Episode]:
    """Episodes of a results file (module doc), in file order."""
    p = Path(path)
    source = model_label(p)
    for iid, entry in _entries(document, p):
        match = _KEY_RE.match(iid)
        if match is None:
            raise UsiInputError("entry id is not <domain>_<index>[_<run>]", p, iid)
        conversation = entry.get("conversation")
        if not isinstance(conversation, list):
            raise UsiInputError('entry without a "conversation" list', p, iid)
        messages, ended_by = _messages(conversation, p, iid)
        _, n_turns = raw_turns(conversation, human=False)
        reward = entry.get("reward")
        if reward is not None and (isinstance(reward, bool) or not isinstance(reward, int | float)):
            raise UsiInputError(f"reward must be a number, got {reward!r}", p, iid)
        metadata: dict[str, Any] = {
            INSTANCE_KEY: iid,
            "tau_index": int(match["index"]),
            "keep": entry.get("keep", True),
            N_TURNS_KEY: n_turns,
        }
        if match["run"] is not None:
            metadata["trial"] = int(match["run"]) - 1
        if ended_by:
            metadata["ended_by"] = ended_by
        yield Episode(
            episode_id=iid,
            source=source,
            domain=match["domain"],
            messages=messages,
            reward=None if reward is None else float(reward),
            survey=_answers(entry.get("survey")) or None,
            metadata=metadata,
        )


def _messages(conversation: list[Any], path: Path, iid: str) -> tuple[list[Message], str | None]:
    out: list[Message] = []
    ended_by = None
    for n, raw in enumerate(conversation):
        if not isinstance(raw, dict) or raw.get("role") not in ("user", "assistant"):
            raise UsiInputError(
                "message is not a {role: user|assistant, content}", path, f"{iid} message {n}"
            )
        content = raw.get("content")
        content = "" if content is None else str(content)
        if raw["role"] == "user" and content.strip() == STOP:
            ended_by = STOP
            continue
        out.append(Message(role=raw["role"], content=content))
    return out, ended_by


def _answers(survey: Any) -> dict[str, str]:
    """Answers on the scale (free text kept); an off-scale or missing answer is left out."""
    if not isinstance(survey, dict):
        return {}
    out: dict[str, str] = {}
    for field, entry in survey.items():
        answer = entry.get("answer") if isinstance(entry, dict) else entry
        if not isinstance(answer, str):
            continue
        item = ITEMS_BY_ID.get(field)
        if item is None or answer in item.options:
            out[field] = answer
    return out


def read_ratings(path: str | Path, document: Any) -> dict[tuple[int, str], dict[str, object]]:
    """(human batch, task key) → the rater's raw answers (off-scale kept: the scorer fills)."""
    p = Path(path)
    out: dict[tuple[int, str], dict[str, object]] = {}
    for iid, entry in document.items():
        match = _ANN_RE.match(str(iid))
        batch, key = (int(match["batch"]), match["key"]) if match else (1, str(iid))
        survey = entry.get("survey") if isinstance(entry, dict) else None
        if not isinstance(survey, dict):
            raise UsiInputError("rating without a survey object", p, str(iid))
        out[(batch, key)] = {
            f: (e.get("answer") if isinstance(e, dict) else e) for f, e in survey.items()
        }
    return out


class ResultsWriter:
    """Episodes of one simulator → the paper's results format (``usi data convert --to``).

    Keys are ``{domain}_{index}`` for a single run, ``{domain}_{index}_{run}`` (trial k is run
    k + 1) when the episodes hold several trials; an episode read from the paper's format
    keeps its own key. An episode with no tau-usi index (§10.1) cannot be keyed: it is left
    out and counted. The reference splits a file into runs by suffix only above 170 entries,
    so a smaller multi-run file is read there as one run (:attr:`small_multirun`).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path  # named by the errors
        self.entries: dict[str, dict[str, Any]] = {}
        self.sources: set[str] = set()
        self.unkeyed = 0
        self._pending: list[tuple[Episode, str]] = []

    def add(self, episode: Episode) -> None:
        if episode.is_human:
            raise UsiInputError(
                "a human session: the results format holds one simulator's runs",
                self.path,
                episode.episode_id,
            )
        self.sources.add(episode.source)
        if len(self.sources) > 1:
            raise UsiInputError(
                f"several simulators ({', '.join(sorted(self.sources))}): the results format "
                "holds one simulator; convert each source to its own file",
                self.path,
            )
        instance = episode.metadata.get(INSTANCE_KEY)
        if isinstance(instance, str):
            self._pending.append((episode, instance))
            return
        from usi.data.paper import tau_key

        key = tau_key(episode)
        if key is None:
            self.unkeyed += 1
            return
        self._pending.append((episode, key))

    @property
    def small_multirun(self) -> bool:
        return self._multirun() and len(self._pending) <= 170

    def _multirun(self) -> bool:
        return any(
            isinstance(e.metadata.get("trial"), int) and e.metadata["trial"] > 0
            for e, _ in self._pending
        )

    def document(self) -> dict[str, dict[str, Any]]:
        from usi.core.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS
        from usi.data.paper import paper_conversation

        questions = {i.id: i.question for i in SURVEY_ITEMS}
        questions.update({i.id: i.question for i in FREE_TEXT_ITEMS})
        multirun = self._multirun()
        out: dict[str, dict[str, Any]] = {}
        for episode, key in self._pending:
            if INSTANCE_KEY not in episode.metadata and multirun:
                trial = episode.metadata.get("trial")
                key = f"{key}_{(trial if isinstance(trial, int) else 0) + 1}"
            out[key] = {
                "instance_id": key,
                "conversation": paper_conversation(episode),
                "survey": {
                    field: {"question": questions.get(field, field), "answer": answer}
                    for field, answer in (episode.survey or {}).items()
                },
                "reward": 0.0 if episode.reward is None else float(episode.reward),
                "keep": episode.metadata.get("keep", True),
            }
        return out
