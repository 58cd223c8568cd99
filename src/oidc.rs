//! OpenID Connect bearer tokens: a person signs in at an identity provider the service
//! trusts (`OIDC_ISSUERS`), and calls the API with the access token it issued them.
//!
//! A token is accepted only when all of these hold:
//! - its `iss` is one of the configured issuers, exactly;
//! - it is signed with RS256, ES256 or EdDSA (never `none`, never an HMAC), by a key the
//!   issuer publishes in its JWKS, the key's own type and algorithm matching the token's;
//! - its `aud` names the audience configured for that issuer;
//! - it carries `exp` and `sub`; `exp` is not past and `nbf` (when present) not ahead,
//!   each by more than the leeway (`OIDC_LEEWAY_SECS`).
//!
//! Each issuer's discovery document and signing keys are fetched when first needed and
//! kept; they are fetched again when a token names a key that is not known (at most once
//! per `OIDC_JWKS_REFETCH_SECS`, so forged key ids cannot make the service hammer the
//! provider) and when they are older than [`KEYS_MAX_AGE`]. A verified token is
//! remembered by its hash until it expires, so a token is verified once, not on every
//! request; the remembered tokens are forgotten whenever an issuer's keys change.
//!
//! Who the token's person is (the account linked to its issuer and subject) is not
//! decided here: see [`crate::api::auth`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::OidcIssuer;

/// The algorithms a token may be signed with.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// How long an issuer's keys are used before they are fetched again.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);

/// The longest a discovery document or key set may be.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The most verified tokens remembered; past it the memory starts again empty.
const REMEMBERED_TOKENS: usize = 50_000;

/// A person the issuer vouches for: the verified claims that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    /// `exp`, in seconds since the epoch.
    pub expires_at: u64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// The token is not acceptable: it says why (an answer of 401).
    #[error("{0}")]
    Invalid(String),
    /// The issuer's keys could not be fetched, so the token could not be checked (503):
    /// nothing is known against it.
    #[error("{0}")]
    IssuerUnreachable(String),
}

fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::Invalid(why.into())
}

/// The claims read from a verified token (`iss`, `aud`, `exp` and `nbf` are checked by
/// the validation itself).
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

/// A signing key the issuer publishes, with how a token signed by it is validated.
struct SigningKey {
    key: DecodingKey,
    validation: Validation,
}

/// What is known of one issuer's keys.
#[derive(Default)]
struct Keys {
    jwks_uri: Option<String>,
    by_id: HashMap<String, std::sync::Arc<SigningKey>>,
    /// Keys published without an id, usable by a token that names none.
    unnamed: Vec<std::sync::Arc<SigningKey>>,
    /// When the keys were last fetched.
    fetched_at: Option<Instant>,
    /// When a fetch was last tried, whatever its outcome.
    tried_at: Option<Instant>,
}

/// One trusted issuer.
struct Issuer {
    config: OidcIssuer,
    keys: RwLock<Keys>,
    /// Held while the keys are being fetched, so concurrent requests make one fetch.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies the bearer tokens of the configured issuers.
pub struct Verifier {
    issuers: Vec<Issuer>,
    client: Option<reqwest::Client>,
    leeway: u64,
    refetch_interval: Duration,
    remembered: RwLock<HashMap<[u8; 32], Verified>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|issuer| &issuer.config.issuer)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Installs ring's cryptography as the process's for rustls (once; a second call finds it
/// installed). Every HTTPS client of the process needs it, the tests' included.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether a bearer token has the shape of a JWT (three base64url parts, the first two
/// JSON objects: `ey…`), so it is an OpenID Connect token rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return false;
    };
    header.starts_with("ey")
        && claims.starts_with("ey")
        && [header, claims, signature].iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

impl Verifier {
    /// A verifier of `issuers`' tokens, allowing `leeway` on `exp` and `nbf` and fetching
    /// an issuer's keys for an unknown key id at most once per `refetch_interval`.
    pub fn new(
        issuers: &[OidcIssuer],
        leeway: Duration,
        refetch_interval: Duration,
    ) -> Result<Self, reqwest::Error> {
        install_crypto_provider();
        // Built only when some issuer is trusted: a service without one needs no client
        // (nor the system's certificates).
        let client = match issuers.is_empty() {
            true => None,
            false => Some(
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .timeout(Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("cppcc-api/", env!("CARGO_PKG_VERSION")))
                    .build()?,
            ),
        };
        Ok(Self {
            issuers: issuers
                .iter()
                .map(|config| Issuer {
                    config: config.clone(),
                    keys: RwLock::default(),
                    fetching: tokio::sync::Mutex::new(()),
                })
                .collect(),
            client,
            leeway: leeway.as_secs(),
            refetch_interval,
            remembered: RwLock::default(),
        })
    }

