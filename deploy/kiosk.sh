#!/usr/bin/env bash
# Full-screen kiosk on a Raspberry Pi display: waits for eegd, then opens its page in
# Debian's chromium. Run it from the desktop session's autostart.
set -euo pipefail
url="${1:-http://127.0.0.1:8080/}"
for _ in $(seq 1 60); do
  curl -fsS "${url}healthz" >/dev/null 2>&1 && break
  sleep 1
done
exec chromium --kiosk --noerrdialogs --disable-infobars --incognito \
  --disable-background-networking --disable-component-update --no-first-run "$url"
