#!/usr/bin/env bash
# Paper Table 6 beside our numbers (see scripts/reproduce.py --help and docs/REPRODUCTION.md).
#   bash scripts/reproduce_table6.sh [--smoke] [--dataset cityscapes|synthcity] [--opts KEY VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" scripts/reproduce.py --table 6 "$@"
