# The agentstorm image: one static binary on an empty (scratch) base, run
# as a non-root user, with CA certificates for https targets and nothing
# else: no shell, no package manager.
#
#   docker build -t ghcr.io/agentstorm/agentstorm:latest --build-arg VERSION=$(git describe --always) .
#   buildah bud -t ghcr.io/agentstorm/agentstorm:latest .        # the same, daemonless
#
# The builder stage pulls golang from Docker Hub. Where no registry is
# reachable, deploy/build-image.sh makes the same image from a binary built
# by the local Go (buildah, no download): see deploy/README.md.
ARG GO_VERSION=1.26

FROM docker.io/library/golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The image's whole file tree is made here: the binary, the CA bundle, a
# /tmp for run's worker and bundled-target files, and /data (the working
# directory, owned by the runtime user) for --out files.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
        -o /rootfs/usr/local/bin/agentstorm ./cmd/agentstorm \
 && mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/data \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && chmod 1777 /rootfs/tmp \
 && chown 65532:65532 /rootfs/data

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.source=https://github.com/agentstorm/agentstorm \
      org.opencontainers.image.version=${VERSION}
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin
WORKDIR /data
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/agentstorm"]
CMD ["--help"]
