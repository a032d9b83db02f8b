"""Every DynamoDB key hrsync writes, in one place.

| item                       | pk                         | sk                       | gsi1 (pk / sk)                      | gsi2 pk                    |
|----------------------------|----------------------------|--------------------------|-------------------------------------|----------------------------|
| connection config          | CONN#{id}                  | CONFIG                   | CONNECTOR#{name} / CONN#{id}        |                            |
| connection state (lock)    | CONN#{id}                  | STATE                    |                                     |                            |
| link + employee status     | CONN#{id}                  | EMP#{employee}           | CONN#{id}#STATUS#{s} / EMP#{employee} | CONN#{id}#TARGET#{target} |
| employee history           | CONN#{id}#EMP#{employee}   | HIST#{time}#{run}        |                                     |                            |
| run                        | CONN#{id}                  | RUN#{run}                |                                     |                            |
| run log line               | RUN#{run}                  | LOG#{seq}                |                                     |                            |
| conflict                   | CONN#{id}                  | CONFLICT#{key}           |                                     |                            |
| lookup (e.g. departments)  | CONN#{id}                  | LOOKUP#{name}            |                                     |                            |
| failure for review         | FAIL                       | FAIL#{failure}           |                                     |                            |

Run and failure ids start with their UTC time, so sort keys order them by time.
"""

from __future__ import annotations

CONFIG = "CONFIG"
STATE = "STATE"
FAILURE_PK = "FAIL"


def connection(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def employee(employee_id: str) -> str:
    return f"EMP#{employee_id}"


EMPLOYEE_PREFIX = "EMP#"
RUN_PREFIX = "RUN#"
CONFLICT_PREFIX = "CONFLICT#"
LOG_PREFIX = "LOG#"
HISTORY_PREFIX = "HIST#"


def run(run_id: str) -> str:
    return f"RUN#{run_id}"


def log_line(seq: str) -> str:
    return f"LOG#{seq}"


def history(connection_id: str, employee_id: str) -> str:
    return f"CONN#{connection_id}#EMP#{employee_id}"


def history_entry(time: str, run_id: str) -> str:
    return f"HIST#{time}#{run_id}"


def conflict(key: str) -> str:
    return f"CONFLICT#{key}"


def lookup(name: str) -> str:
    return f"LOOKUP#{name}"


def failure(failure_id: str) -> str:
    return f"FAIL#{failure_id}"


def by_connector(connector: str) -> str:
    return f"CONNECTOR#{connector}"


def by_status(connection_id: str, status: str) -> str:
    return f"CONN#{connection_id}#STATUS#{status}"


def by_target(connection_id: str, target_id: str) -> str:
    return f"CONN#{connection_id}#TARGET#{target_id}"
