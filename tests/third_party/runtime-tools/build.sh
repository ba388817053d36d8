#!/usr/bin/env bash
# Builds OUTDIR/runtimetest, a static binary (CGO_ENABLED=0), from this
# pruned copy of runtime-tools, offline: modules come from vendor/ only, and
# Go's build cache and GOPATH live under OUTDIR/.go, not in $HOME.
# Needs Go 1.19 or newer (Debian bookworm's golang-go).
set -euo pipefail

out=${1:?usage: build.sh OUTDIR}
src=$(cd "$(dirname "$0")" && pwd)

command -v go >/dev/null 2>&1 || {
  echo "build.sh: no go command: apt-get install golang-go" >&2
  exit 1
}
mkdir -p "$out"
out=$(cd "$out" && pwd)

export GOPATH="$out/.go/path"
export GOCACHE="$out/.go/cache"
export GOMODCACHE="$out/.go/path/pkg/mod"
export GOENV=off GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GONOSUMDB= GOWORK=off
export GO111MODULE=on GOTOOLCHAIN=local GOTELEMETRY=off CGO_ENABLED=0

# Only the linux/amd64 and linux/arm64 files of golang.org/x/sys/unix are kept.
arch=$(go env GOARCH)
case "$arch" in
  amd64 | arm64) ;;
  *)
    echo "build.sh: GOARCH $arch is not in this pruned copy (amd64, arm64)" >&2
    exit 1
    ;;
esac

commit=$(sed -n 's/^Commit: *//p' "$src/README.md")
cd "$src"
go build -buildvcs=false -trimpath \
  -ldflags "-s -w -X main.gitCommit=$commit" \
  -o "$out/runtimetest.tmp.$$" ./cmd/runtimetest
mv -f "$out/runtimetest.tmp.$$" "$out/runtimetest"
echo "$out/runtimetest"
