"""check_identical's comparison: exact verdicts on two small folders, no ../shared, no git."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from check_identical import Result, compare_bytes, compare_results, compare_trees


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


FILES = {
    "out.jsonl": b'{"a": 1}\n{"b": 2}\n',
    "figures/plot.png": b"\x89PNG\r\n\x1a\n\x00\x01\x02\x03",
}


def test_identical_folders_are_the_same(tmp_path: Path) -> None:
    ref = _tree(tmp_path / "ref", FILES)
    new = _tree(tmp_path / "new", FILES)
    assert compare_trees(ref, new) == [("figures/plot.png", "same"), ("out.jsonl", "same")]


def test_one_changed_byte_is_reported_with_its_line_or_offset(tmp_path: Path) -> None:
    ref = _tree(tmp_path / "ref", FILES)
    changed = {
        "out.jsonl": b'{"a": 1}\n{"b": 3}\n',
        "figures/plot.png": b"\x89PNG\r\n\x1a\n\x00\x01\x07\x03",
    }
    new = _tree(tmp_path / "new", changed)
    assert compare_trees(ref, new) == [
        ("figures/plot.png", "DIFFERENT at byte 10 (sizes 12 and 12)"),
        ("out.jsonl", """DIFFERENT at line 2, column 7: ref '{"b": 2}' | new '{"b": 3}'"""),
    ]


def test_a_file_written_by_one_side_only(tmp_path: Path) -> None:
    ref = _tree(tmp_path / "ref", FILES)
    new = _tree(tmp_path / "new", {**FILES, "extra.csv": b"x\n"})
    assert compare_trees(ref, new)[0] == ("extra.csv", "DIFFERENT: only written by new")
    assert compare_bytes(b"a\n", b"a\nb\n") == "DIFFERENT at line 2: ref <end of file> | new 'b'"


def test_normalisation_applies_only_to_the_files_it_names(tmp_path: Path) -> None:
    ref = _tree(tmp_path / "ref", {"out.jsonl": b'{"duration_s": 0.69, "x": 1}\n'})
    new = _tree(tmp_path / "new", {"out.jsonl": b'{"duration_s": 1.58, "x": 1}\n'})
    assert compare_trees(ref, new, "run-tau2/") == [("out.jsonl", "same")]
    assert compare_trees(ref, new, "run-tau2/", rules=[]) == [
        (
            "out.jsonl",
            """DIFFERENT at line 1, column 16: ref '{"duration_s": 0.69, "x": 1}' """
            """| new '{"duration_s": 1.58, "x": 1}'""",
        )
    ]
    assert compare_trees(ref, new, "score/")[0][1].startswith("DIFFERENT at line 1, column 16")


def test_a_long_line_is_shown_around_its_first_difference() -> None:
    ref = b'{"id": "x", "text": "' + b"a" * 100 + b'", "value": 0.33}\n'
    new = ref.replace(b"0.33", b"0.35")
    assert compare_bytes(ref, new) == (
        "DIFFERENT at line 1, column 137: "
        f'ref …\'{"a" * 53}", "value": 0.33}}\' | new …\'{"a" * 53}", "value": 0.35}}\''
    )


def test_command_verdicts() -> None:
    ok = Result(0, b"out\n", b"note\n", 1.0)
    assert compare_results("score", ok, Result(0, b"out\n", b"note\n", 2.0)) == "same"
    assert (
        compare_results("score", ok, Result(0, b"out\n", b"other\n", 1.0))
        == "stderr DIFFERENT at line 1, column 1: ref 'note' | new 'other'"
    )
    failed = Result(2, b"", b"progress\nusi: error: x.json: no episodes\n", 1.0)
    assert (
        compare_results("score", ok, failed)
        == "new failed (exit 2): usi: error: x.json: no episodes"
    )
    assert (
        compare_results("score", Result(None, b"", b"", 9.0), ok)
        == "ref failed (timed out): (no stderr)"
    )
