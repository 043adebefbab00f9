#!/bin/sh
# Register certsight.ext with osqueryd's autoload list, once.
set -e
EXT=/usr/lib/certsight/certsight.ext
# DPKG_ROOT is set when dpkg installs into another root (--root, chrootless scripts).
LOAD="${DPKG_ROOT:-}/etc/osquery/extensions.load"
mkdir -p "${DPKG_ROOT:-}/etc/osquery"
touch "$LOAD"
grep -qxF "$EXT" "$LOAD" || echo "$EXT" >> "$LOAD"
chown root:root "$LOAD" 2>/dev/null || true
chmod 0644 "$LOAD"
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && [ -z "${DPKG_ROOT:-}" ]; then
	systemctl daemon-reload || true
fi
exit 0
