"""Run a local-stack container's start path on the host: its entrypoint, command, environment,
uploaded files and volumes, as root like the image, with the host's Debian server binaries.

No Docker engine runs here, so :class:`FakeContainer` does what the engine and the image would:

* uploads are written root-owned 0644 (what ``docker cp`` of an upload leaves);
* a named volume mounted where the image has no directory starts empty and root-owned 0755, one
  mounted over an image directory starts with that directory's owner and mode (copy-up);
* the process runs ``ENTRYPOINT + CMD`` as root with the image's ``ENV`` plus the container's;
  ``docker stop`` sends the image's STOPSIGNAL to that process; a restart runs the same argv again;
* the healthcheck is the container's own ``CMD`` healthcheck argv, run in the container's env.

Every path of the container lives under a temporary root (the component renders its files for a
layout rooted there, e.g. :class:`~components.docker.postgres.PatroniLayout`). A process the image
runs as a non-root ``USER`` is started through ``setpriv`` as that user (the caller's entrypoint).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

try:
    from tests.integration import servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]


def _root_dir(path: Path, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 0, 0)
    path.chmod(mode)
    return path


def image_dir(path: Path, *, owner: str, mode: int) -> Path:
    """A volume mounted over a directory the image has: it starts with the image's owner and mode."""
    path.mkdir(parents=True, exist_ok=True)
    u = pwd.getpwnam(owner)
    os.chown(path, u.pw_uid, u.pw_gid)
    path.chmod(mode)
    return path


class FakeContainer:
    """One container's process, started as ``entrypoint + command`` as root."""

    def __init__(self, name: str, root: Path, *, entrypoint: Sequence[str], command: Sequence[str],
                 env: Mapping[str, str], files: Mapping[str, str], healthcheck: Sequence[str],
                 stop_signal: int = signal.SIGINT, pgdata: str | None = None) -> None:
        self.name, self.root = name, root
        self.argv = [*entrypoint, *command]
        self.env = dict(env)
        self.healthcheck = list(healthcheck)
        self.stop_signal = stop_signal
        self.pgdata = pgdata
        self.log = root / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        for path, content in files.items():
            p = Path(path)
            _root_dir(p.parent)
            p.write_text(content)
            os.chown(p, 0, 0)
            p.chmod(0o644)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=self.env, cwd="/", start_new_session=True,
                                          preexec_fn=servers._die_with_parent)

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def health(self) -> bool:
        """Run the container's healthcheck (``CMD`` form: exec'd directly) in its environment."""
        kind, *argv = self.healthcheck
        assert kind == "CMD", self.healthcheck
        res = subprocess.run(argv, env=self.env, capture_output=True, timeout=10, check=False)
        return res.returncode == 0

    def wait_healthy(self, timeout: float) -> None:
        def ok() -> bool:
            if not self.running():
                raise RuntimeError(f"{self.name} exited ({self.popen and self.popen.returncode}):\n{self.tail()}")
            return self.health()

        try:
            servers.wait_until(ok, timeout=timeout, what=f"container {self.name} to become healthy", interval=0.3)
        except TimeoutError as err:
            raise TimeoutError(f"{err}\n--- {self.name} log ---\n{self.tail()}") from None

    def stop(self, timeout: float = 30) -> None:
        """``docker stop``: STOPSIGNAL to the main process, SIGKILL after ``timeout``; also any
        server a hung first boot left daemonized (pg_ctl start detaches the temporary server)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        if self.pgdata:
            pidfile = Path(self.pgdata) / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                pid = int(pidfile.read_text().splitlines()[0])
                os.kill(pid, signal.SIGQUIT)
                servers.wait_until(lambda: not _alive(pid), timeout=10, what=f"postmaster {pid} to exit")

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tcp_open(port: int, host: str = servers.HOST) -> bool:
    """``nc -z host port`` (the pgbouncer/haproxy images' healthcheck): a TCP connect succeeds."""
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError:
            return False
    return True


def require_root() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise servers.MissingBinary("the container start path runs as root with setpriv (util-linux)")