    /// Whether any issuer is trusted.
    pub fn is_enabled(&self) -> bool {
        !self.issuers.is_empty()
    }

    /// Fetches every issuer's keys, so the first token does not wait for them; an issuer
    /// that cannot be reached now is tried again when a token needs it.
    pub async fn warm(&self) {
        for issuer in &self.issuers {
            if let Err(error) = self.refresh(issuer, false).await {
                tracing::warn!(issuer = %issuer.config.issuer, %error, "the issuer's keys could not be fetched");
            }
        }
    }

    /// The person `token` vouches for, if it is valid now.
    pub async fn verify(&self, token: &str) -> Result<Verified, Refusal> {
        let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        let remembered = self
            .remembered
            .read()
            .ok()
            .and_then(|tokens| tokens.get(&hash).cloned());
        if let Some(verified) = remembered {
            // The same test of `exp` the validation makes.
            if verified.expires_at >= now.saturating_sub(self.leeway) {
                return Ok(verified);
            }
            return Err(invalid("the token has expired"));
        }
        let verified = self.verify_afresh(token).await?;
        if let Ok(mut tokens) = self.remembered.write() {
            if tokens.len() >= REMEMBERED_TOKENS {
                tokens.clear();
            }
            tokens.insert(hash, verified.clone());
        }
        Ok(verified)
    }

