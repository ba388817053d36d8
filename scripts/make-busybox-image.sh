#!/usr/bin/env bash
# Builds a `busybox:latest` image from Debian's busybox-static, without any
# registry: OUT_DIR/busybox-rootfs.tar (for `import`) and
# OUT_DIR/busybox.tar (a docker-archive, for `load`). Deterministic: the
# same busybox binary always gives the same image id.
set -euo pipefail

out=${1:?usage: make-busybox-image.sh OUT_DIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "no static busybox at $busybox: apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

root=$work/rootfs
mkdir -p "$root"/{bin,etc,root,tmp,home/app,var/log,dev,proc,sys}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
GROUP
chown -R 1000:1000 "$root/home/app"

tar --sort=name --mtime=@0 --numeric-owner -C "$root" -cf "$out/busybox-rootfs.tar" .

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
image=$work/image
mkdir -p "$image"
diff_id=$(sha256sum "$out/busybox-rootfs.tar" | cut -d' ' -f1)
mkdir -p "$image/$diff_id"
cp "$out/busybox-rootfs.tar" "$image/$diff_id/layer.tar"
cat > "$work/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"make-busybox-image.sh","comment":"busybox-static from Debian"}]}
JSON
config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
cp "$work/config.json" "$image/$config_id.json"
cat > "$image/manifest.json" <<JSON
[{"Config":"$config_id.json","RepoTags":["busybox:latest"],"Layers":["$diff_id/layer.tar"]}]
JSON
cat > "$image/repositories" <<JSON
{"busybox":{"latest":"$config_id"}}
JSON
tar --sort=name --mtime=@0 --numeric-owner -C "$image" -cf "$out/busybox.tar" \
  manifest.json repositories "$config_id.json" "$diff_id"
echo "sha256:$config_id"
