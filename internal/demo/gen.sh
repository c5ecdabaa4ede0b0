#!/bin/sh
# Rebuild the demo bundle from the shared data folder (HEIR_DATA).
set -eu
cd "$(dirname "$0")/bundle"
DATA="${HEIR_DATA:-../../../../shared/data}"
gzip -9 -n -c ../../../testdata/lab/medlab-dev.pcap > medlab-dev.pcap.gz
tar --sort=name --mtime=2026-01-01 --owner=0 --group=0 -C "$DATA/advisories" -cf - csaf-icsma | gzip -9 -n > csaf-icsma.tar.gz
gzip -9 -n -c "$DATA/kev/known_exploited_vulnerabilities.json" > kev.json.gz
tar --sort=name --mtime=2026-01-01 --owner=0 --group=0 -C "$DATA" -cf - eol | gzip -9 -n > eol.tar.gz
