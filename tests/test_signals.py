"""Faults: SIGINT and SIGTERM at a random moment of ``run``, ``train``, ``sweep``, ``regress
record`` and ``trace export`` leave every output complete or absent; a second run into a
folder in use is refused; a stale lock is taken over; a full disk, an unwritable folder
and a corrupt kernel cache give one clear line and leave nothing half-written.

The signals go to a real desim process, each at a moment of the command drawn from a
seeded generator (so a failure reproduces).
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desim.cli import main
from desim.lock import LOCK_NAME, STAGING_PREFIX

RNG = random.Random(20240516)

#: exit codes of a command that ended by itself (0) or by SIGINT / SIGTERM (negative: the
#: signal came as the interpreter exited, after desim's handlers)
ENDINGS = {0, 130, 143, -signal.SIGINT, -signal.SIGTERM}


#: a process that says "ready" once Python has loaded desim.cli, then runs the command:
#: what a signal interrupts is desim's, not the interpreter's start
_READY = ("import sys; import desim.cli; print('ready', flush=True); "
          "sys.exit(desim.cli.main(sys.argv[1:]))")


def _spawn(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _READY, *argv], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def _wait_for(path: Path, proc: subprocess.Popen[str], limit_s: float = 60) -> None:
    """Wait until ``path`` exists or the process ends."""
    t0 = time.monotonic()
    while not path.exists() and proc.poll() is None and time.monotonic() - t0 < limit_s:
        time.sleep(0.005)


def _stray(folder: Path) -> list[str]:
    """Files a finished or interrupted command must not leave: temporary files, staging
    folders, its lock."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def _interrupt(argv: list[str], cwd: Path, sig: int, window_s: float) -> tuple[int, str]:
    """Run ``argv``; at a random moment of its first ``window_s`` seconds (about its whole
    run) send ``sig``; return the exit code and standard error."""
    proc = _spawn(argv, cwd)
    time.sleep(RNG.uniform(0, window_s))
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


