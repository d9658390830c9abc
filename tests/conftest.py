"""Fixtures shared by the test modules."""
import warnings

import pytest

# Generous comm timeouts: on a loaded machine starting two worker processes (each importing
# NumPy, SciPy and spectralridge) and shutting them down can take much longer than when idle.
CLUSTER_TIMEOUTS = {"distributed.comm.timeouts.connect": "120s",
                    "distributed.comm.timeouts.tcp": "120s"}


@pytest.fixture(scope="module")
def client():
    """A distributed client of a two-process LocalCluster (one thread per worker)."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings(), dask.config.set(CLUSTER_TIMEOUTS):
        # closing the cluster can report the port of a worker that already left
        warnings.filterwarnings("ignore", category=ResourceWarning)
        # The scheduler serves HTTP even without a dashboard, by default on port 8787; when
        # another cluster (a concurrent test run) holds it, it warns, an error here. Port 0
        # lets the OS pick a free port.
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None,
                                      scheduler_kwargs={"dashboard_address": ":0"}) as cluster, \
                distributed.Client(cluster, timeout=120) as client:
            yield client
