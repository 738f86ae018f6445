# Sourced by scripts/test and scripts/examples: create .venv with the pinned dev set when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import torch, tensorflow, pytest_mlcheck" 2>/dev/null; then
    echo "creating .venv (torch, tensorflow-cpu, pytest, hypothesis, scikit-learn; about 2 minutes)"
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
fi
export TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2
