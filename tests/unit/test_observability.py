"""Personal data never reaches the logs, even when a message or an extra carries it by mistake."""

from __future__ import annotations

import io
import json

import pytest

from hrsync.observability import logger, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("mail ann.lee@example.com", "ann.lee@example.com"),
        ("sort code 12-34-56", "12-34-56"),
        ("account 12345678", "12345678"),
        ("NI QQ 12 34 56 C", "QQ 12 34 56 C"),
        ("TFN 123456789", "123456789"),
        ("BSB 062-000", "062-000"),
    ],
)
def test_redact_personal_data_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert "***" in masked


def test_logger_message_and_extras_redacted() -> None:
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        logger.info("user ann@example.com changed", extra={"detail": "sort 12-34-56", "employee_id": "E001"})
    finally:
        logger.registered_handler.setStream(previous)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "user *** changed"
    assert line["detail"] == "sort ***" and line["employee_id"] == "E001"
