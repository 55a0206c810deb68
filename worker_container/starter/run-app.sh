#!/usr/bin/env bash
# Run the app locally: installs dependencies when node_modules is missing, then starts the development
# server on http://localhost:3000 (set PORT to change it) and stays attached. `--production` builds
# and serves the optimized app instead.
set -euo pipefail

cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm was not found: install Node.js 20 or newer from https://nodejs.org/ and try again." >&2
  exit 1
fi

if [ ! -d node_modules ]; then
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund || npm install --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi

export NEXT_TELEMETRY_DISABLED="${NEXT_TELEMETRY_DISABLED:-1}"
PORT="${PORT:-3000}"
export PORT
echo "Starting the app on http://localhost:${PORT} (Ctrl+C to stop)"
if [ "${1:-}" = "--production" ]; then
  npm run build
  exec npm run start
fi
exec npm run dev
