#!/usr/bin/env bash
# Set up everything on a fresh Debian machine with Python 3.10+:
# system packages (when missing), a virtual environment in .venv, the package.
#   scripts/setup.sh          for the demo
#   scripts/setup.sh --test   also what the tests need (Chromium, PostgreSQL + PostGIS,
#                             test extras)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=false
[ "${1:-}" = "--test" ] && want_tests=true

packages=()
python3 -c "import ensurepip, venv" 2>/dev/null || packages+=(python3-venv)
$want_tests && [ ! -x /usr/bin/chromium ] && packages+=(chromium)
# the tests start a throwaway PostgreSQL server of their own, with PostGIS
$want_tests && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && packages+=(postgresql)
$want_tests && ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 &&
    packages+=(postgresql-postgis)
if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing Debian packages: ${packages[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if $want_tests; then
    # Every wheel the tests need, in a local wheelhouse (made again when pyproject.toml
    # changes): the Binder check builds its environment from these files alone.
    wheelhouse=test-artifacts/wheelhouse
    made_for=$(sha256sum pyproject.toml | cut -d" " -f1)
    if [ "$(cat "$wheelhouse/.made-for" 2>/dev/null)" != "$made_for" ]; then
        rm -rf "$wheelhouse"
        .venv/bin/python -m pip wheel -q -w "$wheelhouse" ".[test]" "setuptools>=77"
        echo "$made_for" > "$wheelhouse/.made-for"
    fi
    .venv/bin/python -m pip install -q --no-index --find-links "$wheelhouse" -e ".[test]"
else
    .venv/bin/python -m pip install -q -e .
fi
