"""The Dagster webserver's GraphQL API: one POST per query, as the UI does."""

from __future__ import annotations

import json
import urllib.request


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    """POST ``query`` to ``<url>/graphql``; its ``data`` (GraphQL errors raise ``RuntimeError``)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]
