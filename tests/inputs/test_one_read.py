"""Each input is decoded once, and the rules, the table and the audit come out of that pass."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson
import orjson
import pandas as pd
import pytest

from data_fixtures import write_tau2_results
from usi.audit.runner import audit_file
from usi.core.episode import Episode
from usi.data import readers
from usi.data.readers import EpisodeFormat, detect_format, iter_episodes, open_episodes
from usi.errors import UsiInputError
from usi.inputs.sides import Screening, read_input, screen_episodes, screen_table
from usi.inputs.table import load_table

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tau_usi_small.json"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times a whole document was decoded (orjson) or streamed (ijson)."""
    counts: Counter[str] = Counter()
    loads, kvitems = orjson.loads, ijson.kvitems

    def counting_loads(data: Any) -> Any:
        counts["whole"] += 1
        return loads(data)

    def counting_kvitems(*args: Any, **kwargs: Any) -> Any:
        counts["streamed"] += 1
        return kvitems(*args, **kwargs)

    monkeypatch.setattr(orjson, "loads", counting_loads)
    monkeypatch.setattr(ijson, "kvitems", counting_kvitems)
    return counts


def _results_file(tmp_path: Path) -> Path:
    """The paper's simulator results format: entries with a conversation and a reward."""
    entries = {
        f"retail_{i}": {
            "conversation": [
                {"role": "user", "content": f"hello, I need order {i}"},
                {"role": "assistant", "content": "Sure."},
            ],
            "reward": 1.0,
        }
        for i in range(3)
    }
    path = tmp_path / "eval_results_mine.json"
    path.write_text(json.dumps(entries))
    return path


def _formats(tmp_path: Path) -> dict[str, tuple[Path, EpisodeFormat]]:
    one_line = tmp_path / "study.json"
    one_line.write_text(json.dumps(json.loads(FIXTURE.read_text(encoding="utf-8"))))
    canonical = tmp_path / "episodes.jsonl"
    canonical.write_text(
        "".join(e.model_dump_json() + "\n" for e in iter_episodes(FIXTURE)), encoding="utf-8"
    )
    return {
        "canonical": (canonical, EpisodeFormat.CANONICAL),
        "tau-usi, one line": (one_line, EpisodeFormat.TAU_USI),
        "tau-usi, indented": (FIXTURE, EpisodeFormat.TAU_USI),
        "tau-usi-results": (_results_file(tmp_path), EpisodeFormat.TAU_USI_RESULTS),
        "τ² results": (write_tau2_results(tmp_path / "tau2.json"), EpisodeFormat.TAU2_RESULTS),
    }


EXPECTED = {  # (whole-document decodes, streams) per read
    "canonical": (0, 0),
    "tau-usi, one line": (0, 1),
    "tau-usi, indented": (0, 1),
    "tau-usi-results": (1, 1),  # the stream's first value says "not the study": decoded whole
    "τ² results": (1, 1),
}


def test_every_format_is_decoded_once(tmp_path: Path, decodes: Counter[str]) -> None:
    for name, (path, fmt) in _formats(tmp_path).items():
        decodes.clear()
        found, episodes = open_episodes(path)
        read = list(episodes)
        assert (found, bool(read)) == (fmt, True), name
        assert (decodes["whole"], decodes["streamed"]) == EXPECTED[name], name


def test_a_canonical_line_is_decoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _formats(tmp_path)["canonical"]
    calls: list[str] = []
    validate = Episode.model_validate_json

    def counting(line: Any, **kwargs: Any) -> Episode:
        calls.append("line")
        return validate(line, **kwargs)

    monkeypatch.setattr(Episode, "model_validate_json", counting)
    n = len(list(open_episodes(path)[1]))
    assert len(calls) == n == len(path.read_text().splitlines())


def test_a_streamed_study_file_reads_as_the_decoded_one(tmp_path: Path) -> None:
    path, _ = _formats(tmp_path)["tau-usi, one line"]
    from usi.data.tau_usi import read_tau_usi

    whole = list(read_tau_usi(path, document=json.loads(path.read_text())))
    streamed = list(iter_episodes(path))
    assert [e.model_dump() for e in streamed] == [e.model_dump() for e in whole]


def _study(tmp_path: Path, change: Any) -> Path:
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(document))
    return path


def _error(path: Path) -> str:
    with pytest.raises(UsiInputError) as caught:
        list(iter_episodes(path))
    return caught.value.one_line()


def test_a_stream_that_is_not_a_plain_study_file_says_what_the_whole_document_says(
    tmp_path: Path,
) -> None:
    keys = list(json.loads(FIXTURE.read_text(encoding="utf-8")))

    def lacks_conversation(document: dict[str, Any]) -> None:
        document[keys[0]]["conversation"][1] = "not a message"  # a session error first …
        del document[keys[-1]]["conversation"]  # … a document error later: that one wins

    path = _study(tmp_path, lacks_conversation)
    assert _error(path) == _whole(path)
    assert 'tau-usi session without a "conversation" list' in _error(path)
    assert detect_format(FIXTURE) is EpisodeFormat.TAU_USI

    def bad_message(document: dict[str, Any]) -> None:
        document[keys[1]]["conversation"][1] = "not a message"
        document[keys[2]]["conversation"][1] = "not a message either"

    path = _study(tmp_path, bad_message)
    assert _error(path) == _whole(path)
    assert f"{keys[1]} message 1: message is not a JSON object" in _error(path)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(json.loads(FIXTURE.read_text()))[:-2])
    assert _error(broken) == _whole(broken)
    assert "invalid JSON" in _error(broken)


