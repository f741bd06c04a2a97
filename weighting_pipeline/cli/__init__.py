"""``weighting-pipeline``: the one command line for operators and developers.

Operator commands (``ops``) run against whatever the standard AWS variables and the
Dagster instance at ``DAGSTER_HOME`` point at: ``audit``, ``unpublish``, ``weights``,
``sweep``, ``setup-tables``. Development commands (``devtools``) start embedded
servers on 127.0.0.1: ``demo``, ``ui``, ``stack``; they need the development extra.
"""

from __future__ import annotations

import click

from weighting_pipeline.cli import development, operator

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


@click.group(context_settings=CONTEXT)
def main() -> None:
    """Weekly Sharpe-tilted strategy weights: operate the pipeline, or run it on this machine."""


for command in (*development.COMMANDS, *operator.COMMANDS):
    main.add_command(command)
