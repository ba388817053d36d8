#!/usr/bin/env bash
# Runs the whole test suite: unit tests of every crate and the end-to-end
# tests, which start real berthd daemons (as root) on private sockets and
# drive them with berth, the docker CLI and docker-py; then the cgroup
# tests again inside a pure cgroup-v2 kernel under qemu (tests/vm/run).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "the tests need root (namespaces, overlay mounts)" >&2; exit 1; }
bash scripts/install-deps.sh
cargo build --workspace --locked
cargo test --workspace --locked
# The pure cgroup-v2 lane: a v2-only kernel under qemu runs the cgroup tests.
bash tests/vm/run
