#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser tests (headless, driven by
# Playwright for Python with executable_path=/usr/bin/chromium: no browser download).
# Idempotent; needs root for apt-get (CI runs as root; elsewhere run it once with sudo).
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Chromium is needed by the browser tests: run 'sudo bash $0' once." >&2
  exit 1
fi
echo "• Chromium: installing the Debian packages…"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
chromium --version
