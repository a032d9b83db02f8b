"""How a run cuts its pending employees for queueing: small slices first, so the workers start sooner, then
slices of QUEUE_SLICE; every employee in exactly one slice, in order."""

from __future__ import annotations

import pytest

from hrsync.runs import FIRST_QUEUE_SLICE, QUEUE_SLICE, queue_slices


def test_slices_start_small_and_double_up_to_the_full_size():
    assert FIRST_QUEUE_SLICE == 250 and QUEUE_SLICE == 1000
    assert list(queue_slices(3000)) == [(0, 250), (250, 750), (750, 1750), (1750, 2750), (2750, 3000)]


@pytest.mark.parametrize("count", [0, 1, 249, 250, 251, 10_000, 100_001])
def test_slices_cover_every_employee_once_in_order(count: int):
    slices = list(queue_slices(count))
    assert [i for start, end in slices for i in range(start, end)] == list(range(count))
    assert all(0 < end - start <= QUEUE_SLICE for start, end in slices)
