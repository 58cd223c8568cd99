//! API key tokens: 256 random bits, shown once, kept only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

const PREFIX: &str = "cppcc_";

/// A new token and its hash.
pub fn generate() -> Result<(String, Vec<u8>), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    Ok((token, hash))
}

/// The stored form of a token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether a presented token has the shape of ours (so garbage is refused before any
/// lookup).
pub fn well_formed(token: &str) -> bool {
    token
        .strip_prefix(PREFIX)
        .is_some_and(|rest| rest.len() == 43 && URL_SAFE_NO_PAD.decode(rest).is_ok())
}

/// Whether `text` holds a token anywhere (a URL that carries one leaks it to logs).
pub fn contained_in(text: &str) -> bool {
    text.match_indices(PREFIX).any(|(at, _)| {
        let rest = &text.as_bytes()[at + PREFIX.len()..];
        rest.len() >= 43
            && rest[..43]
                .iter()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'))
    })
}

/// Compares two hashes in constant time.
pub fn same_hash(a: &[u8], b: &[u8]) -> bool {
    constant_time_eq::constant_time_eq(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let (a, hash_a) = generate().unwrap();
        let (b, _) = generate().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert!(!well_formed("cppcc_short"));
        assert!(!well_formed("Bearer nonsense"));
        assert_eq!(hash_a, hash(&a));
        assert!(same_hash(&hash_a, &hash(&a)));
        assert!(!same_hash(&hash_a, &hash(&b)));
    }
}
