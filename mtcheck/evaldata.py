"""Loaders for ../shared/eval (shared by the evaluation, calibration and FP scripts)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EVAL_DIR = Path(os.environ.get("MTCHECK_EVAL_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "eval"))


def clean_rows(path: Path) -> list[dict]:
    """Rows of clean English (doc_id, para, seg_id, text, domain): a WMT source JSONL as it is, or
    from an MQM JSONL (Bio-MQM) the human references that every rating found free of errors, each
    document's segments in order, one paragraph per document."""
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    if not rows or "errors" not in rows[0]:
        return rows
    documents: "OrderedDict[str, dict[int, tuple[str, bool]]]" = OrderedDict()
    for row in rows:
        if not row["system"].startswith("ref"):
            continue
        doc_id = row["doc_id"] if "doc_id" in row else row["doc"]
        segments = documents.setdefault(f"{row.get('pair', '')}/{row['system']}/{doc_id}", {})
        text, clean = segments.get(int(row["seg_id"]), (row["target"], True))
        segments[int(row["seg_id"])] = (text, clean and not row["errors"])
    return [
        {"doc_id": doc_id, "para": 0, "seg_id": seg_id, "text": text, "domain": "biomedical"}
        for doc_id, segments in documents.items()
        for seg_id, (text, clean) in sorted(segments.items())
        if clean
    ]


def clean_news_documents(
    path: Path | None = None, domains: tuple[str, ...] | None = None, layout: str = "paragraphs"
) -> list[tuple[str, str]]:
    """Rebuild (text, doc_id) documents from a WMT source JSONL.

    ``layout``: "paragraphs" joins the segments of one 'para' with spaces and separates paragraphs
    by a blank line; "lines" puts each segment on its own line (as WMT-style files and many corpora do).
    """
    if layout not in ("paragraphs", "lines"):
        raise ValueError(f"layout must be 'paragraphs' or 'lines', not {layout!r}")
    path = path or EVAL_DIR / "dev" / "newstest2021.en.src.jsonl"
    docs: "OrderedDict[str, OrderedDict[object, list[str]]]" = OrderedDict()
    for row in clean_rows(path):
        if domains and row.get("domain") not in domains:
            continue
        paragraphs = docs.setdefault(row["doc_id"], OrderedDict())
        paragraphs.setdefault(row.get("para", row["seg_id"]), []).append(row["text"].strip())
    if layout == "lines":
        return [("\n".join(s for p in paras.values() for s in p), doc_id) for doc_id, paras in docs.items()]
    return [("\n\n".join(" ".join(p) for p in paras.values()), doc_id) for doc_id, paras in docs.items()]


def segment_counts(path: Path) -> dict[str, int]:
    """The number of segments (lines of the JSONL) of each document of a WMT source JSONL."""
    counts: dict[str, int] = {}
    for row in clean_rows(path):
        counts[row["doc_id"]] = counts.get(row["doc_id"], 0) + 1
    return counts


def document_domains(path: Path) -> dict[str, str]:
    """The domain of each document of a WMT source JSONL (one read, whatever the domains)."""
    return {row["doc_id"]: row.get("domain", "") for row in clean_rows(path)}


# -- MQM (span level and segment scores) -------------------------------------------------------
@dataclass
class MqmOutput:
    """One distinct MT output (system, doc, segment, target text) and every rater's error list."""

    system: str
    doc: str
    seg_id: str
    target: str
    source: str
    ratings: list[list[dict]] = field(default_factory=list)
    penalties: list[float] = field(default_factory=list)
    majors: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.system}|{self.doc}|{self.seg_id}"

    @property
    def error_free(self) -> bool:
        """No rater marked any error (source side included)."""
        return not any(self.ratings)

    @property
    def mean_penalty(self) -> float:
        return sum(self.penalties) / len(self.penalties)


def load_mqm(path: Path) -> list[MqmOutput]:
    """Distinct outputs of an MQM JSONL in file order: the rows of one output (one per rater) are merged."""
    outputs: "OrderedDict[tuple[str, str, str, str], MqmOutput]" = OrderedDict()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            key = (row["system"], row["doc"], str(row["seg_id"]), row["target"])
            out = outputs.get(key)
            if out is None:
                out = outputs[key] = MqmOutput(row["system"], row["doc"], str(row["seg_id"]), row["target"], row["source"])
            out.ratings.append(row["errors"])
            out.penalties.append(float(row["mqm_penalty"]))
            out.majors.append(int(row["n_major"]))
    return list(outputs.values())


@dataclass
class ScoredSegment:
    """One row of the newstest2021 MQM sentence table."""

    seg_id: str
    system: str
    score: float  # MQM average, <= 0, more negative is worse
    source: str
    target: str

    @property
    def key(self) -> str:
        return f"{self.system}|{self.seg_id}"


def load_mqm_sentences(path: Path) -> list[ScoredSegment]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        col = {name: i for i, name in enumerate(header)}
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            rows.append(
                ScoredSegment(
                    parts[col["seg_id"]],
                    parts[col["system"]],
                    float(parts[col["mqm_avg_score"]]),
                    parts[col["source_zh"]],
                    parts[col["mt_en"]],
                )
            )
    return rows


