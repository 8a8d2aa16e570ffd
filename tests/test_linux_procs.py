"""kill_all / terminate_all for real, as PID 1 of a fresh PID namespace."""

from __future__ import annotations

import os
import shutil

import pytest

from ovis.linux import procs

from .nsutil import require_namespaces, run_ns_json


def test_list_pids_and_kernel_threads() -> None:
    pids = procs.list_pids()
    assert os.getpid() in pids and pids == sorted(pids)
    assert not procs.is_kernel_thread(os.getpid())
    try:
        with open("/proc/2/comm") as f:
            comm = f.read().strip()
    except OSError:
        comm = ""
    if comm == "kthreadd":  # host PID namespace: kthreadd is visible as PID 2
        assert procs.is_kernel_thread(2)
        assert 2 not in procs.killable_pids()
    assert os.getpid() not in procs.killable_pids()
    assert os.getpid() in procs.killable_pids(skip_self=False)


@pytest.mark.root
def test_terminate_all_in_pid_namespace() -> None:
    require_namespaces()
    sleep = shutil.which("sleep")
    out = run_ns_json(f"""
        import json, os, signal, subprocess, sys, time
        from ovis.linux import procs
        if os.getpid() != 1:
            sys.exit(99)                     # never signal the host's processes
        sleep = {sleep!r}
        plain = subprocess.Popen([sleep, "30"])
        shell = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])     # leaves orphans
        stubborn = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
        assert stubborn.stdout.readline().strip() == "ready"
        stopped = subprocess.Popen([sleep, "30"]); os.kill(stopped.pid, signal.SIGSTOP)
        at = subprocess.Popen(["@keeper", "30"], executable=sleep)
        deadline = time.monotonic() + 5
        while len(procs.killable_pids()) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)             # until sh has forked its two sleeps
        before = procs.killable_pids()
        logs = []
        t0 = time.monotonic()
        ok = procs.terminate_all(0.5, log=logs.append)
        elapsed = time.monotonic() - t0
        after = procs.killable_pids()
        spared = procs.kill_all(signal.SIGKILL)          # skip_at_argv0=True by default
        at_alive = procs.killable_pids(skip_at_argv0=False) == [at.pid]
        with open(f"/proc/{{at.pid}}/cmdline", "rb") as f:
            at_argv = f.read().split(b"\\0")[0].decode()
        killed_at = procs.kill_all(signal.SIGKILL, skip_at_argv0=False)
        gone = procs.wait_all_gone(2, skip_at_argv0=False)
        print(json.dumps(dict(before=before, ok=ok, elapsed=elapsed, after=after, spared=spared,
                              at_alive=at_alive, at_argv=at_argv, killed_at=killed_at, gone=gone,
                              left=procs.list_pids(), logs=logs, stubborn=stubborn.pid, at=at.pid)))
    """)
    # plain, shell, its two sleeps, stubborn, stopped (the '@' one is not killable)
    assert len(out["before"]) == 6, out
    assert out["at"] not in out["before"] and out["stubborn"] in out["before"]
    assert out["ok"] is True
    assert out["after"] == []
    # the SIGTERM-ignoring child forced the full grace, then SIGKILL
    assert 0.45 <= out["elapsed"] <= 0.5 + 1.0, out
    assert out["logs"][0] == "sent SIGTERM to 6 processes"
    assert out["logs"][1].startswith("sent SIGKILL to ")
    # the '@' process survives kill_all(skip_at_argv0=True)
    assert out["spared"] == 0 and out["at_alive"] is True and out["at_argv"] == "@keeper"
    assert out["killed_at"] == 1 and out["gone"] is True
    assert out["left"] == [1]  # everything reaped: only the namespace init remains


@pytest.mark.root
def test_terminate_all_quick_when_everyone_obeys() -> None:
    require_namespaces()
    out = run_ns_json("""
        import json, os, subprocess, sys, time
        from ovis.linux import procs
        if os.getpid() != 1:
            sys.exit(99)
        kids = [subprocess.Popen(["sleep", "30"]) for _ in range(5)]
        t0 = time.monotonic()
        ok = procs.terminate_all(5.0)
        print(json.dumps(dict(ok=ok, elapsed=time.monotonic() - t0, left=procs.list_pids())))
    """)
    assert out["ok"] is True and out["left"] == [1]
    assert out["elapsed"] < 1.0, out  # did not sit out the 5 s grace


def test_an_exiting_process_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process with PF_EXITING set has no cmdline and no exe any more, yet it is not a
    zombie (it may still be closing files, in D): stage 4 must wait for it, as for any
    other, rather than take it for a kernel thread and unmount around it."""
    me = os.getpid()
    fields = ["D", "1", "1", "1", "0", "-1", str(procs.PF_EXITING)]
    monkeypatch.setattr(procs, "_stat_fields", lambda pid: fields)
    monkeypatch.setattr(procs, "_cmdline_head", lambda pid: b"")
    monkeypatch.setattr(procs, "_has_exe", lambda pid: False)
    monkeypatch.setattr(procs.time, "sleep", lambda s: None)
    assert procs._killable(4242, me, True, True)
    fields[6] = "0"  # the same without the flag: no cmdline, no exe, as before (not waited)
    assert not procs._killable(4242, me, True, True)
    fields[6] = str(procs.PF_EXITING | procs.PF_KTHREAD)  # a kernel thread stays spared
    assert not procs._killable(4242, me, True, True)
