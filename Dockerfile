# One image for the three production processes; the command picks the process:
#   webserver:    dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/workspace.yaml
#   daemon:       dagster-daemon run -w /opt/dagster/workspace.yaml
#   code server:  dagster code-server start -h 0.0.0.0 -p 4000 -m weighting_pipeline.definitions
#                 --location-name weighting_pipeline   (the default command; runs use this image too)
# No credentials are baked in: every process gets AWS access from its ECS task role
# and the DAGSTER_PG_* values from the task definition (the password from Secrets Manager).
# Build with the version git gives (the build context has no .git):
#   docker build --build-arg VERSION="$(./run.sh version)" -t weighting-pipeline:<tag> .
# `./run.sh stack` builds this same file with podman, on every start, and runs every
# process and every run in it; with no registry to pull from, it passes BASE_IMAGE, a
# Debian bookworm image with its python3 made from Debian's packages
# (devtools/weighting_pipeline_devtools/image.py).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV DAGSTER_HOME=/opt/dagster/home \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 dagster \
 && mkdir -p /opt/dagster/home /opt/dagster/app \
 && chown -R dagster:dagster /opt/dagster

WORKDIR /opt/dagster/app
# Every dependency at the version and with the file hashes the lock gives, then the
# package alone; the lock's SHA-256 is kept beside the environment for provenance.
# --no-deps: the lock already holds every dependency, and pip before 23.1 (Debian's is
# 23.0) refuses a dependency asked for with extras (gql[requests]) in hash-checking
# mode; pip check then proves the set complete.
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps --require-hashes -r requirements.lock \
 && pip check \
 && sha256sum requirements.lock | cut -d" " -f1 > "$(python -c 'import sys; print(sys.prefix)')/weighting-pipeline.lock.sha256"
# The package's version (setuptools-scm reads it from here without .git). Required:
# provenance records it, and an image without one would claim whatever a guess gave.
# Declared only here: every RUN after an ARG is rebuilt when its value changes, and the
# version changes with every commit, so the dependency layer above stays cached.
ARG VERSION
RUN test -n "$VERSION" || { echo "build with --build-arg VERSION=\"\$(./run.sh version)\"" >&2; exit 1; }
COPY reader ./reader
COPY pyproject.toml README.md ./
COPY weighting_pipeline ./weighting_pipeline
# The reader (ours, from reader/, so not in the lock) first: the package depends on it. The package
# itself is installed in place (-e): Dagster's defs-folder loader finds the project by its
# pyproject.toml, which stays beside it here.
RUN pip install --no-cache-dir --no-deps --no-build-isolation ./reader \
 && SETUPTOOLS_SCM_PRETEND_VERSION="$VERSION" pip install --no-cache-dir --no-deps --no-build-isolation -e . \
 && pip check \
 && python -c "from importlib.metadata import version; assert version('weighting_pipeline') == '$VERSION'"
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml

USER dagster
EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "weighting_pipeline.definitions", "--location-name", "weighting_pipeline"]
