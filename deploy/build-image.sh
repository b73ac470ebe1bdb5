#!/usr/bin/env bash
# Builds the agentstorm image without pulling anything from a registry: the
# binary is built by the local Go (static, CGO_ENABLED=0) and put on an
# empty (scratch) image with buildah, daemonless. The image is the one the
# Dockerfile makes: /usr/local/bin/agentstorm, the CA bundle, /tmp (1777),
# /data (the working directory, owned by 65532), user 65532:65532, no shell.
#
# Usage: deploy/build-image.sh [IMAGE]   (default ghcr.io/agentstorm/agentstorm:latest,
#                                         the image deploy/k8s runs)
# Environment:
#   VERSION        the version agentstorm reports (default: git describe)
#   ARCHIVE=FILE   also write the image to FILE as a docker-archive
#                  (docker load -i FILE, podman load -i FILE)
#   BUILDAH_FLAGS  global buildah flags, e.g. "--storage-driver vfs"
#   GOARCH         the architecture to build for (default: this machine's)
# Needs: go, buildah (Debian: apt-get install buildah), tar, and
# /etc/ssl/certs/ca-certificates.crt (Debian: ca-certificates).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-ghcr.io/agentstorm/agentstorm:latest}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
certs=/etc/ssl/certs/ca-certificates.crt
read -r -a bflags <<<"${BUILDAH_FLAGS:-}"
bh() { buildah "${bflags[@]}" "$@"; }

command -v buildah >/dev/null || { echo "build-image: buildah is not installed (Debian: apt-get install buildah)" >&2; exit 1; }
[ -r "$certs" ] || { echo "build-image: no CA bundle at $certs (Debian: apt-get install ca-certificates)" >&2; exit 1; }

work=$(mktemp -d)
ctr=""
cleanup() {
	if [ -n "$ctr" ]; then bh rm "$ctr" >/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

root=$work/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$work/data"
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=$version" \
	-o "$root/usr/local/bin/agentstorm" ./cmd/agentstorm
cp "$certs" "$root/etc/ssl/certs/"
chmod 0755 "$root/usr/local/bin/agentstorm"
chmod 0644 "$root/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$root/tmp"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .

ctr=$(bh from scratch)
bh add "$ctr" "$work/rootfs.tar" / >/dev/null
bh copy --chown 65532:65532 "$ctr" "$work/data" /data >/dev/null
bh config --env PATH=/usr/local/bin --workingdir /data --user 65532:65532 \
	--entrypoint '["/usr/local/bin/agentstorm"]' --cmd '["--help"]' \
	--label org.opencontainers.image.source=https://github.com/agentstorm/agentstorm \
	--label org.opencontainers.image.version="$version" "$ctr"
bh commit --rm -q "$ctr" "$image" >/dev/null
ctr=""
if [ -n "${ARCHIVE:-}" ]; then
	bh push -q "$image" "docker-archive:$ARCHIVE:$image"
fi
echo "built $image (agentstorm $version)"
