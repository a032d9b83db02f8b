"""Per-run metrics: one EMF record per run with its own connection dimension, and the quarantine count."""

from __future__ import annotations

import json
from datetime import timedelta

from hrsync import clock
from hrsync.models.records import Run, RunCounters, RunStatus
from hrsync.runs import _publish_metrics


def _run(connection_id: str, started_seconds_ago: float) -> Run:
    started = clock.iso(clock.now() - timedelta(seconds=started_seconds_ago))
    return Run(
        connection_id=connection_id,
        run_id="r1",
        trigger="api",
        status=RunStatus.RUNNING,
        queued_at=started,
        started_at=started,
    )


def _records(text: str) -> list[dict]:
    """EMF records, each metric's value list as one number (one value per metric per record)."""
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for record in records:
        for key, value in record.items():
            if isinstance(value, list) and len(value) == 1:
                record[key] = value[0]
    return records


def test_publish_metrics_two_runs_each_keep_their_connection_and_counts(capsys):
    counters = RunCounters(created=3, updated=2, marked_leaver=1, not_syncing=4, conflicts=1, failed=5)
    _publish_metrics(_run("acme", 42), counters, RunStatus.COMPLETED_WITH_FAILURES)
    _publish_metrics(_run("globex", 1), RunCounters(created=7), RunStatus.SUCCEEDED)

    first, second = _records(capsys.readouterr().out)
    assert first["connection"] == "acme" and second["connection"] == "globex"
    assert ["connection", "service"] in first["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert (first["EmployeesCreated"], first["EmployeesUpdated"], first["EmployeesMarkedLeaver"]) == (3.0, 2.0, 1.0)
    assert (first["EmployeesNotSyncing"], first["EmployeesFailed"]) == (5.0, 5.0)
    assert 41 <= first["RunDuration"] < 60 and second["EmployeesCreated"] == 7.0
    assert "ConnectionsQuarantined" not in first | second


def test_publish_metrics_quarantined_run_counts_without_connection_dimension(capsys):
    _publish_metrics(_run("acme", 5), RunCounters(deferred=30), RunStatus.QUARANTINED)

    per_run, alarm = _records(capsys.readouterr().out)
    assert per_run["connection"] == "acme"
    assert alarm["ConnectionsQuarantined"] == 1.0 and "connection" not in alarm
    assert alarm["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
