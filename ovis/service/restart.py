"""The restart policy of a longrun: back-off between restarts, a limit, essential deaths.

s6-supervise restarts a dead ``run`` as soon as ``finish`` has exited (at
most once a second).  So the policy lives in the ``finish`` script ovis
writes into every longrun's servicedir, a small ``/bin/sh`` script (no
Python stays resident, and none starts at an ordinary death):

- it runs the definition's own finish program first (``finish.user``);
- a death while the service is wanted down (``ovis stop``, shutdown) is
  not a crash: it exits at once;
- otherwise it counts the death, and sleeps the back-off delay before
  s6 restarts the service: FIRST ms, doubling at each death in a row up to
  MAX ms; a service that stayed up RESET seconds starts again from FIRST.
  The sleep is cut short when the service is sent down meanwhile;
- with a restart limit (``MaxDeath N``), the Nth death in a row is the
  last: finish exits 125, which tells s6-supervise never to restart it;
- an essential service that is given up on is reported on the console,
  and in container mode it asks for the shutdown, PID 1's exit status being
  the service's exit code (128+N when signal N killed it).

What it decided is kept in ``.ovis-restart`` in the servicedir (shell
``KEY=VALUE`` lines, written atomically) for ``ovis status``.
"""

from __future__ import annotations

import sys

from ovis.record import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

#: What shlex.quote leaves bare (its ``[\w@%+=:,./-]`` in ASCII).
_SH_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-")


