"""The alert sensors (to SNS, when ``ALERTS__SNS_TOPIC_ARN`` is set)."""

import dagster as dg

from weighting_pipeline.alerts.sensors import ALERT_SENSORS


@dg.definitions
def alerts() -> dg.Definitions:
    return dg.Definitions(sensors=ALERT_SENSORS)
