"""Make the repository's ``bench`` package importable: pytest puts test directories on sys.path, not the root."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
