"""``python -m weighting_pipeline.local <command>``: the old spelling of ``weighting-pipeline
<command>``, kept as an alias for one release (0.2 removes it)."""

import sys

from weighting_pipeline.cli import main

print(
    "python -m weighting_pipeline.local is deprecated; use weighting-pipeline " + " ".join(sys.argv[1:2]),
    file=sys.stderr,
)
main(prog_name="python -m weighting_pipeline.local")
