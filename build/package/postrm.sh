#!/bin/sh
# Remove certsight.ext from osqueryd's autoload list when the package goes.
set -e
EXT=/usr/lib/certsight/certsight.ext
# DPKG_ROOT is set when dpkg installs into another root (--root, chrootless scripts).
LOAD="${DPKG_ROOT:-}/etc/osquery/extensions.load"
case "$1" in
	remove|purge|0)
		if [ -f "$LOAD" ]; then
			grep -vxF "$EXT" "$LOAD" > "$LOAD.tmp" || true
			mv "$LOAD.tmp" "$LOAD"
		fi
		;;
esac
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && [ -z "${DPKG_ROOT:-}" ]; then
	systemctl daemon-reload || true
fi
exit 0
