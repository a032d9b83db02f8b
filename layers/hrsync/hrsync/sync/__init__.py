"""Pure sync logic: validate, match, diff and plan. No boto3, no httpx, no Lambda events."""
