# Sourced by .ci/run before the tests (so it may export variables for them).
step "pillow-calendar Python package, with LiveKit Agents and Pipecat, for its pytest suite"
# The package in clients/python, installed with pip as a user would, into a venv with the
# frameworks and test tools pinned below. The Rust test python_client runs its pytest suite
# against the real server and finds the venv by PILLOW_PACKAGE_PYTHON (default:
# target/python-venv/bin/python); with CI=true it fails rather than skips without it.
python_venv="target/python-venv"
python_pins=(
  'livekit-agents[mcp]==1.8.9'
  'pipecat-ai==1.14.0'
  'mcp==2.3.0'
  'httpx==0.28.1'
  'pytest==9.2.0'
  'pytest-asyncio==1.5.0'
)
python_stamp="$python_venv/.pins"
if [ "$(cat "$python_stamp" 2>/dev/null)" != "${python_pins[*]}" ]; then
  if ! python3 -m venv "$python_venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    python3 -m venv "$python_venv"
  fi
  "$python_venv/bin/pip" install --quiet --disable-pip-version-check \
    './clients/python[livekit,pipecat]' "${python_pins[@]}"
  printf '%s' "${python_pins[*]}" > "$python_stamp"
fi
# The package itself is reinstalled every run (a few seconds, no dependencies), so the suite
# always tests this checkout's code as pip installs it.
"$python_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall \
  ./clients/python
"$python_venv/bin/python" -c 'import importlib.metadata as m; print(*(f"{p} {m.version(p)}" for p in ("pillow-calendar", "livekit-agents", "pipecat-ai")))'
export PILLOW_PACKAGE_PYTHON="$PWD/$python_venv/bin/python"
