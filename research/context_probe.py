"""Does a document's context help the detector find MT errors? The validation MQM outputs of dev
(TED talk.7; one Bio-MQM document in eight, mtcheck.fluency.data), each checked alone and then
with the other outputs of its document (same system) around it, one per line (the layout whose
rows became blocks in session 14). F001/F002 spans are scored per output against its MQM gold,
at character level, all severities and warning+.

    python research/context_probe.py [--limit N]

Dev only; results in docs/detector.md ("Layout").
"""

from __future__ import annotations

import argparse
from collections import OrderedDict

from mtcheck import Checker, evaldata
from mtcheck.config import Config
from mtcheck.evaluation import PRF, char_prf, mqm_gold
from mtcheck.findings import Severity
from mtcheck.fluency import data


def validation_documents(limit: int | None) -> list[list[evaldata.MqmOutput]]:
    documents: OrderedDict[tuple[str, str, str], list[evaldata.MqmOutput]] = OrderedDict()
    for name in ("mqm_ted_zhen.jsonl", "biomqm_x2en.jsonl"):
        for out in evaldata.load_mqm(evaldata.EVAL_DIR / "dev" / name):
            ted = name.startswith("mqm_ted")
            if (out.doc in data.TED_VALIDATION_TALKS) if ted else data._bucket(out.doc, 8) == 0:
                documents.setdefault((name, out.system, out.doc), []).append(out)
    chosen = list(documents.values())
    for outputs in chosen:
        outputs.sort(key=lambda o: int(o.seg_id) if o.seg_id.isdigit() else o.seg_id)
    return chosen[:limit] if limit else chosen


def scores(checker: Checker, documents: list[list[evaldata.MqmOutput]], joined: bool) -> dict[str, PRF]:
    totals = {"all": PRF(), "warning+": PRF()}
    items = [("\n".join(o.target for o in outputs), "doc") for outputs in documents] if joined else \
        [(o.target, "seg") for outputs in documents for o in outputs]
    reports = checker.check_many(items).documents
    per_output = []
    if joined:
        for outputs, report in zip(documents, reports):
            offset = 0
            for out in outputs:
                end = offset + len(out.target)
                found = [(f.start - offset, f.end - offset, f.severity) for f in report.findings
                         if f.code.startswith("F") and offset <= f.start and f.end <= end]
                per_output.append((out, found))
                offset = end + 1
    else:
        outputs = [o for d in documents for o in d]
        for out, report in zip(outputs, reports):
            per_output.append((out, [(f.start, f.end, f.severity) for f in report.findings if f.code.startswith("F")]))
    for out, found in per_output:
        gold = mqm_gold([data._usable(r) for r in out.ratings], len(out.target), 1)
        totals["all"] += char_prf(out.target, [(s, e) for s, e, _ in found], gold)
        totals["warning+"] += char_prf(out.target, [(s, e) for s, e, sev in found if sev >= Severity.WARNING], gold)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    args = parser.parse_args()
    documents = validation_documents(args.limit)
    checker = Checker(Config(select=("F",)))
    print(f"{len(documents)} documents, {sum(map(len, documents))} outputs")
    for joined in (False, True):
        result = scores(checker, documents, joined)
        label = "with its document, one output per line" if joined else "each output alone"
        print(label + ": " + "; ".join(f"{k} char P {v.precision:.3f} R {v.recall:.3f} F1 {v.f1:.3f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
