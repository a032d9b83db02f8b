"""HR's view of a connection's employees: the four tabs with search and paging, the confirm dialog before
sending selected employees, and the benefits level HR assigns in hrsync.

Names are not stored in hrsync's table: a search by name asks the source system (its own search), and the
tab is filtered to the ids it answers; codes are matched against the stored states.
"""

from __future__ import annotations

from hrsync.context import store, with_fresh_credentials
from hrsync.errors import HrsyncError
from hrsync.models.api import EmployeeFilter, EmployeesView, SelectionPreview, UnsendableEmployee
from hrsync.models.records import EmployeeState, SyncStatus
from hrsync.observability import logger

MIN_NAME_SEARCH = 3  # Staffology searches names from three characters


def _rows(connection_id: str, status: SyncStatus | None, search: str | None) -> tuple[list[EmployeeState], str | None]:
    db = store()
    db.get_connection(connection_id)  # NotFoundError
    rows = (
        list(db.employee_states(connection_id).values())
        if status is None
        else (db.employees_by_status(connection_id, status))
    )
    note = None
    if search:
        by_name, note = _name_matches(connection_id, search)
        needle = search.strip().lower()
        rows = [
            row
            for row in rows
            if row.employee_id in by_name or needle in (row.code or "").lower() or needle == row.employee_id.lower()
        ]
    return sorted(rows, key=lambda row: (row.code or "", row.employee_id)), note


def _name_matches(connection_id: str, text: str) -> tuple[set[str], str | None]:
    if len(text.strip()) < MIN_NAME_SEARCH:
        return set(), f"names are searched from {MIN_NAME_SEARCH} characters: codes only were matched"
    try:
        return set(with_fresh_credentials(connection_id, lambda opened: opened.source.search(text))), None
    except HrsyncError as exc:
        logger.warning("name search failed", extra={"connection_id": connection_id, "reason": str(exc)})
        return set(), f"names could not be searched in the source system ({exc}): codes only were matched"


def employee_tab(
    connection_id: str, status: SyncStatus | None, search: str | None, page: int = 1, page_size: int | None = None
) -> EmployeesView:
    """One page (1-based) of the employees with a status (all without), searched by name or code; without a
    page size, every one of them."""
    rows, note = _rows(connection_id, status, search)
    page_size = page_size or max(1, len(rows))
    start = (page - 1) * page_size
    return EmployeesView(
        employees=rows[start : start + page_size], total=len(rows), page=page, page_size=page_size, search_note=note
    )


def _why_not(state: EmployeeState | None) -> str | None:
    """Why a selected employee cannot be sent now, or None when a sync would send (or re-check) them."""
    if state is None:
        return "not seen by a sync yet: hrsync does not know this employee"
    if state.status is SyncStatus.IN_PROGRESS:
        return "a change for this employee is already in progress"
    if state.status is SyncStatus.NOT_SYNCING and not state.awaiting_selection:
        return state.reason or "not syncing"
    return None


def preview_selection(
    connection_id: str, employee_ids: list[str] | None, selection: EmployeeFilter | None
) -> SelectionPreview:
    """The confirm dialog: how many of the selected employees a sync would send, and why the others cannot be.

    It reads what the last runs recorded; the sync itself re-reads both systems and re-checks everyone."""
    db = store()
    db.get_connection(connection_id)  # NotFoundError
    states = db.employee_states(connection_id)
    if employee_ids is not None:
        ids = sorted(set(employee_ids))
    else:
        selection = selection or EmployeeFilter()
        ids = [row.employee_id for row in _rows(connection_id, selection.status, selection.search)[0]]
    sendable: list[str] = []
    cannot: list[UnsendableEmployee] = []
    for employee_id in ids:
        state = states.get(employee_id)
        reason = _why_not(state)
        if reason is None:
            sendable.append(employee_id)
        else:
            cannot.append(
                UnsendableEmployee(employee_id=employee_id, code=state.code if state else None, reason=reason)
            )
    return SelectionPreview(
        selected=len(ids), would_send=len(sendable), cannot_send=len(cannot), employee_ids=sendable, cannot=cannot
    )


def assign_benefits_level(connection_id: str, employee_id: str, level: str | None) -> EmployeeState:
    """Store the benefits level HR assigned (None: the source's level again); the next sync sends the change."""
    db = store()
    db.get_connection(connection_id)  # NotFoundError
    return db.assign_benefits_level(connection_id, employee_id, level)
