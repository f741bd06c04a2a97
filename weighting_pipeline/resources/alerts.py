"""Where alerts go: an SNS topic, through the standard AWS credential chain."""

from __future__ import annotations

import logging

import boto3
import dagster as dg
from pydantic import Field

from weighting_pipeline.alerts.messages import Alert

log = logging.getLogger("weighting_pipeline.alerts")


class AlertsTopic(dg.ConfigurableResource):
    """Publishes alerts to ``ALERTS__SNS_TOPIC_ARN``; sends nothing when it is unset."""

    topic_arn: str | None = Field(default=None, description="SNS topic ARN (ALERTS__SNS_TOPIC_ARN); unset: no alerts.")
    webserver_url: str | None = Field(
        default=None, description="Dagster UI base URL (DAGSTER_WEBSERVER_URL), for links."
    )
    missed_week_hours: float = Field(default=2.0, description="Hours after a week ends before its absence is an alert.")
    stage: str = Field(default="dev", description="Deployment stage, named in every subject.")

    @property
    def enabled(self) -> bool:
        return bool(self.topic_arn)

    def publish(self, alert: Alert) -> str | None:
        """Send ``alert``; its SNS message id, or None when alerts are off."""
        if not self.topic_arn:
            return None
        region = self.topic_arn.split(":")[3] if self.topic_arn.count(":") >= 5 else None
        response = (
            boto3.session.Session()
            .client("sns", region_name=region)
            .publish(TopicArn=self.topic_arn, Subject=alert.subject, Message=alert.body)
        )
        log.info("Alert sent to %s: %s", self.topic_arn, alert.subject)
        return response["MessageId"]
