//! The audit trail's chain: each event's hash covers the previous hash and the event in a
//! canonical form, so an edited, inserted or deleted event breaks the chain from there on.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an event that its hash covers.
#[derive(Debug, Clone, PartialEq)]
pub struct EventContent<'a> {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// The person who acted, when a person did: the account's id, display name, what it
    /// acts for and how it authenticated. An event without one has no such key.
    pub actor_account: Option<&'a Value>,
    pub actor_key_id: Option<String>,
    pub actor_role: Option<&'a str>,
    pub actor_district_id: Option<String>,
    pub request_id: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub district_id: Option<String>,
    pub before: Option<&'a Value>,
    pub after: Option<&'a Value>,
}

/// Timestamps as stored: UTC, microseconds.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl EventContent<'_> {
    /// The event as one line of JSON with its keys sorted at every depth.
    pub fn canonical(&self) -> String {
        format!("{}{}}}", self.canonical_prefix(), self.seq)
    }

    /// The canonical form up to the value of `seq`, the key that sorts last: the whole
    /// form is this, the seq, and `}`. The database completes it when it gives the event
    /// its place in the chain.
    pub fn canonical_prefix(&self) -> String {
        // The keys in their sorted order, written straight out: this runs for every
        // write and for every event `verify` checks.
        let mut out = Vec::with_capacity(1024);
        let text = |out: &mut Vec<u8>, key: &str, value: Option<&str>| {
            out.extend_from_slice(key.as_bytes());
            match value {
                Some(value) => write_json(out, value),
                None => out.extend_from_slice(b"null"),
            }
        };
        let record = |out: &mut Vec<u8>, key: &str, value: Option<&Value>| {
            out.extend_from_slice(key.as_bytes());
            match value {
                Some(value) => write_canonical(value, out),
                None => out.extend_from_slice(b"null"),
            }
        };
        text(&mut out, "{\"action\":", Some(self.action));
        if let Some(account) = self.actor_account {
            record(&mut out, ",\"actor_account\":", Some(account));
        }
        text(
            &mut out,
            ",\"actor_district_id\":",
            self.actor_district_id.as_deref(),
        );
        text(&mut out, ",\"actor_key_id\":", self.actor_key_id.as_deref());
        text(&mut out, ",\"actor_role\":", self.actor_role);
        record(&mut out, ",\"after\":", self.after);
        record(&mut out, ",\"before\":", self.before);
        text(&mut out, ",\"district_id\":", self.district_id.as_deref());
        text(&mut out, ",\"entity_id\":", Some(self.entity_id));
        text(&mut out, ",\"entity_type\":", Some(self.entity_type));
        text(&mut out, ",\"idempotency_key\":", self.idempotency_key);
        text(
            &mut out,
            ",\"occurred_at\":",
            Some(&timestamp(self.occurred_at)),
        );
        text(&mut out, ",\"request_id\":", self.request_id);
        out.extend_from_slice(b",\"seq\":");
        String::from_utf8(out).expect("JSON written from strings is UTF-8")
    }

    /// The event as a JSON value without `seq`: the reference the direct writer above is
    /// tested against.
    #[cfg(test)]
    fn without_seq(&self) -> Value {
        let text = |value: Option<&str>| value.map_or(Value::Null, |v| Value::String(v.to_owned()));
        let owned = |value: &Option<String>| value.clone().map_or(Value::Null, Value::String);
        let mut event = serde_json::json!({
            "occurred_at": timestamp(self.occurred_at),
            "actor_key_id": owned(&self.actor_key_id),
            "actor_role": text(self.actor_role),
            "actor_district_id": owned(&self.actor_district_id),
            "request_id": text(self.request_id),
            "idempotency_key": text(self.idempotency_key),
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "district_id": owned(&self.district_id),
            "before": self.before.cloned().unwrap_or(Value::Null),
            "after": self.after.cloned().unwrap_or(Value::Null),
        });
        if let Some(account) = self.actor_account {
            event["actor_account"] = account.clone();
        }
        event
    }

    /// SHA-256 (hex) over the previous hash, a newline and the canonical event.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut digest = Sha256::new();
        digest.update(prev_hash.as_bytes());
        digest.update(b"\n");
        digest.update(self.canonical().as_bytes());
        hex(&digest.finalize())
    }
}

