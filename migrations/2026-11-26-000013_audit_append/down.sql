DROP FUNCTION audit_append(timestamptz, uuid, text, uuid, text, text, text[], text[], text[],
    uuid[], jsonb[], jsonb[], text[]);
