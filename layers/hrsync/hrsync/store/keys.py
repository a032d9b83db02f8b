"""Every DynamoDB key hrsync writes, in one place.

- connection config: pk CONN#{id}, sk CONFIG; gsi1 CONNECTOR#{name} / CONN#{id}
- connection state (lock, last success): pk CONN#{id}, sk STATE
- link + employee status: pk CONN#{id}, sk EMP#{employee}; gsi1 CONN#{id}#STATUS#{status} / EMP#{employee};
  gsi2 CONN#{id}#TARGET#{target id}
- employee history: pk CONN#{id}#EMP#{employee}, sk HIST#{time}#{run}
- run: pk CONN#{id}, sk RUN#{run}
- run log line: pk RUN#{run}, sk LOG#{seq}
- conflict: pk CONN#{id}, sk CONFLICT#{key}
- lookup (e.g. departments): pk CONN#{id}, sk LOOKUP#{name}
- payroll change (a self-service edit uploaded to payroll): pk CONN#{id}, sk PAYCHG#{employee}#{change}
- failure for review: pk FAIL, sk FAIL#{failure}
- claim on a work message's attempt: pk CLAIM, sk CLAIM#{run}#{digest of the message}

Run and failure ids start with their UTC time, so sort keys order them by time.
"""

from __future__ import annotations

CONFIG = "CONFIG"
STATE = "STATE"
FAILURE_PK = "FAIL"
CLAIM_PK = "CLAIM"


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


PAYROLL_CHANGE_PREFIX = "PAYCHG#"
LOOKUP_PREFIX = "LOOKUP#"


def payroll_change(employee_id: str, change_id: str) -> str:
    return f"PAYCHG#{employee_id}#{change_id}"


def payroll_changes_of(employee_id: str) -> str:
    return f"PAYCHG#{employee_id}#"


def failure(failure_id: str) -> str:
    return f"FAIL#{failure_id}"


def by_connector(connector: str) -> str:
    return f"CONNECTOR#{connector}"


def by_status(connection_id: str, status: str) -> str:
    return f"CONN#{connection_id}#STATUS#{status}"


def by_target(connection_id: str, target_id: str) -> str:
    return f"CONN#{connection_id}#TARGET#{target_id}"


def claim(claim_id: str) -> str:
    return f"CLAIM#{claim_id}"
