#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromedriver), for the
# report screenshot test and the `cachesim serve` browser test, unless they
# are already there. Needs root and Debian's package registry.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null
command -v chromedriver >/dev/null
