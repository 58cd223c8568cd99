//! Cursors handed to clients are signed, so a cursor the service did not issue (made by
//! hand, altered, or issued for another kind of list) is refused before anything in it
//! is believed. A signature is HMAC-SHA-256 over the cursor's kind and its text, with a
//! server secret, cut to 128 bits and written as 22 base64url characters.
//!
//! Several secrets may be trusted at once: the first signs, every one verifies, so a
//! secret is rotated by putting a new one first and dropping the old one once the cursors
//! it signed have aged out.

use std::sync::{Arc, OnceLock, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The length of a signature as written.
pub const TAG_CHARS: usize = 22;
const TAG_BYTES: usize = 16;

/// What a cursor is for: one kind's cursor is no cursor of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A page of the list named (one list's cursor is no cursor of another).
    Page(&'static str),
    /// A page of the audit trail.
    Trail,
    /// A page of the performance ranking.
    Ranking,
    /// A position in the change feed.
    Feed,
}

impl Kind {
    fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::Page(list) => ("page", list),
            Self::Trail => ("trail", ""),
            Self::Ranking => ("ranking", ""),
            Self::Feed => ("feed", ""),
        }
    }
}

static SECRETS: RwLock<Option<Arc<Vec<Vec<u8>>>>> = RwLock::new(None);

/// Trusts `secrets` from now on; the first signs. An empty list is ignored.
pub fn install(secrets: Vec<Vec<u8>>) {
    if secrets.is_empty() {
        return;
    }
    if let Ok(mut installed) = SECRETS.write() {
        *installed = Some(Arc::new(secrets));
    }
}

/// The secrets in use; before any is installed (a unit test), one made for this process.
fn secrets() -> Arc<Vec<Vec<u8>>> {
    static OWN: OnceLock<Arc<Vec<Vec<u8>>>> = OnceLock::new();
    if let Some(installed) = SECRETS.read().ok().and_then(|secrets| secrets.clone()) {
        return installed;
    }
    OWN.get_or_init(|| {
        let mut secret = vec![0; 32];
        getrandom::fill(&mut secret).expect("the system's random source");
        Arc::new(vec![secret])
    })
    .clone()
}

fn mac(secret: &[u8], kind: Kind, text: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    let (kind, list) = kind.label();
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(list.as_bytes());
    mac.update(&[0]);
    mac.update(text.as_bytes());
    mac
}

/// The signature of `text` as a cursor of `kind`.
pub fn tag(kind: Kind, text: &str) -> String {
    let secrets = secrets();
    let tag = mac(&secrets[0], kind, text).finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
}

/// Whether `tag` is the signature of `text` as a cursor of `kind`, by any trusted secret.
pub fn verify(kind: Kind, text: &str, tag: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
        return false;
    };
    tag.len() == TAG_BYTES
        && secrets()
            .iter()
            .any(|secret| mac(secret, kind, text).verify_truncated_left(&tag).is_ok())
}

/// `text` with its signature appended: still only base64url characters if `text` is.
pub fn seal(kind: Kind, text: &str) -> String {
    format!("{text}{}", tag(kind, text))
}

/// The text of a cursor made by [`seal`], if its signature holds.
pub fn open(kind: Kind, cursor: &str) -> Option<&str> {
    let split = cursor.len().checked_sub(TAG_CHARS)?;
    let (text, tag) = (cursor.get(..split)?, cursor.get(split..)?);
    verify(kind, text, tag).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_cursor_opens_only_unaltered_and_as_its_own_kind() {
        let members = Kind::Page("members");
        let sealed = seal(members, "eyJvIjoiY3JlYXRlZCJ9");
        assert_eq!(open(members, &sealed), Some("eyJvIjoiY3JlYXRlZCJ9"));
        assert_eq!(open(Kind::Page("districts"), &sealed), None);
        assert_eq!(open(Kind::Trail, &sealed), None);
        assert_eq!(open(members, "eyJvIjoiY3JlYXRlZCJ9"), None);
        assert_eq!(open(members, ""), None);
        for at in 0..sealed.len() {
            let mut altered = sealed.clone().into_bytes();
            altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert_eq!(open(members, &altered), None, "altered at {at}");
        }
    }
}