    async fn verify_afresh(&self, token: &str) -> Result<Verified, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            invalid("the token's header cannot be read, or names an algorithm not accepted")
        })?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid(format!(
                "tokens signed with {:?} are not accepted (only RS256, ES256 and EdDSA)",
                header.alg
            )));
        }
        // The issuer decides which keys to verify with; the validation then checks that
        // the signed claims name that issuer exactly.
        #[derive(Deserialize)]
        struct Unverified {
            iss: Option<String>,
        }
        let claimed = jsonwebtoken::dangerous::insecure_decode_claims::<Unverified>(token)
            .map_err(|_| invalid("the token's claims cannot be read"))?
            .iss
            .ok_or_else(|| invalid("the token names no issuer (`iss`)"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|issuer| issuer.config.issuer == claimed)
            .ok_or_else(|| invalid("the token's issuer is not trusted"))?;
        let kid = header.kid.as_deref();
        let key = self.key(issuer, kid, header.alg).await?;
        let decoded = match jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation) {
            // A provider may publish a new key (of another type, even) under an id it used
            // before: the keys are fetched again (within the refetch limit), and the token
            // is tried once more with the key the id names now.
            Err(error)
                if matches!(
                    error.kind(),
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                        | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                ) && self.refresh(issuer, true).await.is_ok() =>
            {
                match find(issuer, kid, header.alg).0 {
                    Some(now) if !std::sync::Arc::ptr_eq(&now, &key) => {
                        jsonwebtoken::decode::<Claims>(token, &now.key, &now.validation)
                    }
                    _ => Err(error),
                }
            }
            decoded => decoded,
        };
        let claims = decoded.map_err(|error| invalid(refusal_of(&error)))?.claims;
        if claims.sub.is_empty() {
            return Err(invalid("the token names no subject (`sub`)"));
        }
        Ok(Verified {
            issuer: issuer.config.issuer.clone(),
            subject: claims.sub,
            expires_at: claims.exp,
        })
    }

    /// The key of `issuer` that signed a token naming `kid` (or none) with `alg`; the keys
    /// are fetched first when they never were, are old, or do not hold `kid` and were not
    /// fetched within the refetch interval.
    async fn key(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<std::sync::Arc<SigningKey>, Refusal> {
        let (found, fresh) = find(issuer, kid, alg);
        if let (Some(key), true) = (&found, fresh) {
            return Ok(key.clone());
        }
        match self.refresh(issuer, found.is_none()).await {
            Ok(()) => {}
            // Keys in hand, though old, still serve while the issuer is unreachable.
            Err(_) if found.is_some() => {}
            Err(error) => return Err(error),
        }
        find(issuer, kid, alg).0.ok_or_else(|| {
            invalid(match kid {
                Some(_) => "the token is signed by a key its issuer does not publish",
                None => "the token names no key (`kid`), and its issuer publishes no single key for its algorithm",
            })
        })
    }

    /// Fetches `issuer`'s keys again, unless another request just did. For a key that was
    /// not found (`for_unknown_key`), or keys never fetched, a fetch is skipped within the
    /// refetch interval of the last try (the keys stand as they are); for old keys, within
    /// a second of it.
    async fn refresh(&self, issuer: &Issuer, for_unknown_key: bool) -> Result<(), Refusal> {
        let _fetching = issuer.fetching.lock().await;
        let (tried_at, fetched) = issuer
            .keys
            .read()
            .map(|keys| (keys.tried_at, keys.fetched_at.is_some()))
            .unwrap_or((None, false));
        let wait = if for_unknown_key || !fetched {
            self.refetch_interval
        } else {
            Duration::from_secs(1)
        };
        if tried_at.is_some_and(|tried| tried.elapsed() < wait) {
            return if fetched {
                Ok(())
            } else {
                Err(Refusal::IssuerUnreachable(
                    "the token's issuer could not be reached to fetch its keys; retry shortly"
                        .into(),
                ))
            };
        }
        if let Ok(mut keys) = issuer.keys.write() {
            keys.tried_at = Some(Instant::now());
        }
        let fetched = self.fetch(issuer).await;
        match fetched {
            Ok((jwks_uri, by_id, unnamed)) => {
                let changed = issuer.keys.write().map_or(true, |mut keys| {
                    let before: Vec<&String> = keys.by_id.keys().collect();
                    let changed = before.len() != by_id.len()
                        || before.iter().any(|kid| !by_id.contains_key(*kid))
                        || keys.unnamed.len() != unnamed.len()
                        || !unnamed.is_empty();
                    *keys = Keys {
                        jwks_uri: Some(jwks_uri),
                        by_id,
                        unnamed,
                        fetched_at: Some(Instant::now()),
                        tried_at: Some(Instant::now()),
                    };
                    changed
                });
                // A key withdrawn takes the tokens it signed with it.
                if changed && let Ok(mut tokens) = self.remembered.write() {
                    tokens.clear();
                }
                Ok(())
            }
            Err(error) => {
                tracing::warn!(issuer = %issuer.config.issuer, %error, "fetching the issuer's keys failed");
                Err(Refusal::IssuerUnreachable(
                    "the token's issuer could not be reached to fetch its keys; retry shortly"
                        .into(),
                ))
            }
        }
    }

    /// The issuer's key set, read through its discovery document.
    #[allow(clippy::type_complexity)]
    async fn fetch(
        &self,
        issuer: &Issuer,
    ) -> Result<
        (
            String,
            HashMap<String, std::sync::Arc<SigningKey>>,
            Vec<std::sync::Arc<SigningKey>>,
        ),
        String,
    > {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        #[derive(Deserialize)]
        struct KeySet {
            keys: Vec<serde_json::Value>,
        }
        let known = issuer
            .keys
            .read()
            .ok()
            .and_then(|keys| keys.jwks_uri.clone());
        let jwks_uri = match known {
            Some(uri) => uri,
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.config.issuer.trim_end_matches('/')
                );
                let discovery: Discovery = self.get_json(&url).await?;
                // OpenID Connect Discovery 1.0 §4.3: the document's issuer is the one asked.
                if discovery.issuer != issuer.config.issuer {
                    return Err(format!(
                        "the discovery document names issuer {:?}, not {:?}",
                        discovery.issuer, issuer.config.issuer
                    ));
                }
                crate::config::provider_url(&discovery.jwks_uri)
                    .map_err(|why| format!("its jwks_uri {why}"))?;
                discovery.jwks_uri
            }
        };
        let set: KeySet = self.get_json(&jwks_uri).await?;
        let mut by_id = HashMap::new();
        let mut unnamed = Vec::new();
        for value in set.keys {
            // A key of a kind this service does not verify with is passed over, not fatal.
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(key) = signing_key(&jwk, &issuer.config, self.leeway) else {
                continue;
            };
            let key = std::sync::Arc::new(key);
            match jwk.common.key_id {
                Some(kid) => {
                    by_id.insert(kid, key);
                }
                None => unnamed.push(key),
            }
        }
        Ok((jwks_uri, by_id, unnamed))
    }

    /// A JSON document of the provider, at most [`MAX_DOCUMENT_BYTES`].
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let client = self.client.as_ref().ok_or("no issuer is trusted")?;
        let mut response = client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: longer than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|error| format!("GET {url}: {error}"))
    }
}