/// A string as JSON writes it: quoted, `"`, `\\` and control characters escaped, every
/// other character as it is.
fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("writing JSON to memory cannot fail");
}

/// `value` with the keys of every object sorted, without whitespace.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_json(out, key);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_json(out, scalar),
    }
}

/// The fields of a record that hold a person's contact data (a member's `phone` and
/// `email`). The trail's hashes never cover their values: each is replaced in the hashed
/// form by a commitment, and the value lives apart (see [`commit_personal`]).
pub const PERSONAL_FIELDS: [&str; 2] = ["phone", "email"];

/// What a commitment hides: the value and the salt that make its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// `before.phone`, `after.email`, …
    pub field: String,
    pub value: String,
    /// 16 random bytes, hex.
    pub salt: String,
}

/// The commitment to `value` under `salt` (hex): SHA-256 (hex) over the salt's 16 bytes
/// and the value's UTF-8 bytes.
pub fn commitment(salt: &[u8; 16], value: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(salt);
    digest.update(value.as_bytes());
    hex(&digest.finalize())
}

/// The form a commitment takes in a record: `{"commitment": "<64 hex digits>"}`.
pub fn is_commitment(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.len() == 1 && object.contains_key("commitment"))
}

/// Replaces every personal field of `record` (one side of an event: `before` or `after`)
/// that holds a value by its commitment under a fresh salt from `salt`, and returns what
/// opens each commitment.
pub fn commit_personal(
    record: &mut Value,
    side: &str,
    mut salt: impl FnMut() -> [u8; 16],
) -> Vec<Opening> {
    let Value::Object(fields) = record else {
        return Vec::new();
    };
    let mut openings = Vec::new();
    for name in PERSONAL_FIELDS {
        let Some(Value::String(value)) = fields.get(name) else {
            continue;
        };
        let value = value.clone();
        let salt = salt();
        fields.insert(
            name.to_owned(),
            serde_json::json!({ "commitment": commitment(&salt, &value) }),
        );
        openings.push(Opening {
            field: format!("{side}.{name}"),
            value,
            salt: hex(&salt),
        });
    }
    openings
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event<'a>(after: &'a Value) -> EventContent<'a> {
        EventContent {
            seq: 1,
            occurred_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            actor_account: None,
            actor_key_id: None,
            actor_role: Some("admin"),
            actor_district_id: None,
            request_id: Some("r1"),
            idempotency_key: None,
            action: "create",
            entity_type: "district",
            entity_id: "x",
            district_id: None,
            before: None,
            after: Some(after),
        }
    }

    #[test]
    fn the_canonical_form_ignores_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "西城"}});
        let b = json!({"a": {"x": "西城", "y": [1, {"c": 3, "d": 2}]}, "b": 1});
        assert_eq!(event(&a).canonical(), event(&b).canonical());
        assert!(event(&a).canonical().starts_with("{\"action\":\"create\""));
    }

    #[test]
    fn the_canonical_form_is_every_field_sorted_with_seq_last() {
        let after = json!({"name": "西城区 \"甲\"\n", "a": [1, 2.5, null, true], "z": {"y": -3}});
        let before = json!({"name": "back\\slash\u{1}", "a": []});
        let mut content = event(&after);
        content.before = Some(&before);
        content.actor_key_id = Some("019ad3f2-6c1e-7a40-9d1b-3e0f5a2b7c11".into());
        content.actor_district_id = Some("019ad3f2-7d30-7c55-a1b2-c3d4e5f60718".into());
        content.district_id = content.actor_district_id.clone();
        content.idempotency_key = Some("key \"1\"\t");
        let mut whole = content.without_seq();
        whole["seq"] = json!(content.seq);
        let mut expected = Vec::new();
        write_canonical(&whole, &mut expected);
        let expected = String::from_utf8(expected).unwrap();
        assert_eq!(content.canonical(), expected);
        assert!(expected.ends_with(",\"seq\":1}"));
        assert_eq!(format!("{}1}}", content.canonical_prefix()), expected);
        assert!(!expected.contains("actor_account"), "no person, no key");

        // A person's event: the account sorts right after the action.
        let account = json!({"id": "019ad3f2-8000-7000-8000-000000000001",
            "display_name": "王芳 \"委员\"", "role": "member",
            "acts_for": {"member_id": "019ad3f2-8000-7000-8000-000000000002"},
            "authenticated_by": "personal_key"});
        content.actor_account = Some(&account);
        let mut whole = content.without_seq();
        whole["seq"] = json!(content.seq);
        let mut expected = Vec::new();
        write_canonical(&whole, &mut expected);
        let expected = String::from_utf8(expected).unwrap();
        assert_eq!(content.canonical(), expected);
        assert!(expected.starts_with("{\"action\":\"create\",\"actor_account\":{\"acts_for\""));
    }

    #[test]
    fn personal_values_are_replaced_by_commitments_that_their_openings_open() {
        let mut record = json!({"name": "张三", "phone": "13800000000", "email": null});
        let mut next = 0_u8;
        let openings = commit_personal(&mut record, "after", || {
            next += 1;
            [next; 16]
        });
        assert_eq!(openings.len(), 1, "a null e-mail has nothing to hide");
        assert_eq!(openings[0].field, "after.phone");
        assert_eq!(openings[0].value, "13800000000");
        assert_eq!(openings[0].salt, "01".repeat(16));
        assert!(is_commitment(&record["phone"]));
        assert_eq!(
            record["phone"]["commitment"],
            commitment(&[1; 16], "13800000000")
        );
        assert_ne!(
            commitment(&[2; 16], "13800000000"),
            commitment(&[1; 16], "13800000000")
        );
        assert_eq!(record["name"], "张三");
        assert!(record["email"].is_null());
        assert!(!record.to_string().contains("13800000000"));
    }

    /// The README's worked example: this text and hash are quoted there.
    #[test]
    fn the_readme_example_hashes_as_the_readme_says() {
        let after = json!({"id": "019ad3f2-7d30-7c55-a1b2-c3d4e5f60718", "code": "xicheng",
            "name": "西城区", "term": 16, "version": 1});
        let content = EventContent {
            seq: 3,
            occurred_at: DateTime::parse_from_rfc3339("2026-11-30T08:15:02.12Z")
                .unwrap()
                .with_timezone(&Utc),
            actor_account: None,
            actor_key_id: Some("019ad3f2-6c1e-7a40-9d1b-3e0f5a2b7c11".into()),
            actor_role: Some("admin"),
            actor_district_id: None,
            request_id: Some("019ad3f2-7d22-7b10-8e5c-1f2a3b4c5d6e"),
            idempotency_key: None,
            action: "create",
            entity_type: "district",
            entity_id: "019ad3f2-7d30-7c55-a1b2-c3d4e5f60718",
            district_id: Some("019ad3f2-7d30-7c55-a1b2-c3d4e5f60718".into()),
            before: None,
            after: Some(&after),
        };
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&content.canonical()),
            "the README quotes the canonical form"
        );
        let hash = content.hash("5d0c6f0e3c1f6b1b8a1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6");
        assert_eq!(
            hash,
            "36acd4ec976495b5b4e1961816045f9628369c6572730e3d61b00c97d81fda1d"
        );
        assert!(readme.contains(&hash));
    }

    #[test]
    fn the_hash_covers_the_previous_hash_and_every_field() {
        let after = json!({"name": "西城区"});
        let base = event(&after);
        let hash = base.hash(GENESIS);
        assert_eq!(hash.len(), 64);
        assert_ne!(base.hash(&hash), hash);
        let changed = json!({"name": "东城区"});
        assert_ne!(event(&changed).hash(GENESIS), hash);
        let mut other = event(&after);
        other.seq = 2;
        assert_ne!(other.hash(GENESIS), hash);
    }
}
