"""Run ROS 2 processes in a private network namespace that has only loopback (test infrastructure: it lives
in tests/support, not in the product's ROS package).

Every test and benchmark that starts ROS processes goes through :class:`LocalNetwork`, so DDS discovery
multicast never reaches a real interface: a holder process is started with ``unshare -n`` (a fresh network
namespace), brings ``lo`` up, and every ROS process then joins that namespace with ``nsenter``. The
environment also sets ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a private ``ROS_DOMAIN_ID``.

Needs root (CI runs as root) or unprivileged user namespaces (``unshare -rn``).
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional


class LocalNetworkError(RuntimeError):
    """The private namespace cannot be made here (no root, no unshare/nsenter/ip)."""


def ros_environment(domain_id: Optional[int] = None, base: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The environment for a ROS process: discovery on this host only, a given (or random) domain id."""
    env = dict(os.environ if base is None else base)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_STATIC_PEERS", None)
    env["ROS_DOMAIN_ID"] = str(random.randint(1, 100) if domain_id is None else domain_id)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class LocalNetwork:
    """A loopback-only network namespace; start processes in it with :meth:`popen` / :meth:`run`.

    Use as a context manager; leaving it terminates every process it started and the namespace.
    """

    def __init__(self, domain_id: Optional[int] = None):
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
                raise LocalNetworkError(f"'{tool}' not found: install util-linux and iproute2")
        self.env = ros_environment(domain_id)
        self.holder: Optional[subprocess.Popen] = None
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> LocalNetwork:
        unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
        self.holder = subprocess.Popen(
            [*unshare, "sh", "-c", "ip link set lo up && echo ready && exec sleep infinity"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline().strip()
        if line != "ready":
            err = self.holder.stderr.read() if self.holder.poll() is not None else ""
            self.close()
            raise LocalNetworkError(f"could not make a private network namespace with {' '.join(unshare)}: {err.strip()}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def netns(self) -> str:
        """Path of the namespace (``/proc/PID/ns/net``)."""
        if self.holder is None:
            raise LocalNetworkError("LocalNetwork is not started (use it as a context manager)")
        return f"/proc/{self.holder.pid}/ns/net"

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped to run inside the namespace."""
        enter = ["nsenter", f"--net={self.netns}"]
        if os.geteuid() != 0:
            enter = ["nsenter", "--preserve-credentials", "-U", "-t", str(self.holder.pid), f"--net={self.netns}"]
        return [*enter, "--", *argv]

    def popen(self, argv: Sequence[str], env: Optional[Mapping[str, str]] = None, **kwargs: Any) -> subprocess.Popen:
        """Start ``argv`` in the namespace with the ROS environment (plus ``env``); stopped on exit."""
        full_env = {**self.env, **(env or {})}
        proc = subprocess.Popen(self.command(argv), env=full_env, **kwargs)
        self.procs.append(proc)
        return proc

    def python(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start ``python args...`` (this interpreter) in the namespace."""
        return self.popen([sys.executable, *args], **kwargs)

    def run(self, argv: Sequence[str], timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess:
        """Run ``argv`` in the namespace to completion."""
        return subprocess.run(self.command(argv), env=self.env, timeout=timeout, **kwargs)

    @staticmethod
    def stop(proc: subprocess.Popen, timeout: float = 10.0) -> Optional[int]:
        """SIGINT (a node's graceful shutdown), then SIGKILL after ``timeout`` seconds; the exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc, timeout=5.0)
        self.procs.clear()
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()
        deadline = time.monotonic() + 1.0
        while self.holder is not None and self.holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
