"""How the enxs command lets OpenMP threads wait (enxs.cpu): spin on an idle machine, sleep on a busy one."""

import os
import subprocess
import sys

import pytest

from enxs import cpu


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("busy", "choice", "policy", "spins"), [
    (0.0, "spin", None, str(cpu.SPIN_COUNT)), (0.4, "spin", None, str(cpu.SPIN_COUNT)),
    (0.6, "sleep", "PASSIVE", None), (1.9, "sleep", "PASSIVE", None), (None, "sleep", "PASSIVE", None)])
def test_idle_machine_spins_busy_or_unknown_sleeps(clean_env, busy, choice, policy, spins):
    clean_env.setattr(cpu, "others_busy", lambda: busy)
    assert cpu.choose_wait_policy() == choice
    assert os.environ.get("OMP_WAIT_POLICY") == policy
    assert os.environ.get("GOMP_SPINCOUNT") == spins


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="the cores a process may use are Linux's")
def test_a_cpu_quota_below_the_cores_counts_as_busy(clean_env):
    cores = len(os.sched_getaffinity(0))
    clean_env.setattr(cpu, "others_busy", lambda: 0.0)
    clean_env.setattr(cpu, "quota_cores", lambda: cores - 0.5)
    assert cpu.choose_wait_policy() == "sleep" and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    clean_env.delenv("OMP_WAIT_POLICY")
    clean_env.setattr(cpu, "quota_cores", lambda: float(cores))
    assert cpu.choose_wait_policy() == "spin"


def test_the_users_settings_win(clean_env):
    clean_env.setattr(cpu, "others_busy", lambda: 0.0)
    clean_env.setenv("GOMP_SPINCOUNT", "7")
    assert cpu.choose_wait_policy() == "spin" and os.environ["GOMP_SPINCOUNT"] == "7"
    clean_env.setenv("OMP_WAIT_POLICY", "ACTIVE")
    clean_env.setattr(cpu, "others_busy", lambda: pytest.fail("the machine need not be looked at"))
    assert cpu.choose_wait_policy() == "user" and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the kernel's CPU counters are Linux's")
def test_another_process_keeping_a_core_busy_is_seen():
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time() + 3\nwhile time.time() < t: pass"])
    try:
        busy = cpu.others_busy(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and 0.5 <= busy <= len(os.sched_getaffinity(0)) + 1e-9


def test_the_command_decides_before_torch_loads():
    code = ("import sys, enxs.cli.main; assert 'torch' not in sys.modules; "
            "import enxs.cpu; enxs.cpu.choose_wait_policy(); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("files", "cores"), [
    ({"/sys/fs/cgroup/cpu.max": "max 100000"}, None), ({"/sys/fs/cgroup/cpu.max": "200000 100000"}, 2.0),
    ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"}, None),
    ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"}, 0.5),
    ({}, None), ({"/sys/fs/cgroup/cpu.max": "garbage"}, None)])
def test_the_cgroup_quota_is_read_in_cores(monkeypatch, files, cores):
    def fields(path):
        if path not in files:
            raise FileNotFoundError(path)
        return files[path].split()

    monkeypatch.setattr(cpu, "_fields", fields)
    assert cpu.quota_cores() == cores


@pytest.mark.parametrize(("omp", "quota", "expected"), [
    ("3", None, 3), ("4,2", None, 4), (" 2 ", 1.0, 2),  # the user's or the batch system's share wins
    (None, None, "cores"), ("abc", None, "cores"), ("0", None, "cores"), (None, 1.2, 2), (None, 0.3, 1)])
def test_default_threads_follow_omp_num_threads_then_the_cores_and_a_quota(monkeypatch, omp, quota, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(cpu, "quota_cores", lambda: quota)
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert cpu.default_threads() == (8 if expected == "cores" else expected)


def test_a_command_without_threads_takes_the_default(monkeypatch):
    import torch

    from enxs.context import Context

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        Context(threads=None).use_threads()
        assert torch.get_num_threads() == 1
        Context(threads=2).use_threads()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_help_version_and_completion_skip_the_look(monkeypatch, capsys):
    from enxs.cli import main

    looked = []
    monkeypatch.setattr(main.cpu, "choose_wait_policy", lambda: looked.append(True))
    monkeypatch.setattr(main.signal, "signal", lambda *args: None)  # the test worker keeps its SIGTERM handler
    for argv, looks in ((["--version"], False), (["predict", "--help"], False), ([], False),
                        (["data", "show", "99Zz"], True)):
        monkeypatch.setattr(sys, "argv", ["enxs", *argv])
        looked.clear()
        with pytest.raises(SystemExit):
            main.run()
        assert looked == ([True] if looks else []), argv
    capsys.readouterr()
