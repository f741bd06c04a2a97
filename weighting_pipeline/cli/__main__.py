from weighting_pipeline.cli import main

main(prog_name="weighting-pipeline")
