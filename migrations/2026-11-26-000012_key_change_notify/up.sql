-- Every process keeps verified API keys in memory and forgets them when this channel is
-- notified: whatever changes a key's standing (revoked, expiry, role, district, token),
-- by whichever process or by hand in SQL, notifies it when the change commits.
CREATE FUNCTION notify_api_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('cppcc_api_keys', OLD.id::text);
    ELSE
        PERFORM pg_notify('cppcc_api_keys', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_notify_change
AFTER UPDATE OF revoked_at, expires_at, role, district_id, token_hash OR DELETE
ON api_keys
FOR EACH ROW EXECUTE FUNCTION notify_api_key_change();
