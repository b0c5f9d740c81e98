"""Fixtures: the real pathagent daemon on a temporary socket.

``PATHAGENT_BIN`` names the daemon binary (``scripts/test`` sets it to the debug build);
without it, ``.build/debug/pathagent`` of the repository is tried. A missing binary skips
the daemon tests on a developer's machine and fails them under CI (``CI=true``), so a CI
run can never pass without having run them. The same policy holds for os-brick and for
root (needed to run a client as ``nobody``).
"""

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition, why):
    """Skips (developer machine) or fails (CI) when a test's precondition is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail("%s (CI=true: a missing prerequisite is a failure, not a skip)" % why)
    pytest.skip(why)


def agent_binary():
    path = os.environ.get("PATHAGENT_BIN") or os.path.join(REPO, ".build", "debug", "pathagent")
    require(os.access(path, os.X_OK), "no pathagent binary at %s (set PATHAGENT_BIN, or swift build)" % path)
    return path


class Daemon:
    """One pathagent process: its own socket, state dir and log in a temporary dir."""

    def __init__(self, root=None, group=None, name="agent"):
        binary = agent_binary()  # skips or fails before anything is created
        self.dir = tempfile.mkdtemp(prefix="pa-brick-%s-" % name)
        # traversable by others: a client running as nobody must reach the socket
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "pathagent.sock")
        self.log_path = os.path.join(self.dir, "agent.log")
        conf = os.path.join(self.dir, "pathagent.conf")
        lines = ["[api]", "socket = %s" % self.socket, "shutdown_grace = 1"]
        if group is not None:
            lines.append("group = %s" % group)
        lines += ["[agent]", "state_dir = %s" % os.path.join(self.dir, "state"), "log_level = info", "workers = 2"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        argv = [binary, "--config", conf]
        if root is not None:
            argv += ["--root", root]
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while not self._is_socket():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = ("exited with %s before listening" % self.proc.returncode if self.proc.poll() is not None
                       else "did not listen on %s within 60 s" % self.socket)
                log = self.log()
                self.stop()
                raise RuntimeError("pathagent %s:\n%s" % (why, log))
            time.sleep(0.05)

    def _is_socket(self):
        try:
            return stat.S_ISSOCK(os.stat(self.socket).st_mode)
        except OSError:
            return False

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # this process is ours: its PID, not a name
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running(**kwargs):
    d = Daemon(**kwargs)
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="session")
def fixture_agent():
    """The daemon reading the ``agent-host`` fixture tree (initiator name, two FC ports,
    no disks): the kernel operations refuse (read-only tree), the reads answer."""
    with running(root=os.path.join(FIXTURES, "agent-host"), name="fixture") as d:
        yield d


@pytest.fixture(scope="session")
def dm_agent():
    """The daemon reading the ``iscsi-fc-dm`` fixture tree: iSCSI and FC volumes with
    disks and a multipath map, as sysfs shows them."""
    with running(root=os.path.join(FIXTURES, "iscsi-fc-dm"), name="dm") as d:
        yield d


@pytest.fixture(scope="session")
def live_agent():
    """The daemon on the live host (``/sys``, ``/dev``) with an empty journal: it owns
    nothing, so a detach of a volume it never attached finds nothing to remove."""
    require(os.geteuid() == 0, "the daemon on the live host runs as root")
    with running(name="live") as d:
        yield d
