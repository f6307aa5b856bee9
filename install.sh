#!/usr/bin/env bash
# Creates .venv with draggan-assistant and everything it needs, CPU-only.
#   ./install.sh         the app
#   ./install.sh --dev   the app and the test tools, Debian's espeak-ng and sox included (apt-get)
set -euo pipefail
cd "$(dirname "$0")"
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
[ -x .venv/bin/python ] || python3 -m venv .venv
py=.venv/bin/python
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$py -m pip install -q torch==2.13.0
# openai-whisper pins triton (about 1 GB, GPU only) on Linux x86-64: take whisper without it;
# its real runtime dependencies are listed in pyproject.toml.
$py -m pip install -q --no-deps openai-whisper==20250625
$py -m pip install -q -e ".${extra}"
if [ -n "$extra" ]; then
  # The tests speak commands with espeak-ng and mix noise into them with sox.
  tools/install-debian-packages.sh espeak-ng sox
fi
