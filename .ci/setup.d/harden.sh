# Sourced by .ci/run before the tests (so it may export variables for them).
step "openapi-spec-validator: checks the served /openapi.json"
# From PyPI, pinned, in a venv the OpenAPI test finds by PILLOW_OPENAPI_PYTHON (default:
# target/openapi-venv/bin/python). With CI=true that test fails rather than skips without it.
openapi_venv="target/openapi-venv"
if ! "$openapi_venv/bin/python" -c 'import openapi_spec_validator' >/dev/null 2>&1; then
  if ! python3 -m venv "$openapi_venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    python3 -m venv "$openapi_venv"
  fi
  "$openapi_venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.7.2'
fi
"$openapi_venv/bin/python" -c 'import importlib.metadata as m; print("openapi-spec-validator", m.version("openapi-spec-validator"))'
export PILLOW_OPENAPI_PYTHON="$PWD/$openapi_venv/bin/python"
