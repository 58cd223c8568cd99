# Build stage: compile the release binary. Dependencies are built in their own layer so a
# change to the service's code does not rebuild them.
FROM rust:1.95-bookworm AS build
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src tests/api && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs tests/api/main.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY migrations migrations
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# Runtime stage: the binary alone on a slim Debian, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
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
ENTRYPOINT ["cppcc-api"]
CMD ["serve"]
