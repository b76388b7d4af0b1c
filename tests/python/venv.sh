#!/usr/bin/env bash
# Makes (or reuses) a virtualenv with the pinned grpcio packages of requirements.txt and prints
# its python. Usage: tests/python/venv.sh DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:?usage: venv.sh DIR}"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
mkdir -p "$(dirname "$venv")"
# Two test binaries may ask at once: one makes it, the other waits.
exec 9>"$venv.lock"
flock 9
if [[ -x "$venv/bin/python" && -f "$venv/.requirements" && "$(cat "$venv/.requirements")" == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
echo "$want" > "$venv/.requirements"
echo "$venv/bin/python"
