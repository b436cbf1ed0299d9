"""``usi data fetch`` against the local fake Hub: the gated dataset, the one sessions file,
and the fallback to the snapshot when the dataset's layout changes."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants as hf_constants
import pytest
from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

from fakehub import FakeHub
from usi.data.fetch import DATASET_REPO, SESSIONS_FILE
from usi.data.readers import read_canonical
from usi_main import run_usi

TAU_USI_SMALL = Path(__file__).parents[1] / "fixtures" / "tau_usi_small.json"
TOKEN = "hf_test_token_granted_access"


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Undo the suite's offline default; every cache and token inside tmp_path."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(hf_constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("USI_CACHE_DIR", str(tmp_path / "usi-cache"))
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def _released(**extra: bytes) -> dict[str, bytes]:
    """The dataset as released: the sessions in SESSIONS_FILE, beside other JSON files."""
    other = json.loads(TAU_USI_SMALL.read_text())
    other["airline_0"]["reward"] = 0.5  # a conflicting copy: converting it too would fail
    return {
        "README.md": b"---\nlicense: cc-by-nc-4.0\n---\n# tau-usi (synthetic test copy)\n",
        SESSIONS_FILE: TAU_USI_SMALL.read_bytes(),
        "data/per_domain/airline.json": json.dumps(other).encode(),
        **extra,
    }


def _gets(hub: FakeHub) -> list[str]:
    return [path.split("?")[0] for method, path in hub.requests if method == "GET"]


def test_gated_dataset_says_how_to_get_access(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "dest"
    hub = FakeHub({DATASET_REPO: _released()}, gated={DATASET_REPO: TOKEN})
    with hub.serve():
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_usi(capsys, "data", "fetch", "--dest", str(dest))
        assert code == 2 and out == ""
        line = err.strip()
        assert "\n" not in line and "Traceback" not in err
        assert line.startswith(f"usi: error: hf://datasets/{DATASET_REPO}: the dataset is gated")
        assert f"accept its terms at {hub.endpoint}/datasets/{DATASET_REPO}" in line
        assert "HF_TOKEN" in line and "hf auth login" in line
        assert not (dest / "human.jsonl").exists()

        monkeypatch.setenv("HF_TOKEN", "hf_someone_without_access")  # 403: still gated
        code, _, err = run_usi(capsys, "data", "fetch", "--dest", str(dest))
        assert code == 2 and "the dataset is gated" in err

        monkeypatch.setenv("HF_TOKEN", TOKEN)  # terms accepted: the same command works
        code, out, err = run_usi(capsys, "data", "fetch", "--dest", str(dest))
    assert code == 0, err
    assert out.strip() == str(dest / "human.jsonl")
    assert len(list(read_canonical(dest / "human.jsonl"))) == 5


def test_downloads_only_the_sessions_file(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "dest"
    hub = FakeHub({DATASET_REPO: _released()})
    with hub.serve():
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_usi(capsys, "data", "fetch", "--dest", str(dest))
    assert code == 0, err
    assert out.strip() == str(dest / "human.jsonl")
    files = [path for path in _gets(hub) if "/resolve/" in path]
    assert files == [f"/datasets/{DATASET_REPO}/resolve/main/{SESSIONS_FILE}"]  # nothing else
    assert not any("/tree/" in path for _, path in hub.requests)  # no snapshot listing
    assert (dest / "snapshot" / SESSIONS_FILE).read_bytes() == TAU_USI_SMALL.read_bytes()
    assert not (dest / "snapshot" / "data" / "per_domain").exists()
    assert f"read {SESSIONS_FILE} from {dest / 'snapshot'}" in err
    episodes = list(read_canonical(dest / "human.jsonl"))
    assert [e.episode_id for e in episodes][:2] == ["airline_0", "airline_0_ann2"]
    assert stat.S_IMODE((dest / "human.jsonl").stat().st_mode) == 0o644


def test_falls_back_to_the_snapshot_when_the_layout_changes(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = {
        "README.md": b"# moved\n",
        "sessions/v2/all.json": TAU_USI_SMALL.read_bytes(),
        "sessions/v2/config.json": b'{"not": "sessions"}',
    }
    dest = tmp_path / "dest"
    hub = FakeHub({DATASET_REPO: files})
    with hub.serve():
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, _, err = run_usi(capsys, "data", "fetch", "--dest", str(dest))
    assert code == 0, err
    asked = [(method, path.split("?")[0]) for method, path in hub.requests]
    sessions = ("HEAD", f"/datasets/{DATASET_REPO}/resolve/main/{SESSIONS_FILE}")
    listing = next(i for i, (_, path) in enumerate(asked) if "/tree/" in path)
    assert asked.index(sessions) < listing  # the sessions file is tried first, then the snapshot
    assert "read sessions/v2/all.json" in err
    assert len(list(read_canonical(dest / "human.jsonl"))) == 5
