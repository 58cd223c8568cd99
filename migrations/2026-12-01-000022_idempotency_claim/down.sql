DROP FUNCTION idempotency_claim(bigint, uuid, text, integer);
