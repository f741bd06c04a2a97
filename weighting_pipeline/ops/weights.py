"""``weights``: print a stored week's weights as trading would read them from the table."""

from __future__ import annotations


def print_weights(partition_key: str) -> bool:
    """Print the week's item in STRATEGY_WEIGHTS__TABLE_NAME as a table, in the baseline's
    order; False (having said so) when the week has no item or was unpublished."""
    from weighting_pipeline.assets import report
    from weighting_pipeline.publication.item import TOMBSTONE, is_tombstone, items_to_frame
    from weighting_pipeline.resources.weights_table import WeightsTable
    from weighting_pipeline.settings import WeightingSettings

    table = WeightsTable.from_env()
    item = table.get_week(partition_key)
    if item is None:
        print(f"No weights stored for week {partition_key} in {table.table_name}.")
        return False
    if is_tombstone(item):
        gone = item[TOMBSTONE]
        print(
            f"Week {partition_key} was unpublished by {gone['by']} at {gone['at']} ({gone['reason']}); "
            f"{table.table_name} holds its tombstone, and trading reads no weights for it."
        )
        return False
    print(
        f"\nDynamic weights for the week starting {partition_key} (valid {item['valid_from']} .. {item['valid_until']}),"
    )
    print(f"read back from DynamoDB table {table.table_name}:\n")
    order = {k: i for i, k in enumerate(WeightingSettings.from_env().baseline().keys)}
    frame = items_to_frame([item])
    frame = frame.sort_values("strategy", key=lambda s: s.map(order).fillna(len(order)), kind="stable")
    print(report.text(frame, item.get("score", "sharpe")))
    if item.get("skipped_strategies"):
        print("\nSkipped (multiplier 1.0): " + "; ".join(f"{k}: {v}" for k, v in item["skipped_strategies"].items()))
    return True
