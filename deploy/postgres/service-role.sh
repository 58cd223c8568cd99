#!/usr/bin/env bash
# Run once by the postgres image when it initialises its data directory: creates the
# role the service connects as. It owns nothing; `cppcc-api migrate --grant-to cppcc_api`
# (run as the owner) grants it what the service needs.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$API_DB_PASSWORD" <<'SQL'
CREATE ROLE cppcc_api LOGIN PASSWORD :'password';
SQL
