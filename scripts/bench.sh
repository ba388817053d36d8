#!/usr/bin/env bash
# Benchmarks Berth against a real dockerd on this machine, in one run:
#  1. `run --rm busybox true` with `--network none` and on the default
#     bridge, and `exec true` (hyperfine, median)
#  2. 50 MB written to stdout, read attached and through `logs` (median of N)
#  3. 50 idle containers: RSS of each monitor and of the daemon
#  4. pull of a 200 MB image in 5 gzip layers from a docker-registry on
#     127.0.0.1, removed before each pull (median of N)
#  5. files: `run` with a named volume (hyperfine), `cp` of 100 MB in 100
#     files into a created container and out of it, `commit` of it
#     (median of N)
#  6. remap: daemons of their own with `--userns-remap default` (berthd
#     twice: idmapped layers, and a store of layers shifted when unpacked):
#     `load` of the busybox image (median of N) and `run --rm` (hyperfine)
# Both engines get private sockets and roots under $BENCH_DIR; everything is
# stopped and removed at the end. Results go to stdout as Markdown.
# BENCH_SECTIONS picks sections by name (run output memory pull files remap; all
# by default), e.g. BENCH_SECTIONS=pull bash scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }

RUNS=${RUNS:-20}
BIG_RUNS=${BIG_RUNS:-5}
PULL_RUNS=${PULL_RUNS:-5}
IDLE=${IDLE:-50}
BENCH_SECTIONS=${BENCH_SECTIONS:-run output memory pull files remap}
FILES_RUNS=${FILES_RUNS:-5}
section() { [[ " $BENCH_SECTIONS " == *" $1 "* ]]; }
BENCH_DIR=${BENCH_DIR:-/tmp/berth-bench}

bash scripts/install-deps.sh
cargo build --release --locked -q
bin=$PWD/target/release
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
bash scripts/make-busybox-image.sh "$BENCH_DIR/fixture" >/dev/null

berth_sock=$BENCH_DIR/berth.sock
docker_sock=$BENCH_DIR/docker.sock
berth() { "$bin/berth" -H "unix://$berth_sock" "$@"; }
dock() { DOCKER_HOST="unix://$docker_sock" DOCKER_CONFIG=$BENCH_DIR/docker-config docker "$@"; }

