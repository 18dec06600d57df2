"""How many CPU threads torch gets (``default_threads``), and how the ``enxs`` command lets them wait:
spinning on a machine that is idle when it starts, sleeping on one that is busy.

Torch's CPU threads meet at a barrier after every parallel operation. Waiting threads that spin are
ready at once, which the small networks of the fast preset need: on an idle 2-core machine spinning
threads train 1.4–1.5× faster than sleeping ones, which gain nothing over one thread. But two jobs
whose threads spin on the same cores slow each other down several-fold, each spinning while the other's
thread it waits for is descheduled. So, unless the user set ``OMP_WAIT_POLICY``, the command looks at
the cores it may use for ``SAMPLE_SECONDS`` before torch loads: if other processes keep less than
``IDLE_BELOW`` of a core busy, its threads spin, at most ``SPIN_COUNT`` times before they sleep
(``GOMP_SPINCOUNT``, torch's GNU OpenMP; the default is 300,000), which bounds what they cost a job
that starts later; otherwise, and under a CPU quota smaller than those cores (a container), they sleep
(``OMP_WAIT_POLICY=PASSIVE``). The number of threads, and so every number computed, is the same either way.
Measured: README, "Speed"; docs/method.md, "Running on a shared machine".
"""

from __future__ import annotations

import math
import os
import time

#: How long the command looks at the machine before it decides [s] (the kernel counts in 10 ms ticks).
SAMPLE_SECONDS = 0.1
#: Other processes' use of the cores below which the machine counts as idle [cores].
IDLE_BELOW = 0.5
#: How many times a waiting thread spins before it sleeps, on an idle machine.
SPIN_COUNT = 3000


def _busy_ticks(cpus: set[int]) -> tuple[int, int]:
    """(busy, all) clock ticks of these CPUs since boot, from /proc/stat (idle and iowait are not busy)."""
    busy = total = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(f) for f in fields[:8]]
                busy += sum(ticks) - ticks[3] - ticks[4]
                total += sum(ticks)
    return busy, total


def others_busy(seconds: float = SAMPLE_SECONDS) -> float | None:
    """How many of the cores this process may use other processes keep busy, over ``seconds`` (this
    process sleeps meanwhile); None where the kernel does not say (no /proc/stat: not Linux)."""
    try:
        cpus = os.sched_getaffinity(0)
        busy0, total0 = _busy_ticks(cpus)
        time.sleep(seconds)
        busy1, total1 = _busy_ticks(cpus)
    except (OSError, AttributeError, ValueError):
        return None
    return len(cpus) * (busy1 - busy0) / (total1 - total0) if total1 > total0 else None


def usable_cores() -> int:
    """How many cores this process may use (its affinity mask; where the system has none, all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _fields(path: str) -> list[str]:
    with open(path) as f:
        return f.read().split()


def quota_cores() -> float | None:
    """The CPU time this process's control group may use, in cores (cgroup v2 ``cpu.max``, else v1
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us``), or None where it has no quota or none is found."""
    try:
        try:
            quota, period = _fields("/sys/fs/cgroup/cpu.max")[:2]
        except OSError:
            v1 = "/sys/fs/cgroup/cpu/cpu.cfs_"
            quota, period = _fields(v1 + "quota_us")[0], _fields(v1 + "period_us")[0]
        return None if quota in ("max", "-1") else int(quota) / int(period)
    except (OSError, IndexError, ValueError, ZeroDivisionError):
        return None


def choose_wait_policy() -> str:
    """Set how OpenMP threads wait (module docstring) unless ``OMP_WAIT_POLICY`` is set; call before torch
    loads. Returns the choice: ``"user"``, ``"spin"`` or ``"sleep"``. A control group's CPU quota below the
    cores this process may use (a container: torch's threads would outnumber its share) counts as busy."""
    if "OMP_WAIT_POLICY" in os.environ:
        return "user"
    quota = quota_cores()
    busy = others_busy() if quota is None or quota >= usable_cores() else None
    if busy is not None and busy < IDLE_BELOW:
        os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))
        return "spin"
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return "sleep"


def default_threads() -> int:
    """Torch's CPU threads where ``--threads`` is not given: ``OMP_NUM_THREADS`` where it is set to a
    positive integer (a batch system's or the user's share; the first of a nested list), else one per
    core this process may use, and no more than a control group's CPU quota allows (``quota_cores``,
    rounded up): a container given 2 cores of a 64-core machine gets 2 threads, not 64."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if first.isdigit() and int(first) > 0:
        return int(first)
    cores = usable_cores()
    quota = quota_cores()
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))
