"""Running :func:`aimark.scan.scan_file` on many files: local processes, or a Ray cluster.

Both engines run the same per-file function and yield rows in input order,
with a bounded number of files in flight (:data:`IN_FLIGHT` per worker), so
memory does not grow with the number of files however long the list.

Ray is an optional extra (``pip install 'aimark[ray]'``), imported only
when asked for: ``ray.init(address=...)`` joins a running cluster, or starts
a local instance with as many CPUs as workers when no address is given.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
from typing import Any, Callable, Iterable, Iterator

from aimark.batch import _start_worker as start_worker  # the one set-up of a worker process
from aimark.errors import AimarkError
from aimark.scan import ScanRow, ScanSettings, close_contexts, scan_file

#: Files submitted ahead per worker: enough to keep every worker busy, few enough to bound memory.
IN_FLIGHT = 4


class RayError(AimarkError, RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def _ordered(submit: Callable[[str], Any], collect: Callable[[Any], ScanRow], paths: Iterable[str],
             window: int) -> Iterator[ScanRow]:
    """Submit files ``window`` ahead and collect them in order."""
    pending: collections.deque = collections.deque()
    for path in paths:
        pending.append(submit(path))
        if len(pending) >= window:
            yield collect(pending.popleft())
    while pending:
        yield collect(pending.popleft())


def scan_local(paths: Iterable[str], settings: ScanSettings, *, workers: int | None = None) -> Iterator[ScanRow]:
    """Rows of ``paths`` scanned by ``workers`` local processes (default: one per core); 1 runs in this process.

    The workers end with the run, however it ends (as :func:`aimark.batch.verify_many`'s do).
    """
    count = max(1, workers or os.cpu_count() or 1)
    if count == 1:
        try:
            yield from (scan_file(path, settings) for path in paths)
        finally:
            close_contexts()
        return
    # forkserver: workers fork from a fresh single-threaded process, never from this one, whose threads
    # (Ray's, a server's) may hold locks a forked child would wait on for ever.
    pool = multiprocessing.get_context("forkserver").Pool(count, initializer=start_worker)
    try:
        yield from _ordered(lambda path: pool.apply_async(scan_file, (path, settings)), lambda job: job.get(),
                            paths, count * IN_FLIGHT)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def ray_module() -> Any:
    """The ``ray`` package, or a one-line way out when it is not installed."""
    try:
        import ray
    except ImportError:
        raise RayError("--ray needs Ray: pip install 'aimark[ray]'") from None
    return ray


def scan_ray(paths: Iterable[str], settings: ScanSettings, *, address: str | None = None,
             workers: int | None = None) -> Iterator[ScanRow]:
    """Rows of ``paths`` scanned as Ray tasks, one CPU each.

    Parameters
    ----------
    address : str, optional
        A running cluster (``ray://head:10001``, ``auto``); None starts a local instance with
        ``workers`` CPUs (default: one per core), stopped at the end.
    workers : int, optional
        Tasks in flight are ``workers * IN_FLIGHT`` (default: the cluster's CPUs).
    """
    ray = ray_module()
    if not ray.is_initialized():
        try:
            quiet = {"log_to_driver": False, "include_dashboard": False, "logging_level": logging.ERROR}
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=workers or os.cpu_count(), **quiet)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise RayError(f"cannot start or reach Ray{f' at {address}' if address else ''} "
                           f"({' '.join(str(error).split())[:300]})") from None
        started = True
    else:
        started = False
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(scan_file)
        shared = ray.put(settings)
        window = max(1, int(workers or ray.cluster_resources().get("CPU", 1))) * IN_FLIGHT
        yield from _ordered(lambda path: task.remote(path, shared), ray.get, paths, window)
    finally:
        if started:
            ray.shutdown()
