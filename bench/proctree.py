"""A process and its descendants: their resident memory, and stopping them all by PID.

psutil when it is installed; otherwise Linux's /proc, so the benchmark also runs where only the
project's test dependencies are (CI), which do not include psutil.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) from /proc/<pid>/stat; None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may contain spaces and ')'
    return fields[0], int(fields[1])


def tree_pids(root: int) -> list[int]:
    """root and all its descendants (root first); empty when root is gone."""
    if psutil is not None:
        try:
            proc = psutil.Process(root)
            return [root, *(child.pid for child in proc.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))):
            parents.setdefault(stat[1], []).append(int(entry.name))
    if _proc_stat(root) is None:
        return []
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def rss_bytes(pid: int) -> int:
    if psutil is not None:
        try:
            return int(psutil.Process(pid).memory_info().rss)
        except psutil.NoSuchProcess:
            return 0
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> int:
    """Resident memory summed over the tree (shared pages counted once per process, as `ps` does)."""
    return sum(rss_bytes(pid) for pid in tree_pids(root))


def pss_bytes(pid: int) -> int | None:
    """Proportional set size: resident memory with each shared page divided among the processes sharing
    it (Linux's /proc/<pid>/smaps_rollup); None where the kernel does not tell."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_pss(root: int) -> int | None:
    """Memory of the whole tree with shared pages counted once: what the server really holds. Workers
    forked from one parent share its pages (modules, the app), which `tree_rss` counts once per worker."""
    sizes = [pss_bytes(pid) for pid in tree_pids(root)]
    return None if not sizes or None in sizes else sum(size for size in sizes if size is not None)


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    if stat is None:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): ask the kernel
        except OSError:
            return False
        return True
    return stat[0] != "Z"


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_tree(root: int, grace: float = 15.0) -> None:
    """SIGTERM the root and every descendant (listed before any dies), SIGKILL what outlives `grace`."""
    pids = tree_pids(root)
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    _signal([p for p in pids if _alive(p)], signal.SIGKILL)
