# Multi-stage build: a static binary (pure-Go SQLite, no cgo) in a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/portcullis ./cmd/portcullis && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/demo-app ./cmd/demo-app

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portcullis /out/demo-app /usr/local/bin/
COPY configs /etc/portcullis
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
