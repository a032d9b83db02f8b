"""Logger, Tracer and Metrics, created once and shared by every function.

The Logger never receives personal data: messages carry ids, counts and reasons. As a second line, every
log record passes through a redaction filter that masks e-mail addresses, UK sort codes and account
numbers, NI numbers and Australian TFNs should one slip into a message.
"""

from __future__ import annotations

import logging
import os
import re

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "hrsync")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "hrsync")
logger = Logger(service=SERVICE)
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)

_PATTERNS = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail
    re.compile(r"\b\d{2}-\d{2}-\d{2}\b"),  # sort code
    re.compile(r"\b\d{3}-\d{3}\b"),  # BSB
    re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b", re.IGNORECASE),  # NI number
    re.compile(r"\b\d{8,9}\b"),  # account number / TFN
]


def redact(text: str) -> str:
    """Mask what looks like personal data in free text."""
    for pattern in _PATTERNS:
        text = pattern.sub("***", text)
    return text


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


class _RedactingFilter(logging.Filter):
    """Masks personal data in the message and in every string passed as `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


logger.addFilter(_RedactingFilter())
