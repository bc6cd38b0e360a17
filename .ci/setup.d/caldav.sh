# Sourced by .ci/run before the tests (so it may export variables for them).
step "Radicale: the real CalDAV server the CalDAV client tests start"
# Radicale from PyPI, pinned, in a venv the tests find by PILLOW_RADICALE (default:
# target/radicale-venv/bin/python). With CI=true the CalDAV tests fail rather than skip without it.
radicale_venv="target/radicale-venv"
if ! "$radicale_venv/bin/python" -c 'import radicale' >/dev/null 2>&1; then
  if ! python3 -m venv "$radicale_venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    python3 -m venv "$radicale_venv"
  fi
  "$radicale_venv/bin/pip" install --quiet --disable-pip-version-check 'radicale==3.9.0'
fi
"$radicale_venv/bin/python" -c 'import importlib.metadata as m; print("radicale", m.version("radicale"))'
export PILLOW_RADICALE="$PWD/$radicale_venv/bin/python"