berthd_pid=
dockerd_pid=
registry_pid=
docker_bridge=
remap_pids=
remap_users=
cleanup() {
  set +e
  berth rm -f $(berth ps -aq) >/dev/null 2>&1
  dock rm -f $(dock ps -aq) >/dev/null 2>&1
  [ -n "$berthd_pid" ] && kill "$berthd_pid" && wait "$berthd_pid"
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" && wait "$dockerd_pid"
  for pid in $remap_pids; do kill "$pid" && wait "$pid"; done
  for user in $remap_users; do userdel "$user"; done
  rmdir /sys/fs/cgroup/*/berth-bench-remap* 2>/dev/null
  [ -n "$registry_pid" ] && kill "$registry_pid" && wait "$registry_pid"
  # dockerd leaves the bridge it made; it is ours only if it was not there before.
  [ "$docker_bridge" = made ] && ip link del docker0
  # Both engines' (empty) cgroup parents.
  rmdir /sys/fs/cgroup/*/berth-bench-docker /sys/fs/cgroup/*/berth-bench 2>/dev/null
  grep " $BENCH_DIR" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
  rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

"$bin/berthd" -H "unix://$berth_sock" --data-root "$BENCH_DIR/berth-data" \
  --exec-root "$BENCH_DIR/berth-exec" --cgroup-parent berth-bench --log-level warn \
  --bridge berthbench0 --bip 10.252.255.1/24 2>"$BENCH_DIR/berthd.log" &
berthd_pid=$!
# dockerd's default bridge is docker0 on its own subnet; without iptables, so
# that the host's tables stay untouched (berth's rules live in its own
# nftables table).
if [ -e /sys/class/net/docker0 ]; then
  echo "docker0 exists already: not ours to use" >&2; exit 1
fi
docker_bridge=made
dockerd -H "unix://$docker_sock" --data-root "$BENCH_DIR/docker-data" \
  --exec-root "$BENCH_DIR/docker-exec" --pidfile "$BENCH_DIR/docker.pid" \
  --bip 10.253.255.1/24 --iptables=false --ip-masq=false --log-level warn \
  --cgroup-parent=/berth-bench-docker \
  >"$BENCH_DIR/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 300); do
  berth version >/dev/null 2>&1 && dock version >/dev/null 2>&1 && break
  sleep 0.1
done
berth load -i "$BENCH_DIR/fixture/busybox.tar" >/dev/null
dock load -i "$BENCH_DIR/fixture/busybox.tar" >/dev/null
# An image with a 50 MB text file (500,000 lines of 100 bytes), so the
# output benchmark measures the engine's path, not a generator's.
if section output; then
mkdir -p "$BENCH_DIR/bigroot"
tar -C "$BENCH_DIR/bigroot" -xf "$BENCH_DIR/fixture/busybox-rootfs.tar"
head -c 50000000 < <(yes "$(printf 'x%.0s' $(seq 99))") >"$BENCH_DIR/bigroot/big.txt"
tar -C "$BENCH_DIR/bigroot" -cf "$BENCH_DIR/big.tar" .
berth import "$BENCH_DIR/big.tar" bench:big >/dev/null
dock import "$BENCH_DIR/big.tar" bench:big >/dev/null
rm -rf "$BENCH_DIR/bigroot" "$BENCH_DIR/big.tar"
fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%g\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s*1000}'; }

echo "## Results ($(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $(docker --version | cut -d, -f1) CLI, dockerd $(dockerd --version | awk '{print $3}' | tr -d ,))"
echo

echo "| benchmark | berth | docker | berth / docker |"
echo "| --- | --- | --- | --- |"

# 1. run --rm true
if section run; then
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$BENCH_DIR/run.json" \
  "$bin/berth -H unix://$berth_sock run --rm --network none busybox true" \
  "env DOCKER_HOST=unix://$docker_sock DOCKER_CONFIG=$BENCH_DIR/docker-config docker run --rm --network none busybox true" \
  >/dev/null
read -r berth_run docker_run < <(python3 -c "
import json,sys
r=json.load(open('$BENCH_DIR/run.json'))['results']
print(r[0]['median'], r[1]['median'])")
echo "| \`run --rm --network none busybox true\` (median of $RUNS) | $(ms "$berth_run") ms | $(ms "$docker_run") ms | $(ratio "$berth_run" "$docker_run") |"

# 1a. run --rm true on the default bridge
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$BENCH_DIR/bridge.json" \
  "$bin/berth -H unix://$berth_sock run --rm busybox true" \
  "env DOCKER_HOST=unix://$docker_sock DOCKER_CONFIG=$BENCH_DIR/docker-config docker run --rm busybox true" \
  >/dev/null
read -r berth_bridge docker_bridge_run < <(python3 -c "
import json
r=json.load(open('$BENCH_DIR/bridge.json'))['results']
print(r[0]['median'], r[1]['median'])")
echo "| \`run --rm busybox true\` on the default bridge (median of $RUNS) | $(ms "$berth_bridge") ms | $(ms "$docker_bridge_run") ms | $(ratio "$berth_bridge" "$docker_bridge_run") |"
echo "| network setup: default bridge minus \`--network none\` | $(ms "$(awk -v a="$berth_bridge" -v b="$berth_run" 'BEGIN {print a-b}')") ms | $(ms "$(awk -v a="$docker_bridge_run" -v b="$docker_run" 'BEGIN {print a-b}')") ms | |"

# 1b. exec into a running container
berth run -d --name execbox --network none busybox sleep 3600 >/dev/null
dock run -d --name execbox --network none busybox sleep 3600 >/dev/null
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$BENCH_DIR/exec.json" \
  "$bin/berth -H unix://$berth_sock exec execbox true" \
  "env DOCKER_HOST=unix://$docker_sock DOCKER_CONFIG=$BENCH_DIR/docker-config docker exec execbox true" \
  >/dev/null
read -r berth_exec docker_exec < <(python3 -c "
import json
r=json.load(open('$BENCH_DIR/exec.json'))['results']
print(r[0]['median'], r[1]['median'])")
echo "| \`exec CONTAINER true\` (median of $RUNS) | $(ms "$berth_exec") ms | $(ms "$docker_exec") ms | $(ratio "$berth_exec" "$docker_exec") |"
berth rm -f execbox >/dev/null
dock rm -f execbox >/dev/null
fi

# 2. 50 MB of output (cat of the file above): attached, then through logs
time_of() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}'; }
if section output; then
for engine in berth dock; do
  : >"$BENCH_DIR/$engine.attach"; : >"$BENCH_DIR/$engine.logs"
  for i in $(seq "$BIG_RUNS"); do
    time_of $engine run --name "big$i" bench:big cat /big.txt >>"$BENCH_DIR/$engine.attach"
    bytes=$($engine logs "big$i" | wc -c)
    [ "$bytes" -eq 50000000 ] || { echo "$engine logs returned $bytes bytes" >&2; exit 1; }
    time_of $engine logs "big$i" >>"$BENCH_DIR/$engine.logs"
    $engine rm "big$i" >/dev/null
  done
done
ba=$(median <"$BENCH_DIR/berth.attach"); da=$(median <"$BENCH_DIR/dock.attach")
bl=$(median <"$BENCH_DIR/berth.logs"); dl=$(median <"$BENCH_DIR/dock.logs")
echo "| 50 MB to stdout, read attached (\`run\`, median of $BIG_RUNS) | $(ms "$ba") ms | $(ms "$da") ms | $(ratio "$ba" "$da") |"
echo "| 50 MB read back with \`logs\` (median of $BIG_RUNS) | $(ms "$bl") ms | $(ms "$dl") ms | $(ratio "$bl" "$dl") |"
fi

# 3. idle containers: memory
if section memory; then
for i in $(seq "$IDLE"); do berth run -d --network none busybox sleep 3600 >/dev/null; done
for i in $(seq "$IDLE"); do dock run -d --network none busybox sleep 3600 >/dev/null; done
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
shim_rss=$(for p in $(pgrep -x berth-shim); do rss_kb "$p"; done | median)
shim_max=$(for p in $(pgrep -x berth-shim); do rss_kb "$p"; done | sort -n | tail -1)
dshim_rss=$(for p in $(pgrep -f containerd-shim); do rss_kb "$p"; done | median)
berthd_rss=$(rss_kb "$berthd_pid")
dockerd_rss=$(rss_kb "$dockerd_pid")
containerd_rss=$(for p in $(pgrep -x containerd); do rss_kb "$p"; done | awk '{s+=$1} END {print s+0}')
echo "| monitor RSS per idle container ($IDLE running; median, max) | $shim_rss kB, $shim_max kB | $dshim_rss kB (containerd-shim) | $(ratio "$shim_rss" "$dshim_rss") |"
echo "| daemon RSS with $IDLE running | $berthd_rss kB | $dockerd_rss kB dockerd + $containerd_rss kB containerd | $(ratio "$berthd_rss" "$((dockerd_rss + containerd_rss))") |"
fi

# 4. pull: an image of busybox plus five layers of 40 MB (base64 of random
# bytes: gzip takes them to ~75%), built and pushed by dockerd to a private
# docker-registry; each engine removes it and pulls it again (busybox, the
# base layer, stays: "Already exists" for both). The engines take turns, so
# that load from elsewhere falls on both alike.
if section pull; then
registry_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$BENCH_DIR/registry" "$BENCH_DIR/pullctx"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$BENCH_DIR/registry/data" "$registry_port" >"$BENCH_DIR/registry/config.yml"
docker-registry serve "$BENCH_DIR/registry/config.yml" >"$BENCH_DIR/registry/log" 2>&1 &
registry_pid=$!
for l in 1 2 3 4 5; do
  mkdir "$BENCH_DIR/pullctx/l$l"
  for f in $(seq 40); do head -c 786432 /dev/urandom | base64 -w 100 >"$BENCH_DIR/pullctx/l$l/f$f"; done
  echo "COPY l$l /l$l" >>"$BENCH_DIR/pullctx/steps"
done
{ echo "FROM busybox"; cat "$BENCH_DIR/pullctx/steps"; } >"$BENCH_DIR/pullctx/Dockerfile"
rm "$BENCH_DIR/pullctx/steps"
pull_image=127.0.0.1:$registry_port/bench/pull:1
DOCKER_BUILDKIT=0 dock build -q -t "$pull_image" "$BENCH_DIR/pullctx" >/dev/null 2>&1
dock push "$pull_image" >/dev/null
dock rmi "$pull_image" >/dev/null
rm -rf "$BENCH_DIR/pullctx"
: >"$BENCH_DIR/berth.pull"; : >"$BENCH_DIR/dock.pull"
for i in $(seq "$PULL_RUNS"); do
  for engine in berth dock; do
    time_of $engine pull "$pull_image" >>"$BENCH_DIR/$engine.pull"
    $engine rmi "$pull_image" >/dev/null
  done
done
bp=$(median <"$BENCH_DIR/berth.pull"); dp=$(median <"$BENCH_DIR/dock.pull")
echo "| pull of 200 MB in 5 gzip layers from a registry on 127.0.0.1 (median of $PULL_RUNS) | $(ms "$bp") ms | $(ms "$dp") ms | $(ratio "$bp" "$dp") |"
fi

# 5. files: a named volume's cost at run; 100 MB in 100 files of random
# bytes copied into a created container and back out; that container
# committed. The engines take turns.
if section files; then
berth volume create benchvol >/dev/null
dock volume create benchvol >/dev/null
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$BENCH_DIR/volume.json" \
  "$bin/berth -H unix://$berth_sock run --rm --network none -v benchvol:/data busybox true" \
  "env DOCKER_HOST=unix://$docker_sock DOCKER_CONFIG=$BENCH_DIR/docker-config docker run --rm --network none -v benchvol:/data busybox true" \
  >/dev/null
read -r berth_vol docker_vol < <(python3 -c "
import json
r=json.load(open('$BENCH_DIR/volume.json'))['results']
print(r[0]['median'], r[1]['median'])")
echo "| \`run --rm --network none -v benchvol:/data busybox true\` (median of $RUNS) | $(ms "$berth_vol") ms | $(ms "$docker_vol") ms | $(ratio "$berth_vol" "$docker_vol") |"
mkdir -p "$BENCH_DIR/cpsrc"
for f in $(seq 100); do head -c 1048576 /dev/urandom >"$BENCH_DIR/cpsrc/f$f"; done
for engine in berth dock; do : >"$BENCH_DIR/$engine.cpin"; : >"$BENCH_DIR/$engine.cpout"; : >"$BENCH_DIR/$engine.commit"; done
for i in $(seq "$FILES_RUNS"); do
  for engine in berth dock; do
    $engine create --name "cp$i" --network none busybox true >/dev/null
    time_of $engine cp "$BENCH_DIR/cpsrc" "cp$i:/data" >>"$BENCH_DIR/$engine.cpin"
    time_of $engine cp "cp$i:/data" "$BENCH_DIR/cpout" >>"$BENCH_DIR/$engine.cpout"
    [ "$(du -sb "$BENCH_DIR/cpout" | cut -f1)" -ge 104857600 ] || { echo "$engine cp out is short" >&2; exit 1; }
    rm -rf "$BENCH_DIR/cpout"
    time_of $engine commit "cp$i" "bench:commit$i" >>"$BENCH_DIR/$engine.commit"
    $engine rm "cp$i" >/dev/null
    $engine rmi "bench:commit$i" >/dev/null
  done
done
rm -rf "$BENCH_DIR/cpsrc"
for what in cpin:"\`cp\` of 100 MB in 100 files into a created container" cpout:"\`cp\` of the same out of it" commit:"\`commit\` of that container (a 100 MB layer)"; do
  b=$(median <"$BENCH_DIR/berth.${what%%:*}"); d=$(median <"$BENCH_DIR/dock.${what%%:*}")
  echo "| ${what#*:} (median of $FILES_RUNS) | $(ms "$b") ms | $(ms "$d") ms | $(ratio "$b" "$d") |"
done
berth volume rm benchvol >/dev/null
dock volume rm benchvol >/dev/null
fi

# 6. --userns-remap: a daemon of each kind of its own; berthd twice, on a
# new store (idmapped layers where the kernel allows them) and on a store
# that records shifted layers. The daemons take turns.
if section remap; then
for user in berthremap dockremap; do
  id "$user" >/dev/null 2>&1 || remap_users="$remap_users $user"
done
"$bin/berthd" -H "unix://$BENCH_DIR/remap-idmap.sock" --data-root "$BENCH_DIR/remap-idmap" \
  --exec-root "$BENCH_DIR/remap-idmap-exec" --cgroup-parent berth-bench-remap1 --log-level warn \
  --bridge berthbench1 --bip 10.252.254.1/24 --userns-remap default 2>"$BENCH_DIR/remap-idmap.log" &
remap_pids="$remap_pids $!"
for _ in $(seq 100); do id berthremap >/dev/null 2>&1 && [ -S "$BENCH_DIR/remap-idmap.sock" ] && break; sleep 0.1; done
root_pair="$(awk -F: '$1 == "berthremap" {print $2; exit}' /etc/subuid).$(awk -F: '$1 == "berthremap" {print $2; exit}' /etc/subgid)"
mkdir -p "$BENCH_DIR/remap-shifted/$root_pair/image"
echo shifted >"$BENCH_DIR/remap-shifted/$root_pair/image/layer-owners"
"$bin/berthd" -H "unix://$BENCH_DIR/remap-shifted.sock" --data-root "$BENCH_DIR/remap-shifted" \
  --exec-root "$BENCH_DIR/remap-shifted-exec" --cgroup-parent berth-bench-remap2 --log-level warn \
  --bridge berthbench2 --bip 10.252.253.1/24 --userns-remap default 2>"$BENCH_DIR/remap-shifted.log" &
remap_pids="$remap_pids $!"
dockerd -H "unix://$BENCH_DIR/remap-docker.sock" --data-root "$BENCH_DIR/remap-docker" \
  --exec-root "$BENCH_DIR/remap-docker-exec" --pidfile "$BENCH_DIR/remap-docker.pid" \
  --bridge none --iptables=false --ip-masq=false --log-level warn \
  --cgroup-parent=/berth-bench-remap-docker --userns-remap default \
  >"$BENCH_DIR/remap-dockerd.log" 2>&1 &
remap_pids="$remap_pids $!"
remap_idmap="$bin/berth -H unix://$BENCH_DIR/remap-idmap.sock"
remap_shifted="$bin/berth -H unix://$BENCH_DIR/remap-shifted.sock"
remap_docker="env DOCKER_HOST=unix://$BENCH_DIR/remap-docker.sock DOCKER_CONFIG=$BENCH_DIR/docker-config docker"
for _ in $(seq 300); do
  $remap_idmap version >/dev/null 2>&1 && $remap_shifted version >/dev/null 2>&1 \
    && $remap_docker version >/dev/null 2>&1 && break
  sleep 0.1
done
[ "$(cat "$BENCH_DIR/remap-idmap/$root_pair/image/layer-owners")" = idmapped ] || echo "berthd: no idmapped layers here" >&2
: >"$BENCH_DIR/idmap.load"; : >"$BENCH_DIR/shifted.load"; : >"$BENCH_DIR/docker.load"
for i in $(seq "$FILES_RUNS"); do
  for engine in idmap shifted docker; do
    cli="remap_$engine"
    time_of ${!cli} load -i "$BENCH_DIR/fixture/busybox.tar" >>"$BENCH_DIR/$engine.load"
    ${!cli} rmi busybox:latest >/dev/null
  done
done
for engine in idmap shifted docker; do
  cli="remap_$engine"
  ${!cli} load -i "$BENCH_DIR/fixture/busybox.tar" >/dev/null
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$BENCH_DIR/remap.json" \
  "$remap_idmap run --rm --network none busybox true" \
  "$remap_shifted run --rm --network none busybox true" \
  "$remap_docker run --rm --network none busybox true" \
  >/dev/null
read -r run_idmap run_shifted run_docker < <(python3 -c "
import json
r=json.load(open('$BENCH_DIR/remap.json'))['results']
print(r[0]['median'], r[1]['median'], r[2]['median'])")
li=$(median <"$BENCH_DIR/idmap.load"); ls_=$(median <"$BENCH_DIR/shifted.load"); ld=$(median <"$BENCH_DIR/docker.load")
echo "| remapped: \`load\` of busybox, idmapped layers (median of $FILES_RUNS) | $(ms "$li") ms | $(ms "$ld") ms | $(ratio "$li" "$ld") |"
echo "| remapped: \`load\` of busybox, shifted layers (median of $FILES_RUNS) | $(ms "$ls_") ms | $(ms "$ld") ms | $(ratio "$ls_" "$ld") |"
echo "| remapped: \`run --rm --network none busybox true\`, idmapped layers (median of $RUNS) | $(ms "$run_idmap") ms | $(ms "$run_docker") ms | $(ratio "$run_idmap" "$run_docker") |"
echo "| remapped: \`run --rm --network none busybox true\`, shifted layers (median of $RUNS) | $(ms "$run_shifted") ms | $(ms "$run_docker") ms | $(ratio "$run_shifted" "$run_docker") |"
fi
