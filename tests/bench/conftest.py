"""Make bench/ importable as the package ``bench`` for the harness tests.

It is loaded from its path rather than by putting the repository root on
sys.path, where the top-level ``mailbox`` folder would shadow the standard
library's module. pytest imports this file before the test modules beside it.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if "bench" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("bench", ROOT / "bench" / "__init__.py",
                                                   submodule_search_locations=[str(ROOT / "bench")])
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["bench"] = _module
    _spec.loader.exec_module(_module)
