"""Alerts to SNS: run failures, a missed week, WARN checks of a published week."""
