#!/bin/sh
# Installs Debian's chromium and chromedriver for the browser tests. Needs root (or sudo).
set -e
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
command -v chromium
