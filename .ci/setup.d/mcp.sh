# Sourced by .ci/run before the tests (so it may export variables for them).
step "MCP Python SDK: the third-party client the MCP tests drive"
# The official SDK from PyPI, pinned, in a venv the tests find by PILLOW_MCP_PYTHON (default:
# target/mcp-venv/bin/python). With CI=true the MCP exchange test fails rather than skips without it.
mcp_venv="target/mcp-venv"
if ! "$mcp_venv/bin/python" -c 'import mcp' >/dev/null 2>&1; then
  if ! python3 -m venv "$mcp_venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    python3 -m venv "$mcp_venv"
  fi
  "$mcp_venv/bin/pip" install --quiet --disable-pip-version-check 'mcp==2.3.0'
fi
"$mcp_venv/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'
export PILLOW_MCP_PYTHON="$PWD/$mcp_venv/bin/python"
