"""How a run cuts its pending employees for queueing: a first slice that gives every worker a batch, then
slices of QUEUE_SLICE; every employee in exactly one slice, in order."""

from __future__ import annotations

import pytest

from hrsync.runs import QUEUE_SLICE, queue_slices


def test_a_first_slice_then_full_slices():
    assert QUEUE_SLICE == 1000
    assert list(queue_slices(3000, 1250)) == [(0, 1250), (1250, 2250), (2250, 3000)]
    assert list(queue_slices(3000, 250)) == [(0, 250), (250, 1250), (1250, 2250), (2250, 3000)]


@pytest.mark.parametrize("count", [0, 1, 249, 250, 251, 10_000, 100_001])
@pytest.mark.parametrize("first", [0, 1, 250, 1250])
def test_slices_cover_every_employee_once_in_order(count: int, first: int):
    slices = list(queue_slices(count, first))
    assert [i for start, end in slices for i in range(start, end)] == list(range(count))
    assert all(0 < end - start <= max(first, QUEUE_SLICE) for start, end in slices)
