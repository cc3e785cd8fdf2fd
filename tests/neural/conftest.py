"""Neural-fitting tests: one BLAS thread per worker (pytest -n 2 on 2 CPUs oversubscribes otherwise, and
LAPACK eigensolvers then slow down by orders of magnitude)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
