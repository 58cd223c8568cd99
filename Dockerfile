# Build stages: cargo-chef computes the dependency "recipe" from the manifests alone, the
# dependencies are built from it in their own layer, and only then is the source copied
# in; a change to the service's code does not rebuild them. `.ci/build-stage` runs these
# same commands outside Docker, so a broken build stage fails CI without a Docker engine.
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.76
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin cppcc-api
COPY . .
RUN cargo build --release --locked --bin cppcc-api

# Runtime stage: the binary alone on a slim Debian, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 cppcc \
    && mkdir -p /var/lib/cppcc-api && chown cppcc /var/lib/cppcc-api && chmod 700 /var/lib/cppcc-api
COPY --from=build /app/target/release/cppcc-api /usr/local/bin/cppcc-api
USER cppcc
# The service's own files (the audit signing key it makes when none is given): mount a
# volume here, or give AUDIT_SIGNING_KEY.
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json DATA_DIR=/var/lib/cppcc-api
VOLUME /var/lib/cppcc-api
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["cppcc-api"]
CMD ["serve"]