SIGNALS = [signal.SIGINT, signal.SIGTERM]


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_all_its_outputs_or_none(tmp_path, sig):
    out = tmp_path / "out"
    code, err = _interrupt(["run", "pulp_cluster", "-w", "autoencoder", "-o", "out",
                            "--save-schedule"], tmp_path, sig, 2.5)
    assert code in ENDINGS and "Traceback" not in err, err
    if code == 0 or out.exists():  # a signal after the outputs moved in finds them whole
        names = {p.name for p in out.iterdir()}
        assert names == {"summary.json", "trace.json.gz", "timeline.png", "schedule.json"}
        json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_training_step_leaves_all_its_outputs_or_none(tmp_path, sig):
    out = tmp_path / "out"
    code, err = _interrupt(["train", "pulp_cluster", "-w", "autoencoder", "-o", "out"],
                           tmp_path, sig, 3.5)
    assert code in ENDINGS and "Traceback" not in err, err
    if code == 0 or out.exists():  # a signal after the outputs moved in finds them whole
        assert {p.name for p in out.iterdir()} == {"summary.json", "trace.json.gz",
                                                   "timeline.png"}


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_sweep_keeps_whole_points_only(tmp_path, sig):
    from desim.sweep.results import RESULTS, read_point

    out = tmp_path / "sw"
    code, err = _interrupt(["sweep", "stream_soc", "-w", "tiles", "--grid",
                            "dma.setup_cycles=10,11,12,13", "--jobs", "1", "-o", "sw"],
                           tmp_path, sig, 4.5)
    assert code in ENDINGS and "Traceback" not in err, err
    assert _stray(out) == []
    for path in (out / "points").glob("*.json") if out.exists() else ():
        assert read_point(out, path.stem) is not None, path  # each point file is whole
    if (out / RESULTS).exists():
        import pandas as pd

        pd.read_parquet(out / RESULTS)
    if code == 0:
        assert len(list((out / "points").glob("*.json"))) == 4


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_interrupted_recording_keeps_whole_baselines_only(tmp_path, sig):
    from desim.regress.baseline import load_baseline

    folder = tmp_path / "base"
    code, err = _interrupt(["regress", "record", "base", "--platform", "pulp_cluster",
                            "--platform", "gap9", "--workload", "autoencoder", "--workload",
                            "resnet8"], tmp_path, sig, 3.0)
    assert code in ENDINGS and "Traceback" not in err, err
    assert _stray(folder) == []
    for path in folder.glob("*.json") if folder.exists() else ():
        load_baseline(path)  # a baseline is whole or absent
    if code != 0 and folder.exists():
        assert any(folder.iterdir()), "an empty folder left behind"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("traced") / "run"
    assert main(["run", "pulp_cluster", "-w", "autoencoder", "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_export_writes_the_whole_file_or_none(run_dir, tmp_path, sig, capsys):
    reference = tmp_path / "ref.csv"
    assert main(["trace", "export", str(run_dir), "--format", "csv", "-o", str(reference)]) == 0
    capsys.readouterr()
    target = tmp_path / "x.csv"
    code, err = _interrupt(["trace", "export", str(run_dir), "--format", "csv", "-o",
                            str(target)], tmp_path, sig, 1.5)
    assert code in ENDINGS and "Traceback" not in err, err
    if target.exists():
        assert target.read_bytes() == reference.read_bytes()
    else:
        assert code != 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


# -- one run per folder ----------------------------------------------------------------------

def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    first = _spawn(["run", "pulp_cluster", "-w", "mobilenetv1_vww", "-o", "out"], tmp_path)
    try:
        _wait_for(out / LOCK_NAME, first)
        assert first.poll() is None, first.communicate()
        code = main(["run", "pulp_cluster", "-w", "autoencoder", "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1
        assert f"output folder {out} is in use by desim run (process {first.pid}" in err
    finally:
        _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert not (out / LOCK_NAME).exists()
    assert (out / "summary.json").is_file()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys):
    import socket

    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(),
                                             "command": "desim run", "since": 0}))
    (out / f"{STAGING_PREFIX}x").mkdir()  # what a killed run left half-written
    assert main(["run", "stream_soc", "-w", "tiles", "--no-trace", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]


def test_an_empty_lock_is_debris_once_old(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    lock = out / LOCK_NAME
    lock.write_text("")
    code = main(["run", "stream_soc", "-w", "tiles", "--no-trace", "-o", str(out)])
    assert code == 2 and "in use" in capsys.readouterr().err  # maybe being written now
    old = time.time() - 60
    os.utime(lock, (old, old))
    assert main(["run", "stream_soc", "-w", "tiles", "--no-trace", "-o", str(out)]) == 0


def test_a_lock_held_on_another_machine_is_respected(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example",
                                             "command": "desim sweep", "since": 0}))
    code = main(["sweep", "stream_soc", "-w", "tiles", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "in use by desim sweep (process 1 on elsewhere.example" in err
    assert f"delete {out / LOCK_NAME}" in err


# -- disks, folders and caches that fail ----------------------------------------------------

def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    """Writes fail with ENOSPC once 4 KiB are written, as on a full disk."""
    import builtins

    import desim.fileio

    real_open = builtins.open

    def small_disk(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        if "w" not in mode:
            return fh
        write, room = fh.write, [4096]

        def limited(data):
            room[0] -= len(data)
            if room[0] < 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return write(data)

        fh.write = limited
        return fh

    monkeypatch.setattr(desim.fileio, "open", small_disk, raising=False)
    out = tmp_path / "out"
    code = main(["run", "pulp_cluster", "-w", "autoencoder", "--no-trace", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "No space left on device; free some space or write elsewhere (-o)" in err
    assert not out.exists()


def test_an_unwritable_folder_is_one_line_and_stays_as_it_was(tmp_path, capsys, monkeypatch):
    """The folder exists but refuses new files (read-only, or another user's)."""
    import tempfile as tempfile_module

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path))

    (tmp_path / "mine.txt").write_text("kept")
    monkeypatch.setattr(tempfile_module, "mkdtemp", refuse)
    code = main(["run", "stream_soc", "-w", "tiles", "--no-trace", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "Permission denied; check its permissions or write elsewhere (-o)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_the_run(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code = main(["run", "stream_soc", "-w", "tiles", "-o", str(folder)])
        assert code == 2 and "is not writable" in capsys.readouterr().err
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_a_corrupt_kernel_cache_is_one_line_naming_it(tmp_path):
    """Every cached numba kernel of desim gets a garbage index where NUMBA_CACHE_DIR puts
    it; the first kernel a functional run loads names the folder and the fix."""
    import numba.core.config as numba_config
    from numba.core.caching import FunctionCache
    from numba.core.dispatcher import Dispatcher

    import desim.functional.kernels.jit as kernels

    cache = tmp_path / "numba"
    saved = numba_config.CACHE_DIR
    numba_config.CACHE_DIR = str(cache)
    try:
        for fn in vars(kernels).values():
            if isinstance(fn, Dispatcher):
                index = Path(FunctionCache(fn.py_func)._cache_file._index_path)
                index.parent.mkdir(parents=True, exist_ok=True)
                index.write_bytes(b"\x80\x04garbage, not a pickle")
    finally:
        numba_config.CACHE_DIR = saved
    proc = subprocess.run([sys.executable, "-m", "desim", "run", "hetero_cluster", "-w",
                           "autoencoder", "--functional", "--no-trace", "-o", "out"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("desim: error: the "
                                                                    "compiled-kernel cache")
    assert str(cache) in proc.stderr and "delete that folder" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("interrupt", "code", "word"), [
    (KeyboardInterrupt, 130, "interrupted"), ("terminated", 143, "terminated")])
def test_an_interrupt_a_library_turned_into_its_own_error_still_ends_the_run_quietly(
        monkeypatch, capsys, interrupt, code, word):
    # e.g. Ctrl-C while matplotlib's extension module loads: it raises ImportError from it
    import argparse

    import desim.cli as cli

    signal_ = cli.Terminated if interrupt == "terminated" else interrupt

    def command(args: argparse.Namespace) -> int:
        try:
            raise signal_
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    parser = cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=command))
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["run"]) == code
    err = capsys.readouterr().err
    assert err.strip() == f"desim: {word}" and "Traceback" not in err
