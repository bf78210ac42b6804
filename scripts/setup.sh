#!/usr/bin/env bash
# Makes sure the host has what the local provider needs: bubblewrap.
# Installs it with the system's package manager when this user may (root,
# or sudo without a password); otherwise says exactly what to install.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

if command -v apt-get >/dev/null 2>&1; then
  if as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; then
    echo "setup: installed bubblewrap"; exit 0
  fi
  pkg="sudo apt-get install bubblewrap"
elif command -v dnf >/dev/null 2>&1; then
  as_root dnf install -y bubblewrap && exit 0
  pkg="sudo dnf install bubblewrap"
elif command -v apk >/dev/null 2>&1; then
  as_root apk add bubblewrap && exit 0
  pkg="sudo apk add bubblewrap"
else
  pkg="your distribution's 'bubblewrap' package"
fi

cat >&2 <<MSG
setup: bubblewrap (bwrap) is not installed, and this user cannot install it.
       The local sandbox provider needs it. Install it with:

           $pkg

       Without it, tests that need real sandboxes are skipped (and fail under CI=true).
MSG
exit 0
