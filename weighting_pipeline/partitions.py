"""The one weekly partitions definition every asset shares.

Weeks start Sunday 18:00 America/New_York; the key is the start date. Only
complete weeks exist, so the newest partition is the week that last ended.
"""

import dagster as dg

from weighting_pipeline.core.calendar import FIRST_WEEK, TIMEZONE, WEEK_START_HOUR

weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=FIRST_WEEK,
    day_offset=0,  # Sunday
    hour_offset=WEEK_START_HOUR,
    timezone=TIMEZONE,
    end_offset=0,
)
