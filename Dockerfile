# One image for the three production processes; the command picks the process:
#   webserver:    dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/workspace.yaml
#   daemon:       dagster-daemon run -w /opt/dagster/workspace.yaml
#   code server:  dagster code-server start -h 0.0.0.0 -p 4000 -m weighting_pipeline.definitions
#                 --location-name weighting_pipeline   (the default command; runs use this image too)
# No credentials are baked in: every process gets AWS access from its ECS task role
# and the DAGSTER_PG_* values from the task definition (the password from Secrets Manager).
# Not built in CI (no container runtime there); see the README's "Deploying to AWS".
FROM python:3.11-slim

ENV DAGSTER_HOME=/opt/dagster/home \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 dagster \
 && mkdir -p /opt/dagster/home /opt/dagster/app \
 && chown -R dagster:dagster /opt/dagster

WORKDIR /opt/dagster/app
COPY pyproject.toml README.md ./
COPY weighting_pipeline ./weighting_pipeline
RUN pip install --no-cache-dir .
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml

USER dagster
EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "weighting_pipeline.definitions", "--location-name", "weighting_pipeline"]
