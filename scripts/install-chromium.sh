#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromedriver), for the
# report screenshot test and the `cachesim serve` browser test, unless they
# are already there. Needs root and Debian's package registry.
set -euo pipefail
# Tests run in parallel and two of them call this: the second waits here for
# the first (a lock on this script itself, so nothing is left behind), then
# finds Chromium installed. Without it, its apt-get failed on dpkg's lock.
exec 9<"${BASH_SOURCE[0]}"
flock 9
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Anything else using apt (an unattended upgrade) is waited for, up to 10 min.
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null
command -v chromedriver >/dev/null
