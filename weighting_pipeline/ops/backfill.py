"""``backfill``: submit a range of weeks as one backfill through the webserver, as the UI's dialog does.

The backfill then goes through the production machinery: the run queue, the
run launcher (one ECS task, sized by the ``ecs/cpu`` and ``ecs/memory`` tags),
run monitoring and retries. Every asset has a single-run backfill policy, so
the range is one run. The publication rules apply to it as to any range run:
the week trading reads now is left to a single-week run.
"""

from __future__ import annotations

from weighting_pipeline.ops.webserver import graphql

LAUNCH_BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename
  ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } ... on InvalidSubsetError { message }
  ... on UnauthorizedError { message } ... on PartitionSetNotFoundError { message } } }"""


class BackfillError(RuntimeError):
    """The webserver refused the backfill; the message is its answer."""


def backfill_params(weeks: list[str], cpu: int | None = None, memory: int | None = None) -> dict:
    """``LaunchBackfillParams`` for the weekly chain over ``weeks``; ``cpu`` (ECS CPU units) and
    ``memory`` (MiB) size the run's task."""
    from weighting_pipeline.assets import CHAIN_ASSETS

    tags = [{"key": "ecs/cpu", "value": str(cpu)}] if cpu else []
    tags += [{"key": "ecs/memory", "value": str(memory)}] if memory else []
    return {
        "partitionNames": list(weeks),
        "assetSelection": [{"path": a.key.path} for a in CHAIN_ASSETS],
        "fromFailure": False,
        "tags": tags,
        "title": f"weighting-pipeline backfill {weeks[0]}...{weeks[-1]}",
    }


def launch_backfill(url: str, weeks: list[str], cpu: int | None = None, memory: int | None = None) -> tuple[str, str]:
    """Submit the backfill to the webserver at ``url``; its id and its page in the UI."""
    answer = graphql(url, LAUNCH_BACKFILL, {"p": backfill_params(weeks, cpu, memory)})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise BackfillError(
            f"the webserver at {url} refused the backfill ({answer['__typename']}): {answer.get('message', '')}"
        )
    backfill_id = answer["backfillId"]
    return backfill_id, f"{url.rstrip('/')}/runs/b/{backfill_id}"
