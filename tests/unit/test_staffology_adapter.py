"""The Staffology adapter's listing: pages read ahead concurrently, taken in order, stopped by a short page;
a failing or repeating page makes the listing incomplete instead of silently short."""

from __future__ import annotations

import httpx

from hrsync.systems.http import RetryPolicy
from hrsync.systems.staffology import StaffologyPayroll
from sandbox.sample import staffology_employee

EMPLOYER = "3f5b8a6e-1c2d-4e7f-9a0b-5c6d7e8f9a01"


def _adapter(current: list[dict], *, broken_page: int | None = None, repeat_from: int | None = None):
    requested: list[tuple[str, int]] = []
    by_id = {e["id"]: e for e in current}

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/employees"):
            status, page = request.url.params["status"], int(request.url.params["pageNum"])
            size = int(request.url.params["pageSize"])
            requested.append((status, page))
            if page == broken_page:
                return httpx.Response(500)
            if repeat_from is not None and page >= repeat_from:
                page = repeat_from - 1
            rows = current if status == "Current" else []
            chunk = rows[page * size : (page + 1) * size]
            return httpx.Response(
                200, json=[{"id": e["id"], "name": None, "url": None, "metadata": None} for e in chunk]
            )
        return httpx.Response(200, json=by_id[path.rsplit("/", 1)[-1]])

    client = httpx.Client(base_url="http://staffology.test/", transport=httpx.MockTransport(handle))
    return StaffologyPayroll(client, EMPLOYER, RetryPolicy(attempts=1), page_size=2), requested


def _people(count: int) -> list[dict]:
    return [staffology_employee(f"E{n:03}", "Ann", "Lee", f"a{n}@example.com") for n in range(count)]


def test_listing_reads_every_page_until_a_short_one():
    adapter, requested = _adapter(_people(5))
    listing = adapter.list_employees()
    assert listing.complete and len(listing.records) == 5
    assert sorted(e.code for e in listing.records) == [f"E{n:03}" for n in range(5)]
    assert {("Current", p) for p in range(3)} <= set(requested)


def test_listing_with_a_failing_page_is_incomplete_and_says_which():
    adapter, _ = _adapter(_people(9), broken_page=2)
    listing = adapter.list_employees()
    assert not listing.complete
    assert "Current employees, page 2" in (listing.incomplete_reason or "")
    assert len(listing.records) == 4  # what came before the broken page


def test_listing_whose_pages_repeat_stops_and_is_incomplete():
    adapter, _ = _adapter(_people(40), repeat_from=2)
    listing = adapter.list_employees()
    assert not listing.complete and "repeated" in (listing.incomplete_reason or "")
    assert len(listing.records) == 4


def test_listing_windows_grow_while_pages_come_back_full():
    adapter, requested = _adapter(_people(120))  # 60 full pages of 2, then a short one
    listing = adapter.list_employees()
    assert listing.complete and len(listing.records) == 120
    current = sorted(page for status, page in requested if status == "Current")
    # windows of 8, 16, 32, then 64: four round trips, the last reading past the end
    assert current == list(range(8 + 16 + 32 + 64))
    assert sorted(page for status, page in requested if status == "Upcoming") == list(range(8))
