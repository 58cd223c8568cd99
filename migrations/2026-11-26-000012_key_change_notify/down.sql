DROP TRIGGER api_keys_notify_change ON api_keys;
DROP FUNCTION notify_api_key_change();
