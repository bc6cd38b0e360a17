# Sourced by .ci/run before the tests (so it may export variables for them).
step "aiosmtpd: the real SMTP server the e-mail tests send to"
# From PyPI, pinned, in a venv the tests find by PILLOW_SMTP_PYTHON (default:
# target/smtp-venv/bin/python). With CI=true the e-mail tests fail rather than skip without it.
smtp_venv="target/smtp-venv"
if ! "$smtp_venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  if ! python3 -m venv "$smtp_venv" >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    python3 -m venv "$smtp_venv"
  fi
  "$smtp_venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6'
fi
"$smtp_venv/bin/python" -c 'import importlib.metadata as m; print("aiosmtpd", m.version("aiosmtpd"))'
export PILLOW_SMTP_PYTHON="$PWD/$smtp_venv/bin/python"
