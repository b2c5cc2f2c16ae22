"""The benchmark suite: the service as deployed, under load, beside node-oidc-provider.

Run it with ``./bench/run`` (``./bench/run --quick`` to try it); bench/README.md
says what it measures and how.
"""

import sys
from pathlib import Path

# ``python -m bench`` puts the repository root on sys.path, where the ``mailbox``
# part would shadow the standard library's module (DESIGN.md, Layout). The
# service is imported as ``buergerkonto`` from the installed package instead.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if p not in ("", ".") and Path(p).resolve() != _ROOT]
