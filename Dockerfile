# syntax=docker/dockerfile:1
# pysup's own image: one static binary in an otherwise empty image, meant to
# be copied into a Python image:
#
#   FROM ghcr.io/pysup/pysup:latest AS pysup
#   FROM python:3.12-slim
#   COPY --from=pysup /pysup /usr/local/bin/pysup
#   ENTRYPOINT ["pysup", "--"]
#
# Build: docker build --build-arg VERSION=$(git describe --tags --always) \
#          --build-arg COMMIT=$(git rev-parse HEAD) -t pysup .
# GO_IMAGE picks the builder (any image with Go >= go.mod's version on PATH).
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
ARG COMMIT=
# Same flags as `make build`: static, no local paths, no symbol tables, no
# HTTP/2 (pysup speaks HTTP/1.1 only; see the Makefile). The
# cache mounts keep modules and compiled packages between builds (BuildKit,
# the default builder of Docker 23+, and podman/buildah support them).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -tags nethttpomithttp2 \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/pysup ./cmd/pysup \
 && /out/pysup version

FROM scratch
COPY --from=build /out/pysup /pysup
ENTRYPOINT ["/pysup"]
CMD ["--help"]
