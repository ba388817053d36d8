#!/usr/bin/env bash
# One command from a fresh machine to a running container: installs what is
# needed, builds Berth, starts berthd on the default socket, makes a busybox
# image from Debian's busybox-static and runs a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "berthd needs root" >&2; exit 1; }
bash scripts/install-deps.sh
cargo build --release --locked
bin=$PWD/target/release
socket=/run/berth/berth.sock

if ! "$bin/berth" -H "unix://$socket" version >/dev/null 2>&1; then
  mkdir -p /run/berth /var/log
  setsid "$bin/berthd" --pidfile /run/berth/berthd.pid </dev/null >>/var/log/berthd.log 2>&1 &
  for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
  echo "berthd started (pid $(cat /run/berth/berthd.pid)), log in /var/log/berthd.log"
fi

bash scripts/make-busybox-image.sh target/fixtures >/dev/null
"$bin/berth" load -i target/fixtures/busybox.tar
"$bin/berth" run --rm busybox echo "hello from a berth container"
