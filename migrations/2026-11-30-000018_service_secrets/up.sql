-- Secrets of the service itself, made once by the database and shared by every instance
-- serving it, so what they sign survives restarts and crosses instances.
CREATE TABLE service_secrets (
    name text PRIMARY KEY,
    secret bytea NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- 32 bytes from the server's strong random source (each UUID v4 carries 122 random bits).
INSERT INTO service_secrets (name, secret)
VALUES ('cursor', uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
