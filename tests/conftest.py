"""Make each function's handler importable by a distinct name (functions/<dir>/app.py -> functions_<dir>)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

for app in sorted((ROOT / "functions").glob("*/app.py")):
    name = f"functions_{app.parent.name}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, app)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
