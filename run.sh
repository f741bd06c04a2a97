#!/usr/bin/env bash
# One entry point for people and CI. Each command sets itself up on a fresh
# machine that has python3, pip, node/npm and a Java runtime.
#   ./run.sh demo    embedded DynamoDB, demo ledger, latest week through Dagster, weights table
#   ./run.sh test    the test suite (integration tests against DynamoDB Local)
#   ./run.sh test fast   the tests that need no server, Dagster instance or rehearsal (< 2 min)
#   ./run.sh ui      Dagster UI on http://127.0.0.1:3000 over the demo's data
#   ./run.sh bench   the benchmarks (see docs/performance.md)
#   ./run.sh stack   the production rehearsal: the image built with podman, the CloudFormation template
#                    deployed into moto, every service and run in a container (needs Debian's
#                    postgresql, podman, runc and mmdebstrap packages); --runtime scheduled
#                    rehearses the weekly task fired from the deployed schedule instead
#   ./run.sh image   build the image with podman as the rehearsal does; prints its name
#   ./run.sh version the package version git gives (the image's VERSION build argument)
#   ./run.sh lock    regenerate requirements.lock (after changing the dependencies in pyproject.toml)
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml or the lock changed since the last install. The
  # runtime dependencies come from the lock, with its hashes, as in the image; the
  # development tools are then added around them.
  local stamp="$VENV/.installed-$(cat pyproject.toml requirements.lock reader/pyproject.toml devtools/pyproject.toml | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --require-hashes -r requirements.lock
    sha256sum requirements.lock | cut -d" " -f1 > "$VENV/weighting-pipeline.lock.sha256"
    "$VENV/bin/python" -m pip install --quiet --no-deps -e ./reader   # ours: not in the lock
    # The development tools (devtools/, ours too) with the package and its dev extra.
    "$VENV/bin/python" -m pip install --quiet -e ./devtools -e ".[dev]"
    touch "$stamp"
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  demo)  setup; exec "$VENV/bin/weighting-pipeline" demo "$@" ;;
  ui)    setup; exec "$VENV/bin/weighting-pipeline" ui "$@" ;;
  test)  setup
         if [ "${1:-}" = fast ]; then   # the tests that need no server, instance or rehearsal
           shift; exec "$VENV/bin/python" -m pytest -m "not (dynamodb or postgres or aws or dagster or stack or slow)" "$@"
         fi
         exec "$VENV/bin/python" -m pytest "$@" ;;
  bench) setup; exec "$VENV/bin/python" -m benchmarks "$@" ;;
  stack) setup; exec "$VENV/bin/weighting-pipeline" stack "$@" ;;
  image) setup; exec "$VENV/bin/weighting-pipeline" image "$@" ;;
  version) setup; exec "$VENV/bin/python" -m setuptools_scm ;;
  lock)  setup
         printf 'setuptools>=68\nsetuptools-scm>=8\n' |   # the image builds the package without build isolation
           "$VENV/bin/uv" pip compile pyproject.toml - --universal --python-version 3.11 --generate-hashes --quiet \
             --no-emit-package weighting-pipeline-reader --no-emit-package weighting-pipeline-devtools \
             --custom-compile-command "./run.sh lock" -o requirements.lock ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
