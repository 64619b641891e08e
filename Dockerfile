# The graine server image: `docker build -t graine .`, or `docker compose up` with docker-compose.yml.

# ---- build ---------------------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /build

# Dependencies first, against placeholder sources, so that this layer is reused until Cargo.toml or
# Cargo.lock change. Cargo.toml declares benches at bench/load.rs and bench/dispatch.rs, so those
# files must exist too.
# .cargo/config.toml sets how jemalloc (the allocator) and SQLite are built: it must be there for the dependencies.
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
RUN mkdir -p src bench \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > bench/load.rs \
    && echo 'fn main() {}' > bench/dispatch.rs \
    && cargo build --release --locked \
    && rm -rf src bench

# The real sources. Both stores' migrations, openapi.yaml and the data files are compiled into the binary
# (build.rs makes cargo watch the migration folders).
COPY build.rs ./
COPY src ./src
COPY data ./data
COPY migrations ./migrations
COPY migrations-sqlite ./migrations-sqlite
COPY openapi.yaml ./
COPY bench ./bench
# COPY keeps the files' modification times, which may be older than the placeholder build above;
# touching the crate roots makes cargo rebuild them instead of keeping the placeholder binary.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/graine /out/graine

# ---- run -----------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# curl serves the HEALTHCHECK below (and compose's); ca-certificates for outbound HTTPS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 graine \
    && useradd --system --uid 10001 --gid graine --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin graine

COPY --from=builder /out/graine /usr/local/bin/graine

# Without DATABASE_URL the server keeps an embedded SQLite database, /data/graine.db: mount a volume
# there to keep it. docker-compose.yml points DATABASE_URL at PostgreSQL instead.
RUN mkdir /data && chown 10001:10001 /data
VOLUME /data
WORKDIR /data

USER 10001:10001
ENV GRAINE_BIND=0.0.0.0:8080
EXPOSE 8080

# Ready = the database answers and migrations are applied. Assumes the port of GRAINE_BIND above.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1

# graine runs as PID 1 and handles SIGTERM itself: it stops taking requests and lets running ones finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["graine"]
CMD ["serve"]
