"""Batch work over many items on Dask: a LocalCluster by default, a running cluster by
its scheduler's address, or this process alone.

Workers compute; they never write to the store. The caller gathers the results (in
the order of the items, with a progress bar as they arrive) and writes them in its
usual transaction, so a batch on a cluster leaves the store exactly as the same
batch in one process does.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

LOCAL = "local"  # a LocalCluster on this machine
IN_PROCESS = None  # no Dask at all


def run_batch(function: Callable, items: Sequence, *, scheduler: str | None = LOCAL,
              workers: int | None = None, desc: str = "Working", progress: bool = True
              ) -> list[Any]:
    """``[function(item) for item in items]``, computed where ``scheduler`` says:
    ``"local"`` (a LocalCluster of ``workers`` processes, default one per core),
    ``"tcp://host:8786"`` (that cluster's workers, which must see the same files), or
    ``None`` (here, one after another). The first item that raises stops the batch
    with its error."""
    from tqdm.auto import tqdm

    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="item", disable=not progress)
    if scheduler is IN_PROCESS or not items:
        results = []
        for item in items:
            results.append(function(item))
            bar.update()
        bar.close()
        return results
    from distributed import as_completed

    with _client(scheduler, workers) as client, bar:
        futures = client.map(function, items, pure=False)
        order = {future.key: k for k, future in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            for future in as_completed(futures):
                results[order[future.key]] = future.result()  # re-raises a worker's error
                bar.update()
        finally:
            client.cancel(futures)
    return results


@contextmanager
def local_cluster(workers: int | None = None) -> Iterator:
    """A LocalCluster of ``workers`` processes (default one per core), one thread each:
    the work is numpy and scikit-learn, and the workers' memory is theirs, not the
    kernel's."""
    import dask
    from distributed import LocalCluster

    # Dask starts its workers with malloc trimmed at 64 KiB, which made every array of
    # an item a fresh mmap and each item twice as slow; glibc's own threshold adapts.
    trim = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with dask.config.set({trim: None}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster:
        yield cluster


@contextmanager
def _client(scheduler: str, workers: int | None) -> Iterator:
    try:
        from distributed import Client
    except ImportError:  # a dependency: named for a broken install
        raise RuntimeError("Dask's distributed is not installed: pip install distributed, "
                           "or pass scheduler=None to work in this process") from None
    if scheduler == LOCAL:
        with local_cluster(workers) as cluster, Client(cluster) as client:
            yield client
        return
    if not str(scheduler).startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise ValueError(f"scheduler must be 'local', None or a scheduler address "
                         f"(tcp://host:8786), not {scheduler!r}")
    with Client(scheduler, timeout="30s") as client:
        yield client
