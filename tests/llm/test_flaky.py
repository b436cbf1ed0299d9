"""``offline/flaky``: the errors it commits are recorded, and the audit recovers them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from usi.audit import KINDS, audit_episode
from usi.data.readers import read_episodes
from usi.errors import UsiInputError
from usi.llm.offline.behaviour import task_script
from usi.llm.offline.flaky import RATES_ENV, flaky_turn, parse_rates
from usi.llm.offline.server import OfflineConfig, OfflineServer, set_default_server
from usi.run.episode import RoleSettings, RunSettings
from usi.run.runner import run_episodes


@pytest.fixture
def offline() -> Iterator[OfflineServer]:
    """An in-process offline server as the default (it reads the rates from this process)."""
    from loguru import logger

    logger.remove()
    server = OfflineServer(OfflineConfig())
    previous = set_default_server(server)
    yield server
    set_default_server(previous)
    server.close()


def test_rates_one_number_or_per_kind_and_bad_rates_are_bad_input() -> None:
    assert parse_rates("0.3") == dict.fromkeys(KINDS, 0.3)
    rates = parse_rates("0.1,premature_stop:0.9")
    assert rates["premature_stop"] == 0.9 and rates["empty_turn"] == 0.1
    assert parse_rates(None) == dict.fromkeys(KINDS, 0.2)
    for bad in ("1.5", "premature:0.1", "empty_turn:x"):
        with pytest.raises(UsiInputError, match=RATES_ENV):
            parse_rates(bad)


def test_rate_zero_is_a_clean_user_and_rate_one_commits_at_the_opening() -> None:
    script = task_script("retail", "0")
    clean, committed = flaky_turn(script, [], [], 7, dict.fromkeys(KINDS, 0.0))
    assert committed == [] and clean.startswith("Hi, I need some help.")
    _, committed = flaky_turn(script, [], [], 7, dict.fromkeys(KINDS, 1.0))
    assert {c["kind"] for c in committed} == {
        "hallucinated_identifier",
        "instruction_leak",
        "role_confusion",
    }


@pytest.mark.parametrize(
    ("domain", "tasks"), [("retail", ["0", "1", "2", "3", "4", "5"]), ("airline", ["2", "9", "19"])]
)
def test_the_audit_recovers_the_injected_errors(
    offline: OfflineServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    domain: str,
    tasks: list[str],
) -> None:
    monkeypatch.setenv(RATES_ENV, "0.5")
    settings = RunSettings(
        domain=domain,
        agent=RoleSettings("offline/oracle", temperature=0.0),
        user=RoleSettings("offline/flaky", temperature=0.0),
        survey=False,
    )
    out = tmp_path / "flaky.jsonl"
    summary = run_episodes(settings, out, task_ids=tasks, trials=2, concurrency=3, progress=False)
    assert summary.errors == 0
    episodes = read_episodes(out)
    injected_kinds: set[str] = set()
    for episode in episodes:
        assert episode.metadata["flaky_rates"] == dict.fromkeys(KINDS, 0.5)
        injected = episode.metadata["injected_errors"]
        n_user = sum(m.role == "user" for m in episode.messages)
        for error in injected:
            assert set(error) == {"kind", "turn", "evidence"}
            assert 0 <= error["turn"] < n_user  # a user turn of the recorded conversation
        kinds = {e["kind"] for e in injected}
        injected_kinds |= kinds
        assert audit_episode(episode).kinds() == kinds, episode.episode_id
    assert len(injected_kinds) >= 4  # the run exercised most kinds, not only the easy ones


def test_bad_rates_are_reported_when_the_model_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from usi.llm.models import validate_model

    monkeypatch.setenv(RATES_ENV, "often")
    with pytest.raises(UsiInputError, match="USI_OFFLINE_FLAKY: bad rate 'often'"):
        validate_model("offline/flaky")
    monkeypatch.setenv(RATES_ENV, "0.1")
    validate_model("offline/flaky")
