"""The README's examples are real: its JSON example is what mtcheck writes today."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_json_example_is_a_real_run() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- json-example:start -->\n```json\n(.*?)```\n<!-- json-example:end -->", readme, re.S)
    assert shown, "the README lost its JSON example markers"
    real = subprocess.run(
        [sys.executable, "-m", "mtcheck", "check", "--no-lm", "--format", "json", "samples/readme-example.txt"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert real.returncode == 1  # it has findings
    # On a mismatch, paste the command's output (named above the example) into the README.
    assert json.loads(shown.group(1)) == json.loads(real.stdout)
    assert shown.group(1) == real.stdout
