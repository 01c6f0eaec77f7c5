#!/usr/bin/env bash
# System programs the envs and their tests drive for real: Xvfb + xterm/xcalc (desktop), adb (Android),
# Debian chromium + chromedriver (MiniWoB++, the HTML report check), xdotool, Tk (the desktop tests' target
# window), fonts, and EGL on Mesa's CPU driver for MuJoCo's headless rendering (the robot env).
# Idempotent: installs only what is missing. Needs root (or sudo) and Debian/Ubuntu's apt.
set -euo pipefail
pkgs=(xvfb xterm x11-apps x11-utils xdotool python3-tk adb chromium chromium-driver fonts-dejavu-core
      libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
