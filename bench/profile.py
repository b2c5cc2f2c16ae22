"""Sampling profiles of the gunicorn workers under load (py-spy), summarised as text.

``./bench/run --profile ROW`` records every worker during that row's first
measured run and writes the collapsed stacks and a summary to the results folder.
Only threads holding the GIL are sampled (``--gil``): a worker is one core at most,
so that is where its CPU goes; waits on PostgreSQL or the socket do not show.
"""

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def py_spy() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def start(pids, seconds: float, out: Path, name: str) -> list[tuple[subprocess.Popen, Path]]:
    tool = py_spy()
    if tool is None:
        print("    (py-spy is not installed: pip install py-spy)", flush=True)
        return []
    running = []
    for pid in pids:
        path = out / f"profile-{name}-{pid}.txt"
        proc = subprocess.Popen([tool, "record", "--pid", str(pid), "--duration", str(int(seconds) + 1),
                                 "--rate", "200", "--format", "raw", "--nonblocking", "--gil", "-o", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.append((proc, path))
    return running


def finish(running, out: Path, name: str, top: int = 25) -> Path | None:
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for proc, path in running:
        proc.wait(60)
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            count = int(count)
            frames = stack.split(";")
            total += count
            own[_short(frames[-1])] += count
            for frame in set(_short(f) for f in frames):
                inclusive[frame] += count
    if not total:
        return None
    lines = [f"# {name}: {total} samples over the workers", "", "## inclusive (share of samples in which the "
             "function is on the stack)"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(top * 2)]
    lines += ["", "## own time"] + [f"{n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    summary = out / f"profile-{name}.md"
    summary.write_text("\n".join(lines) + "\n")
    return summary


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    func, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "wt-bench/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{func} ({where})"
