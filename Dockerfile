# Multi-stage build: a static binary (pure-Go SQLite, no cgo) in a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/portcullis ./cmd/portcullis && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/demo-app ./cmd/demo-app && \
    mkdir -p /out/bootstrap

# The one-shot bootstrap of docker-compose.yml: the same binaries plus busybox (the distroless debug
# image) to run deploy/compose-bootstrap.sh. Its /bootstrap folder, owned by nonroot, seeds the volume
# that hands the demo client to the demo app.
FROM gcr.io/distroless/static-debian12:debug-nonroot AS bootstrap
COPY --from=build /out/portcullis /out/demo-app /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/bootstrap /bootstrap
COPY deploy/compose-bootstrap.sh /usr/local/bin/compose-bootstrap
USER nonroot
ENTRYPOINT ["/busybox/sh", "/usr/local/bin/compose-bootstrap"]

# The server (the default target).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portcullis /out/demo-app /usr/local/bin/
COPY configs /etc/portcullis
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
