"""Reference metrics equal the sacrebleu command line on the same files, signatures included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtcheck.gate.corpus import read_aligned
from mtcheck.gate.metrics import corpus_metrics, segment_chrf

HYPOTHESES = [
    "The committee approved the budget on Tuesday.",
    "Heavy rain is expected to continue over the weekend .",
    "She said that the bridge will reopen after repairs are finished.",
    "Prices of fresh vegetables rose sharply in the market this spring.",
    "The students planted forty trees along the river.   ",
]
REFERENCES = [
    "The committee approved the new budget on Tuesday.",
    "Rain is expected to continue through the weekend.",
    "She said the bridge would reopen once the repairs were finished.",
    "Prices for fresh vegetables rose sharply at the market this spring.",
    "Students planted forty trees along the river path.",
]
SECOND_REFERENCES = [
    "On Tuesday the committee passed the budget.",
    "More heavy rain is forecast for the weekend.",
    "The bridge will reopen after the repairs, she said.",
    "Fresh vegetables cost much more at the market this spring.",
    "Forty trees were planted by students along the river.",
]
SACREBLEU = Path(sys.executable).parent / "sacrebleu"


def _cli(refs: list[Path], hyp: Path) -> dict[str, dict]:
    if not SACREBLEU.exists():
        pytest.skip("the sacrebleu command is not installed next to this Python")
    command = [str(SACREBLEU), *map(str, refs), "-i", str(hyp), "-m", "bleu", "chrf", "ter", "-w", "4"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {entry["name"]: entry for entry in json.loads(output)}


@pytest.mark.parametrize("reference_sets", [[REFERENCES], [REFERENCES, SECOND_REFERENCES]])
def test_corpus_scores_equal_the_sacrebleu_command_line(tmp_path: Path, reference_sets: list[list[str]]) -> None:
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\n".join(HYPOTHESES) + "\n", encoding="utf-8")
    ref_paths = []
    for k, refs in enumerate(reference_sets):
        path = tmp_path / f"ref{k}.txt"
        path.write_text("\n".join(refs) + "\n", encoding="utf-8")
        ref_paths.append(path)

    corpus = read_aligned(str(hyp), refs=[str(p) for p in ref_paths])
    streams = [[s.refs[k] for s in corpus.segments] for k in range(corpus.ref_count)]
    ours = corpus_metrics([s.text for s in corpus.segments], streams)
    theirs = _cli(ref_paths, hyp)

    assert set(theirs) == {score.name for score in ours.values()} == {"BLEU", "chrF2", "TER"}
    for score in ours.values():
        assert round(score.score, 4) == pytest.approx(theirs[score.name]["score"], abs=1e-9), score.name
        assert score.signature == theirs[score.name]["signature"]
        assert f"nrefs:{len(reference_sets)}" in score.signature


def test_segment_chrf_matches_sentence_score_and_orders_segments() -> None:
    from sacrebleu.metrics import CHRF

    scores = segment_chrf(HYPOTHESES, [REFERENCES])
    assert scores == [CHRF().sentence_score(h, [r]).score for h, r in zip(HYPOTHESES, REFERENCES)]
    assert segment_chrf(["identical text"], [["identical text"]]) == [100.0]
    assert segment_chrf(["zzz"], [["identical text"]])[0] < 10


def test_misaligned_streams_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 segments for 1 hypotheses"):
        corpus_metrics(["a"], [["a", "b"]])
