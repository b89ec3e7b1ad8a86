"""One desim command at a time per output folder: a lock file naming who holds it.

``OUTDIR/.desim.lock`` holds the process id, host and command of the run writing into
the folder. A second run into the same folder is refused while that process lives; a lock
left by a process that died (killed, or its machine rebooted) is taken over. The lock is
removed when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.fileio import signals_held

LOCK_NAME = ".desim.lock"
#: prefix of the folders a run stages its outputs in (desim.result.staged)
STAGING_PREFIX = ".desim-staging-"
#: a lock file still empty this long after its creation is the debris of a killed run
_EMPTY_GRACE_S = 10.0


@contextlib.contextmanager
def hold(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s lock for ``command`` (e.g. ``desim run``) while the block runs;
    a :class:`DesimError` when a live process holds it."""
    path = folder / LOCK_NAME
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                       "since": round(time.time())})
    taken = False
    try:
        with signals_held():  # an interrupt leaves no lock taken but not known as taken
            _take(folder, path, mine)
            taken = True
        _sweep_staging(folder)
        yield
    finally:
        with signals_held(), contextlib.suppress(OSError):
            if taken and path.read_text() == mine:
                path.unlink()


def _take(folder: Path, path: Path, mine: str) -> None:
    """Create the lock file holding ``mine``, taking over a stale one."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None:
                raise DesimError(_busy(folder, path, holder)) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left by a run that no longer exists
            continue
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(mine)
        except BaseException:
            path.unlink()
            raise
        return
    raise DesimError(f"cannot take the lock {path}: another run keeps taking it; wait for "
                     "it to finish or choose another output folder")


def _holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock at ``path``: its record while that process may still run, None
    when the lock is stale (its process is gone) or vanished."""
    try:
        text = path.read_text()
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError:
        return {"command": "another desim command"}
    try:
        doc = json.loads(text)
        pid, host = int(doc["pid"]), str(doc["host"])
    except (ValueError, KeyError, TypeError):
        # being written this very moment, or debris of a run killed while writing it
        return {"command": "another desim command"} if age < _EMPTY_GRACE_S else None
    if host != socket.gethostname():
        return doc  # another machine's process: it cannot be checked from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return doc


def _busy(folder: Path, path: Path, holder: dict[str, Any]) -> str:
    who = str(holder.get("command", "another desim command"))
    if "pid" in holder:
        who += f" (process {holder['pid']} on {holder.get('host', '?')}"
        since = holder.get("since")
        if isinstance(since, int | float):
            who += ", since " + time.strftime("%H:%M:%S", time.localtime(since))
        who += ")"
    return (f"output folder {folder} is in use by {who}; wait for it to finish or choose "
            f"another output folder (if no such run is going, delete {path})")


def _sweep_staging(folder: Path) -> None:
    """Remove the staging folders runs killed outright left behind (the lock is ours: no
    other run is staging here)."""
    for stage in folder.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(stage, ignore_errors=True)