def _whole(path: Path) -> str:
    """The error of the whole-document path (decode, classify, read)."""
    from usi.core.decode import load_json
    from usi.data.tau_usi import read_tau_usi

    with pytest.raises(UsiInputError) as caught:
        _, document = readers._classify(path, load_json(path))
        list(read_tau_usi(path, document=document))
    return caught.value.one_line()


def _episodes_with_everything() -> list[Episode]:
    """Kept episodes, failed runs (an empty error is none), tasks τ² does not have."""
    base = next(iter_episodes(FIXTURE))
    out = []
    for i, (error, task) in enumerate(
        [(None, base.task_id), ("timeout", "1"), (None, "99999"), ("", None), (None, "99999")]
    ):
        episode = base.model_copy(deep=True)
        episode.episode_id = f"e{i}"
        episode.source = "sim" if i % 2 else "human"
        episode.task_id = task
        episode.metadata = {**episode.metadata, "error": error}
        out.append(episode)
    return out


def test_the_table_and_the_stream_are_views_of_one_rule_set() -> None:
    episodes = _episodes_with_everything()
    from_table = screen_table(load_table([e.model_copy(deep=True) for e in episodes]), "in")
    stream = Screening("in")
    kept = list(screen_episodes([e.model_copy(deep=True) for e in episodes], stream))
    assert from_table.screening.notes() == stream.notes()
    assert from_table.screening.kept == stream.kept == Counter({"human": 3, "sim": 1})
    assert list(from_table.table["episode_id"]) == [e.episode_id for e in kept]
    tasks = [None if pd.isna(task) else task for task in from_table.table["task_id"]]
    assert tasks == [e.task_id for e in kept]
    assert [e.task_id for e in kept] == [episodes[0].task_id, None, None, None]


def test_the_audit_comes_out_of_the_reading_pass(tmp_path: Path) -> None:
    path = tmp_path / "episodes.jsonl"
    episodes = _episodes_with_everything()
    path.write_text("".join(e.model_dump_json() + "\n" for e in episodes))
    read = read_input(path, per_episode=_audit)
    again = read_input(path)
    pd.testing.assert_frame_equal(read.table, again.table)
    assert read.notes == again.notes
    assert read.per_episode is not None
    assert [a.model_dump() for a in read.per_episode] == [a.model_dump() for a in audit_file(path)]
    for workers in (1, 2):  # the same in the reading workers
        parallel = read_input(path, workers=workers, per_episode=_audit)
        pd.testing.assert_frame_equal(parallel.table, read.table)
        assert parallel.notes == read.notes
        assert parallel.per_episode is not None
        assert [a.model_dump() for a in parallel.per_episode] == [
            a.model_dump() for a in read.per_episode
        ]
        tallied = read_input(path, workers=workers, per_episode=_tally)
        assert tallied.per_episode == [a.tally() for a in read.per_episode]
        # another definition set's table from the same pass is the one read by itself
        both = read_input(path, workers=workers, also=("tau-usi",))
        pd.testing.assert_frame_equal(both.table, read.table)
        alone = read_input(path, workers=workers, definitions="tau-usi").table
        pd.testing.assert_frame_equal(both.under("tau-usi").table, alone)
        assert both.under("tau-usi").table.attrs == alone.attrs == {"definitions": "tau-usi"}
        assert both.under("usi-v2") is both


def _audit(episode: Episode) -> Any:
    from usi.audit.runner import audit_episode

    return audit_episode(episode)


def _tally(episode: Episode) -> Any:
    from usi.audit.runner import tally_episode

    return tally_episode(episode)


def test_score_json_reads_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from usi.audit import summary
    from usi_main import run_usi as run

    path = tmp_path / "both.jsonl"
    path.write_text(Path(_formats(tmp_path)["canonical"][0]).read_text())
    sim = tmp_path / "sim.jsonl"
    sim.write_text(
        "".join(
            e.model_copy(update={"source": "mimic", "episode_id": f"m{i}"}).model_dump_json() + "\n"
            for i, e in enumerate(iter_episodes(path))
        )
    )
    opened: Counter[str] = Counter()
    sniff = readers._sniff

    def counting(p: Path) -> Any:
        opened[p.name] += 1
        return sniff(p)

    def no_second_read(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise AssertionError("the audit read a file again")

    monkeypatch.setattr(readers, "_sniff", counting)
    monkeypatch.setattr(summary, "audit_file", no_second_read)
    code, out, err = run(capsys, "score", sim, "--human", path, "--json", "--bootstrap", "0")
    assert code == 0, err
    audit = json.loads(out)["audit"]
    assert {"simulator", "human", "excess"} <= set(audit)
    assert audit["simulator"]["n_episodes"] == audit["human"]["n_episodes"]
    assert opened == Counter({"sim.jsonl": 1, "both.jsonl": 1})
