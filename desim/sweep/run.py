"""Running a sweep: the points not done yet, on a local process pool or a dask cluster.

Each point runs ``desim.driver.simulate`` in a worker; the worker returns the point's
result document and this process writes it (atomically) under ``points/`` as soon as it
arrives, so an interrupted sweep keeps every finished point and a re-run skips them.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.sweep import identity, results
from desim.sweep.points import Point, Study
from desim.sweep.progress import SweepProgress


def run(study: Study | Sequence[Point], outdir: str | Path, *, jobs: int | None = None,
        scheduler: str | None = None) -> Any:
    """Run every point of ``study`` not yet done in ``outdir``; return the results table.

    ``jobs`` worker processes (default: the core count), or the dask.distributed
    scheduler at ``scheduler`` (``"local"``: a LocalCluster of two worker processes).
    """
    points = study.points() if isinstance(study, Study) else list(study)
    results.require_pyarrow()
    identity.check(points)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    ids = [identity.point_id(p) for p in points]
    todo = {pid: p for pid, p in zip(ids, points, strict=True)
            if results.read_point(out, pid) is None}
    progress = SweepProgress(len(dict.fromkeys(ids)), len(dict.fromkeys(ids)) - len(todo))
    try:
        if todo:
            runner = _dask if scheduler else _pool
            # closed on the way out, so an interrupt stops the workers at once
            with closing(runner(todo, jobs, scheduler)) as done:
                for pid, doc in done:
                    results.write_point(out, pid, doc)
                    progress.point(doc["sweep"]["status"] == "ok", label(todo[pid]))
    finally:
        progress.close()
        results.write_table(out, ids)
    return results.load(out)


def simulate_point(point: Point) -> dict[str, Any]:
    """Run one point (in a worker): its summary with a ``sweep`` entry, or its error."""
    from desim.driver import simulate

    t0 = time.perf_counter()
    try:
        summary = simulate(point.platform, point.workload, seed=point.seed,
                           overrides=point.overrides).summary
        status, error = "ok", None
    except Exception as exc:  # one bad point must not stop the sweep
        summary, status = {}, "error"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = text if isinstance(exc, DesimError) else f"{type(exc).__name__}: {text}"
    wall = time.perf_counter() - t0
    sweep = {**dataclasses.asdict(point), "status": status, "error": error, "sim_wall_s": wall}
    return {**summary, "sweep": sweep}


def label(point: Point) -> str:
    """A point in one line: platform, workload, seed and overrides."""
    sets = " ".join(f"{k}={v}" for k, v in point.overrides.items())
    return f"{point.platform} {point.workload} seed {point.seed} {sets}".rstrip()


def _pool(todo: dict[str, Point], jobs: int | None,
          scheduler: str | None) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """Run the points on a local process pool of ``jobs`` workers."""
    context = multiprocessing.get_context("forkserver")
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        futures: dict[Future[dict[str, Any]], str] = {
            pool.submit(simulate_point, p): pid for pid, p in todo.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        # interrupted: the points running now are lost anyway; stop them rather than
        # wait for them (the executor has no public way to, before Python 3.14)
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(todo: dict[str, Point], jobs: int | None,
          scheduler: str | None) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """Run the points on a dask.distributed scheduler (``local``: a fresh LocalCluster)."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ModuleNotFoundError:
        raise DesimError("--scheduler needs dask.distributed: pip install 'desim[sweep]'") \
            from None
    with _client(Client, scheduler or "local") as client:
        futures = {client.submit(simulate_point, p, key=f"desim-sweep-{pid}", pure=False): pid
                   for pid, p in todo.items()}
        for future in dask_completed(list(futures)):
            yield futures[future], future.result()


@contextmanager
def _client(client_cls: Any, scheduler: str) -> Iterator[Any]:
    """A dask client of the scheduler at ``scheduler``, or of a LocalCluster it closes."""
    if scheduler != "local":
        with client_cls(scheduler) as client:
            yield client
        return
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, client_cls(cluster) as client:
        yield client