def stable_sample(items: list, key: Callable[[object], str], limit: int | None) -> list:
    """A fixed, seed-free subsample: the ``limit`` items whose key has the smallest SHA-1, in input order.

    Spreads a small sample over systems and documents (the files are sorted by both), and gives the
    same sample on every machine and Python version.
    """
    if limit is None or limit >= len(items):
        return list(items)
    ranked = sorted(range(len(items)), key=lambda i: hashlib.sha1(key(items[i]).encode("utf-8")).hexdigest())
    return [items[i] for i in sorted(ranked[:limit])]


# -- minimal pairs -----------------------------------------------------------------------------
@dataclass
class MinimalPair:
    good: str
    bad: str
    group: str  # BLiMP paradigm (UID) or JFLEG reference name


def load_blimp(path: Path | None = None, per_set: int = 100) -> list[MinimalPair]:
    """The first ``per_set`` pairs of each of the 67 BLiMP paradigms, paradigms in name order."""
    path = path or EVAL_DIR / "dev" / "blimp" / "BLiMP.zip"
    pairs = []
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("data/") and n.endswith(".jsonl"))
        for name in names:
            lines = archive.read(name).decode("utf-8").splitlines()
            for line in lines[:per_set]:
                row = json.loads(line)
                pairs.append(MinimalPair(row["sentence_good"], row["sentence_bad"], row["UID"]))
    return pairs


_ATTACH_LEFT = re.compile(r" +([.,!?;:%)\]}]|\.\.\.|n't|'(?:s|re|ve|ll|d|m|t)\b)", re.IGNORECASE)
_ATTACH_RIGHT = re.compile(r"([(\[{$]) +")


def detokenize(text: str) -> str:
    """Undo PTB/Moses-style tokenization well enough for a language model ("do n't ." → "don't.")."""
    text = text.replace("``", '"').replace("''", '"')
    text = _ATTACH_LEFT.sub(r"\1", " ".join(text.split()))
    text = _ATTACH_RIGHT.sub(r"\1", text)
    # straight double quotes alternate: an opening one sticks to the next word, a closing one to the last
    pieces = text.split('"')
    if len(pieces) > 1:
        out = pieces[0]
        for i, piece in enumerate(pieces[1:]):
            if i % 2 == 0:
                out = out.rstrip(" ") + (" " if out.strip() else "") + '"' + piece.lstrip(" ")
            else:
                out = out.rstrip(" ") + '"' + piece
        text = out
    return text.strip()


def archive_lines(archive: Path, endings: Sequence[str], prefix: str = "") -> dict[str, list[str]]:
    """Per ending, the lines of the first member of a tar archive whose name ends with it (and
    whose file name starts with ``prefix``)."""
    with tarfile.open(archive) as tar:
        names = [n for n in tar.getnames() if n.rsplit("/", 1)[-1].startswith(prefix)]
        return {
            ending: tar.extractfile(next(n for n in names if n.endswith(ending))).read().decode("utf-8").splitlines()
            for ending in endings
        }


def mlqe_archives(split: str, suffixes: tuple[str, ...], folder: Path | None = None):
    """Per MLQE-PE language pair (sorted): (pair such as "ru-en", {suffix: lines of that file}).

    ``split`` is "dev" or "test" (whose files are named test20.*); ``suffixes`` name the files:
    "mt", "hter", "tags", ...
    """
    folder = folder or EVAL_DIR / "dev" / "mlqe-pe"
    for archive in sorted(folder.glob(f"post-editing.*-en-{split}.tar.gz")):
        lines = archive_lines(archive, [f".{suffix}" for suffix in suffixes], prefix=split)
        yield archive.name.split(".")[1].removesuffix(f"-{split}"), {s: lines[f".{s}"] for s in suffixes}


def load_mlqe_unedited(split: str = "dev", folder: Path | None = None) -> list[tuple[str, str]]:
    """(detokenized MT output, id) of every MLQE-PE sentence its post-editor left unchanged (HTER 0).

    Wikipedia and Reddit sentences machine-translated into English (et, ne, ro, ru, si), so clean
    MT English, not news. The post-edits themselves are not used: they keep the MT wording.
    """
    rows = []
    for pair, files in mlqe_archives(split, ("mt", "hter"), folder):
        for number, (mt, hter) in enumerate(zip(files["mt"], files["hter"]), start=1):
            if float(hter) == 0.0 and mt.strip():
                rows.append((detokenize(mt), f"mlqe:{pair}:{split}:{number}"))
    return rows


def load_jfleg(folder: Path | None = None, split: str = "dev", limit: int | None = None) -> list[MinimalPair]:
    """(reference, learner source) pairs of JFLEG, detokenized, skipping references equal to the source."""
    folder = folder or EVAL_DIR / "dev" / "jfleg"
    sources = (folder / f"{split}.src").read_text(encoding="utf-8").splitlines()
    references = [(folder / f"{split}.ref{k}").read_text(encoding="utf-8").splitlines() for k in range(4)]
    pairs = []
    for i, source in enumerate(sources[:limit]):
        bad = detokenize(source)
        for k, refs in enumerate(references):
            good = detokenize(refs[i])
            if good and bad and good != bad:
                pairs.append(MinimalPair(good, bad, f"ref{k}"))
    return pairs
