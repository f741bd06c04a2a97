import sys

from weighting_pipeline.local.cli import main

sys.exit(main())
