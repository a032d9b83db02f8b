"""One adapter per vendor: an HTTP client passed in from outside, shared paging and retries from `http`,
and pure functions mapping the vendor's JSON to the canonical Employee and back."""