def sh_quote(word: str) -> str:
    """*word* as one /bin/sh word, exactly as ``shlex.quote`` writes it.

    shlex imports ``re`` (some 20 modules with enum and functools) for this
    one call at every compile of a longrun.
    """
    if not word:
        return "''"
    if _SH_SAFE.issuperset(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


#: Defaults, in milliseconds / seconds; per service: RestartDelay, RestartDelayMax.
FIRST_MS = 1000
MAX_MS = 30_000
RESET_S = 60
STATE_FILE = ".ovis-restart"
#: s6-supervise kills a finish script after timeout-finish (5 s by default):
#: the back-off sleeps inside finish, so the timeout must cover it.
FINISH_MARGIN_MS = 5000
#: Where stage 1 keeps the console in a namespace (stage1.CONSOLE_FD).
KEPT_CONSOLE = 19


def timeout_finish(max_ms: int, user_ms: int | None) -> int:
    """The ``timeout-finish`` a longrun needs: its longest sleep plus its own finish."""
    return max_ms + (user_ms if user_ms is not None else FINISH_MARGIN_MS) + FINISH_MARGIN_MS


def finish_script(name: str, live: Path | str, *, first_ms: int, max_ms: int, limit: int,
                  essential: bool, user_finish: bool) -> str:
    """The text of ``finish`` (``$1`` exit code or 256, ``$2`` signal, as s6 passes them)."""
    q = sh_quote
    user = './finish.user "$@"\n' if user_finish else ""
    essential_block = _essential_block(live) if essential else ""
    return f"""#!/bin/sh
# Written by ovis: the restart policy of {name} (see ovis/service/restart.py).
{user}name={q(name)} first={first_ms} max={max_ms} reset={RESET_S} limit={limit}
{_WANTUP}save() {{
  printf 'restarts=%s\\nstreak=%s\\nstarted=%s\\nwaiting=%s\\nrestart_at=%s\\ngaveup=%s\\n' \\
    "$restarts" "$streak" "$started" "$1" "$2" "$3" > {STATE_FILE}.new && mv -f {STATE_FILE}.new {STATE_FILE}
}}
restarts=0 streak=0 started=0 waiting= restart_at= gaveup=
[ -f {STATE_FILE} ] && . ./{STATE_FILE}
# A stop: nothing to record when there is no record or it says so already (no mv exec).
wantup || {{ case $waiting.$restart_at.$gaveup in 0.0.0|..) ;; *) save 0 0 0 ;; esac; exit 0; }}
now=$(date +%s)
[ "$started" -gt 0 ] && [ $((now - started)) -ge $reset ] && streak=0
streak=$((streak + 1))
if [ "$limit" -gt 0 ] && [ "$streak" -ge "$limit" ]; then
  save 0 0 1
  if [ "$1" = 256 ]; then code=$((128 + $2)); why="killed by signal $2"; else code=$1; why="exit $1"; fi
{essential_block}  exit 125
fi
delay=$first n=1
while [ $n -lt $streak ] && [ $delay -lt $max ]; do delay=$((delay * 2)); n=$((n + 1)); done
[ $delay -gt $max ] && delay=$max
restarts=$((restarts + 1))
save 1 $((now + (delay + 999) / 1000)) 0
ticks=$(( (delay + 249) / 250 ))
while [ $ticks -gt 0 ]; do
  wantup || {{ restarts=$((restarts - 1)); save 0 0 0; exit 0; }}
  sleep 0.25
  ticks=$((ticks - 1))
done
started=$(date +%s)
save 0 0 0
"""


#: s6-supervise's flags byte (the status file's last, 35th byte; ovis/s6/status.py) as s6
#: 2.11 writes it while ``finish`` runs ("finishing" is set then, so never 0): the values
#: with "want up" (4) set, and those without (10, a newline, is told apart by the read).
_UP_BYTES = "".join(map(chr, (4, 5, 6, 7, 12, 13, 14, 15)))
_DOWN_BYTES = "".join(map(chr, (1, 2, 3, 8, 9, 11)))

#: ``wantup``: whether s6 still wants the service up, read with shell builtins only.  It
#: ran ``od`` (a fork and an exec) at every death, stops included: under an emulated CPU
#: each is tens of milliseconds on the shutdown's critical path, once per longrun.  The
#: status file is binary, but ``read`` keeps every byte except NUL and newline, and the
#: flags byte is never NUL here: the last byte of the last line read is the flags byte
#: (none at all after a final newline: flags 10).  An absent file counts as wanted up (the
#: crash path, as before); no byte at all (an empty file, or only NULs) and any other byte
#: (a later s6's flags) are left to ``od`` as before.
_WANTUP = f"""\
UP='{_UP_BYTES}' DOWN='{_DOWN_BYTES}'
wantup() {{
  n=0 s=
  {{ while IFS= read -r s; do n=1; done; }} 2>/dev/null < supervise/status || return 0
  case ${{s#"${{s%?}}"}} in
    [$UP]) return 0 ;;
    [$DOWN]) return 1 ;;
    '') [ $n = 1 ] && return 1 ;;
  esac
  f=$(od -An -tu1 -j34 -N1 supervise/status 2>/dev/null) || return 0
  [ $(( ${{f:-4}} / 4 % 2 )) = 1 ]
}}
"""


def _essential_block(live: Path | str) -> str:
    """Giving up on an essential service: say it loudly; a container shuts down.

    Only essential services get it: it names this interpreter and LIVE, which
    would otherwise make every compiled servicedir depend on them.
    """
    q = sh_quote
    ovis = " ".join(q(a) for a in (sys.executable, "-m", "ovis", "--live", str(live)))
    return (BLOCK
            .replace("@BOOT@", q(f"{live}/boot.json")).replace("@OVIS@", ovis)
            .replace("@CONSOLE@", str(KEPT_CONSOLE)))


BLOCK = """    msg="ovis: ESSENTIAL SERVICE $name FAILED: $why, $streak deaths in a row, not restarted"
    echo "$msg"
    if [ -e /proc/1/fd/@CONSOLE@ ]; then echo "$msg" >> /proc/1/fd/@CONSOLE@
    else echo "$msg" > /dev/console; fi 2>/dev/null
    if grep -q '"container": true' @BOOT@ 2>/dev/null; then
      @OVIS@ halt --exit-code "$code" >/dev/null 2>&1
    fi
"""


class RestartState(Frozen):
    """What the finish script last recorded about a longrun."""

    __slots__ = ("restarts", "waiting", "restart_at", "gave_up")

    def __init__(self, restarts: int = 0, waiting: bool = False, restart_at: float | None = None,
                 gave_up: bool = False) -> None:
        s = object.__setattr__
        s(self, "restarts", restarts)
        s(self, "waiting", waiting)
        s(self, "restart_at", restart_at)
        s(self, "gave_up", gave_up)


def read_state(servicedir: Path | str) -> RestartState | None:
    """The state file, or None when the service never died since ovis started it."""
    import os

    try:  # a string path and os.read: ovis status reads this for every longrun
        fd = os.open(f"{servicedir}/{STATE_FILE}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            text = os.read(fd, 65536).decode(errors="replace")
        finally:
            os.close(fd)
    except OSError:
        return None
    vals: dict[str, int] = {}
    for line in text.splitlines():
        k, _, v = line.partition("=")
        try:
            vals[k] = int(v)
        except ValueError:
            continue
    at = vals.get("restart_at", 0)
    return RestartState(restarts=max(0, vals.get("restarts", 0)), waiting=vals.get("waiting") == 1,
                        restart_at=float(at) if at else None, gave_up=vals.get("gaveup") == 1)


def forget(servicedir: Path | str) -> None:
    """A start asked through ovis begins a new count."""
    import os

    try:
        os.unlink(f"{os.fspath(servicedir)}/{STATE_FILE}")
    except OSError:
        pass


#: Where a stop keeps ``finish`` while the service goes down (see :func:`finish_aside`).
FINISH_ASIDE = ".ovis-finish-aside"


def finish_aside(servicedir: str) -> bool:
    """Before a stop's ``D``: move ``finish`` aside when it would do nothing.

    On a stop, the restart policy's ``finish`` finds the service wanted down
    and exits; with no ``finish.user`` and no ``.ovis-restart`` record it does
    nothing else at all.  Yet s6-supervise forks and execs ``/bin/sh`` for it
    before the ``D`` a stop waits for: about half the wall time of stopping
    300 longruns on two cores.  Without the file, s6-supervise reports the
    service down at once.  :func:`finish_back` puts it back once the service
    is down (before anything can want it up and see it die again), and a
    start puts it back first too (a stop that was interrupted).
    Whether it was moved; anything unusual leaves it in place.
    """
    import os

    if os.path.lexists(f"{servicedir}/finish.user") or os.path.lexists(f"{servicedir}/{STATE_FILE}"):
        return False
    try:
        os.rename(f"{servicedir}/finish", f"{servicedir}/{FINISH_ASIDE}")
    except OSError:
        return False
    return True


def finish_back(servicedir: str) -> None:
    """Put back a ``finish`` :func:`finish_aside` moved, never over one written since
    (a recompile while it was aside writes its own)."""
    import os

    aside = f"{servicedir}/{FINISH_ASIDE}"
    try:
        os.link(aside, f"{servicedir}/finish")
    except FileExistsError:
        pass
    except OSError:
        return  # nothing aside
    try:
        os.unlink(aside)
    except OSError:
        pass
