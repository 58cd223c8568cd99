//! Signed checkpoints of the audit trail: the chain's head (its seq and hash) signed with
//! an Ed25519 key that lives outside the database. Whoever can rewrite the database can
//! recompute every hash after an edit, but cannot sign the new head; a checkpoint whose
//! hash the chain no longer has at its seq gives the rewrite away.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::domain::audit::{hex, timestamp};

/// What a checkpoint states, in the order it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// 1, 2, 3, … without gaps: a removed checkpoint leaves a gap.
    pub number: i64,
    /// The last event the checkpoint covers.
    pub seq: i64,
    /// That event's hash.
    pub hash: &'a str,
    pub signed_at: DateTime<Utc>,
    pub key_id: &'a str,
}

impl Statement<'_> {
    /// The bytes signed: six lines of text (UTF-8, `\n` between lines, none after).
    pub fn signed_text(&self) -> String {
        format!(
            "cppcc-api audit checkpoint v1\nnumber: {}\nseq: {}\nhash: {}\nsigned_at: {}\nkey_id: {}",
            self.number,
            self.seq,
            self.hash,
            timestamp(self.signed_at),
            self.key_id
        )
    }
}

/// A public key's id: `ed25519:` and the first 16 hex digits of SHA-256 over its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("ed25519:{}", &hex(&digest)[..16])
}

/// The signing key of this service, with its id.
pub struct Signer {
    key: SigningKey,
    id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        formatter
            .debug_struct("Signer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(key: SigningKey) -> Self {
        let id = key_id(&key.verifying_key());
        Self { key, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The statement's signature, 128 lowercase hex digits.
    pub fn sign(&self, statement: &Statement<'_>) -> String {
        hex(&self.key.sign(statement.signed_text().as_bytes()).to_bytes())
    }
}

/// Whether `signature` (hex) is `key`'s signature of the statement (strict RFC 8032
/// verification: no malleable or small-order encodings).
pub fn verifies(key: &VerifyingKey, statement: &Statement<'_>, signature: &str) -> bool {
    let Some(bytes) = unhex::<64>(signature) else {
        return false;
    };
    key.verify_strict(
        statement.signed_text().as_bytes(),
        &Signature::from_bytes(&bytes),
    )
    .is_ok()
}

/// A public key in the form the service publishes: standard base64 of its 32 bytes.
pub fn public_key_text(key: &VerifyingKey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

/// A public key from its published form.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0; N];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(key_id: &str) -> Statement<'_> {
        Statement {
            number: 3,
            seq: 20_000,
            hash: "ab",
            signed_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.120Z")
                .unwrap()
                .with_timezone(&Utc),
            key_id,
        }
    }

    #[test]
    fn the_signed_text_is_six_lines_with_microseconds() {
        assert_eq!(
            statement("ed25519:0011").signed_text(),
            "cppcc-api audit checkpoint v1\nnumber: 3\nseq: 20000\nhash: ab\n\
             signed_at: 2026-01-02T03:04:05.120000Z\nkey_id: ed25519:0011"
        );
    }

    #[test]
    fn a_signature_verifies_under_its_key_only_and_for_its_statement_only() {
        let signer = Signer::new(SigningKey::from_bytes(&[7; 32]));
        let other = Signer::new(SigningKey::from_bytes(&[8; 32]));
        let id = signer.id().to_owned();
        let signature = signer.sign(&statement(&id));
        assert_eq!(signature.len(), 128);
        assert!(verifies(&signer.public_key(), &statement(&id), &signature));
        assert!(!verifies(&other.public_key(), &statement(&id), &signature));
        let mut moved = statement(&id);
        moved.seq += 1;
        assert!(!verifies(&signer.public_key(), &moved, &signature));
        assert!(!verifies(&signer.public_key(), &statement(&id), "00"));
        assert!(!verifies(
            &signer.public_key(),
            &statement(&id),
            &"zz".repeat(64)
        ));
    }

    #[test]
    fn a_public_key_reads_back_from_its_published_form() {
        let key = Signer::new(SigningKey::from_bytes(&[9; 32])).public_key();
        let text = public_key_text(&key);
        assert_eq!(parse_public_key(&text), Some(key));
        assert_eq!(parse_public_key("not base64"), None);
        assert_eq!(parse_public_key("AAAA"), None);
        assert!(key_id(&key).starts_with("ed25519:"));
        assert_eq!(key_id(&key).len(), "ed25519:".len() + 16);
    }
}
