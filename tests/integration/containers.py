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
:class:`~components.docker.postgres.PgLayout` rooted there); the Unix socket directory stays the
image's ``/var/run/postgresql``, which libpq's default also names on Debian.

The official ``postgres`` image's ``docker-entrypoint.sh`` is stood in for by
:data:`POSTGRES_ENTRYPOINT`, written here from the image's documented first-boot sequence
(https://hub.docker.com/_/postgres, "Initialization scripts"; docker-library/postgres
``docker-entrypoint.sh``): as root, create ``$PGDATA`` (0700) and chown it to postgres, then step
down with gosu; on an empty ``$PGDATA`` only: ``initdb --username=$POSTGRES_USER --pwfile=<password>``,
append ``host all all all <password_encryption>`` to ``$PGDATA/pg_hba.conf``, start a temporary
server with *the container's own arguments* plus ``-c listen_addresses='' -p $PGPORT`` through
``pg_ctl -w start``, create ``$POSTGRES_DB``, run ``/docker-entrypoint-initdb.d/*`` in sorted
order (``*.sql`` through ``psql -v ON_ERROR_STOP=1 --dbname $POSTGRES_DB``, ``*.sh`` executed
or sourced), stop the temporary server (``pg_ctl -m fast -w stop``); finally ``exec "$@"``. A
first argument other than ``postgres`` is exec'd directly, as root.
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

POSTGRES_ENTRYPOINT = r"""#!/usr/bin/env bash
# Stand-in for the postgres image's docker-entrypoint.sh (see tests/integration/containers.py).
set -Eeo pipefail
INITDB_DIR=@INITDB_DIR@
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != 'postgres' ]; then exec "$@"; fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
  exec gosu postgres "$BASH_SOURCE" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ]; then
    echo >&2 'Error: Database is uninitialized and superuser password is not specified.'
    exit 1
  fi
  ls "$INITDB_DIR"/ > /dev/null
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"${POSTGRES_INITDB_ARGS:-}"
  auth="$(postgres -C password_encryption "${@:2}")"
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" \
    -o "$(printf '%q ' "${@:2}" -c listen_addresses='' -p "${PGPORT:-5432}")" -w start
  run_sql() { PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
  exists="$(run_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
    <<< "SELECT 1 FROM pg_database WHERE datname = :'db' ;")"
  if [ -z "$exists" ]; then
    run_sql --dbname postgres --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db" ;'
  fi
  for f in "$INITDB_DIR"/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) echo "running $f"; run_sql --dbname "$POSTGRES_DB" -f "$f" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo 'PostgreSQL init process complete; ready for start up.'
fi
exec "$@"
"""

#: The image's gosu, by util-linux setpriv: ``gosu user[:group] command...``.
GOSU = """#!/bin/sh
set -e
spec="$1"; shift
u="${spec%%:*}"; g="${spec#*:}"
exec setpriv --reuid="$u" --regid="$g" --init-groups -- "$@"
"""


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


def fresh_volume(path: Path) -> Path:
    """A new named volume mounted where the image has no directory: empty, root-owned, 0755."""
    return _root_dir(path, 0o755)


def postgres_image_bin(root: Path, *, initdb_dir: str) -> Path:
    """A PATH directory with the image's docker-entrypoint.sh (stand-in) and gosu."""
    d = _root_dir(root / "image-bin")
    (d / "docker-entrypoint.sh").write_text(POSTGRES_ENTRYPOINT.replace("@INITDB_DIR@", initdb_dir))
    (d / "gosu").write_text(GOSU)
    for f in ("docker-entrypoint.sh", "gosu"):
        (d / f).chmod(0o755)
    return d


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


def pg_path(bin_dir: Path) -> str:
    """The image's PATH: its bin dir (entrypoint, gosu), then the PostgreSQL binaries."""
    return f"{bin_dir}:{servers.pg_bindir()}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def require_root() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise servers.MissingBinary("the container start path runs as root with setpriv (util-linux)")
