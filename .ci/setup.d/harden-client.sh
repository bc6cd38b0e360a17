# Sourced by .ci/run before the tests (so it may export variables for them).
step "openapi-python-client and Schemathesis: a generated client and a fuzzer against /openapi.json"
# From PyPI, pinned, each in its own venv (their dependencies need not agree). The tests find
# them by PILLOW_CLIENT_PYTHON and PILLOW_SCHEMATHESIS (defaults: target/client-venv/bin/python
# and target/schemathesis-venv/bin/st); with CI=true they fail rather than skip without them.
harden_venv() { # harden_venv DIR IMPORT PACKAGE==VERSION
  if ! "$1/bin/python" -c "import $2" >/dev/null 2>&1; then
    if ! python3 -m venv "$1" >/dev/null 2>&1; then
      echo "python3 -m venv failed; installing python3-venv"
      apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
      python3 -m venv "$1"
    fi
    "$1/bin/pip" install --quiet --disable-pip-version-check "$3"
  fi
  "$1/bin/python" -c "import importlib.metadata as m; print('$3'.split('==')[0], m.version('$3'.split('==')[0]))"
}
harden_venv target/client-venv openapi_python_client 'openapi-python-client==0.29.1'
export PILLOW_CLIENT_PYTHON="$PWD/target/client-venv/bin/python"
harden_venv target/schemathesis-venv schemathesis 'schemathesis==4.32.5'
export PILLOW_SCHEMATHESIS="$PWD/target/schemathesis-venv/bin/st"
