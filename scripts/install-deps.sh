#!/usr/bin/env bash
# Installs what building and testing Berth needs on a Debian machine:
# busybox-static (the test image), docker.io (the reference docker CLI and
# dockerd for benchmarks), hyperfine (benchmarks), nftables (berthd's NAT
# and isolation rules go through `nft`), iproute2 (tests' clean-up),
# docker-registry (a real registry on 127.0.0.1 for pull and push tests),
# openssl and apache2-utils (the TLS registry's certificates and bcrypt
# htpasswd file), skopeo (zstd-recompressed images for the pull tests),
# libseccomp-dev and pkg-config (crates/seccomp links libseccomp),
# docker-compose (Debian's, on its own python3-docker), golang-go (builds
# the OCI runtimetest checker in tests/third_party/runtime-tools), and
# docker-py, pytest and Testcontainers for Python.
set -euo pipefail

missing=()
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
dpkg -s libseccomp-dev >/dev/null 2>&1 || missing+=(libseccomp-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! python3 -c 'import docker, pytest, testcontainers' >/dev/null 2>&1; then
  echo "installing: docker-py, pytest, testcontainers"
  python3 -m pip install -q --root-user-action=ignore docker pytest testcontainers==4.15.0
fi
# The group whose members may use berthd's socket (dockerd's "docker").
getent group berth >/dev/null || groupadd --system berth