/// The known key of `issuer` for a token naming `kid` with `alg`, and whether the keys
/// are fresh (fetched within [`KEYS_MAX_AGE`]).
fn find(
    issuer: &Issuer,
    kid: Option<&str>,
    alg: Algorithm,
) -> (Option<std::sync::Arc<SigningKey>>, bool) {
    let Ok(keys) = issuer.keys.read() else {
        return (None, false);
    };
    let fresh = keys
        .fetched_at
        .is_some_and(|at| at.elapsed() < KEYS_MAX_AGE);
    let found = match kid {
        Some(kid) => keys.by_id.get(kid).cloned(),
        None => {
            let mut matching = keys
                .unnamed
                .iter()
                .chain(keys.by_id.values())
                .filter(|key| key.validation.algorithms.contains(&alg));
            match (matching.next(), matching.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    };
    (found, fresh)
}

/// How a token signed by `jwk` is checked, if the key is one this service verifies with:
/// a signing key (not one for encryption) whose type fixes its one algorithm (RSA: RS256;
/// P-256: ES256; Ed25519: EdDSA), and whose own `alg`, when given, says the same.
fn signing_key(jwk: &Jwk, issuer: &OidcIssuer, leeway: u64) -> Option<SigningKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let (algorithm, named) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(params) if params.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => {
            (Algorithm::EdDSA, KeyAlgorithm::EdDSA)
        }
        _ => return None,
    };
    if jwk.common.key_algorithm.is_some_and(|alg| alg != named) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&issuer.issuer]);
    validation.set_audience(&[&issuer.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = leeway;
    Some(SigningKey { key, validation })
}

/// Why the validation refused a token, in words for the caller.
fn refusal_of(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidAudience => "the token is not meant for this service (`aud`)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key's".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}`"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's `{claim}` is malformed"),
        _ => "the token is malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_base64url_parts_look_like_a_jwt() {
        for token in ["eyJh.eyJz.c2ln", "eyJ-_b.eyc.d"] {
            assert!(looks_like_jwt(token), "{token}");
        }
        for token in [
            "cppcc_abc",
            "a.b",
            "a.b.c.d",
            "a..c",
            ".b.c",
            "a.b.",
            "a+b.c.d",
            "a.b.c=",
            "1.2.3",
            "eyJh.b.c",
            "eyJh.eyJz.c2ln=",
        ] {
            assert!(!looks_like_jwt(token), "{token}");
        }
    }
}
