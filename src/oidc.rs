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
//! Each issuer's discovery document and signing keys are fetched at start and kept; they
//! are fetched again every `OIDC_JWKS_REFRESH_SECS` beside the requests (so a key the
//! provider withdraws stops verifying within that), and when a token needs a key that is
//! not in hand or did not verify it, never twice for tokens within
//! `OIDC_JWKS_REFETCH_SECS` (so forged key ids cannot make the service hammer the
//! provider). Only keys that are sound are taken (RSA of 2048 bits or more, points on
//! their curve). Keys not fetched again for [`KEYS_MAX_AGE_UNREACHABLE`] verify nothing. A
//! verified token is remembered by its hash for [`REMEMBERED_FOR`] (never past its
//! `exp`), so a token is verified once in a while, not on every request; an issuer's
//! remembered tokens are forgotten whenever its keys change.
//!
//! Who the token's person is (the account linked to its issuer and subject) is not
//! decided here: see [`crate::api::auth`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::OidcIssuer;

/// The algorithms a token may be signed with.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// The smallest RSA modulus a key may have.
const MIN_RSA_BITS: usize = 2048;

/// How long keys fetched last serve while the provider cannot be reached: past it, a
/// key the provider may have withdrawn meanwhile verifies nothing (503 until it answers).
pub const KEYS_MAX_AGE_UNREACHABLE: Duration = Duration::from_secs(24 * 3600);

/// How long one fetch of an issuer's keys (discovery document and key set) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a verified token is taken without being verified again (at most until it
/// expires).
const REMEMBERED_FOR: Duration = Duration::from_secs(300);

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
    // Optional here, so that a token without them is refused by the validation, naming
    // the claim, rather than as unreadable.
    sub: Option<String>,
    exp: Option<u64>,
}

/// A signing key the issuer publishes, with how a token signed by it is validated.
struct SigningKey {
    key: DecodingKey,
    validation: Validation,
}

/// One issuer's keys, as last fetched.
#[derive(Default)]
struct Keys {
    jwks_uri: Option<String>,
    /// By key id and algorithm (RFC 7517 lets one id name keys of several types).
    named: HashMap<(String, Algorithm), Arc<SigningKey>>,
    /// Keys published without an id, usable by a token that names none.
    unnamed: Vec<Arc<SigningKey>>,
    /// The usable keys as published (each one's id and public parameters): a fetch that
    /// changes them withdraws the tokens verified before.
    published: BTreeSet<String>,
    /// Bumped whenever the keys change: a token verified with keys of an earlier epoch is
    /// not remembered.
    epoch: u64,
    /// When the keys were last fetched.
    fetched_at: Option<Instant>,
    /// When a fetch last ended, whatever its outcome.
    tried_at: Option<Instant>,
}

/// One trusted issuer.
struct Issuer {
    config: OidcIssuer,
    keys: RwLock<Keys>,
    /// Held while the keys are being fetched, so concurrent requests make one fetch.
    fetching: tokio::sync::Mutex<()>,
}

/// A verified token, remembered.
#[derive(Clone)]
struct Remembered {
    verified: Verified,
    /// The index of its issuer.
    issuer: usize,
    at: Instant,
}

/// Why keys are fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// A token needs a key that is not in hand (or the one in hand did not verify it): the
    /// request waits for the fetch.
    Key,
    /// The periodic fetch, beside the requests: skipped while a fetch is under way.
    Periodic,
}

/// Verifies the bearer tokens of the configured issuers.
pub struct Verifier {
    issuers: Vec<Issuer>,
    client: Option<reqwest::Client>,
    leeway: u64,
    refetch_interval: Duration,
    refresh_interval: Duration,
    remembered: RwLock<HashMap<[u8; 32], Remembered>>,
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
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    };
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(claims), Some(signature), None) => {
            header.starts_with("ey")
                && claims.starts_with("ey")
                && [header, claims, signature].into_iter().all(base64url)
        }
        _ => false,
    }
}

impl Verifier {
    /// A verifier of the tokens of the configured issuers, with the configured leeway and
    /// intervals of fetching.
    pub fn new(config: &crate::config::Config) -> Result<Self, reqwest::Error> {
        let issuers = &config.oidc_issuers;
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
            leeway: config.oidc_leeway.as_secs(),
            refetch_interval: config.oidc_refetch_interval,
            refresh_interval: config.oidc_refresh_interval,
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
            if let Err(error) = self.refresh(issuer, Need::Key).await {
                tracing::warn!(issuer = %issuer.config.issuer, %error, "the issuer's keys could not be fetched");
            }
        }
    }

    /// Fetches every issuer's keys again every refresh interval, for as long as the
    /// process runs.
    pub async fn keep_fresh(&self) {
        if self.issuers.is_empty() {
            return;
        }
        loop {
            tokio::time::sleep(self.refresh_interval).await;
            for issuer in &self.issuers {
                // A failure is logged where it is met; the keys in hand stay.
                let _ = self.refresh(issuer, Need::Periodic).await;
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
            .and_then(|tokens| tokens.get(&hash).cloned())
            .filter(|remembered| remembered.at.elapsed() < REMEMBERED_FOR);
        if let Some(remembered) = remembered {
            // The same test of `exp` the validation makes.
            if remembered.verified.expires_at >= now.saturating_sub(self.leeway) {
                return Ok(remembered.verified);
            }
            return Err(invalid("the token has expired"));
        }
        let (verified, issuer, epoch) = self.verify_afresh(token).await?;
        if let Ok(mut tokens) = self.remembered.write() {
            // Only if the issuer's keys are still those it was verified with: a fetch that
            // changes them bumps the epoch first, then forgets the issuer's tokens (under
            // this lock), so a token verified with a withdrawn key is never kept after.
            let current = self.issuers[issuer]
                .keys
                .read()
                .map_or(u64::MAX, |keys| keys.epoch);
            if current == epoch {
                if tokens.len() >= REMEMBERED_TOKENS {
                    tokens.clear();
                }
                tokens.insert(
                    hash,
                    Remembered {
                        verified: verified.clone(),
                        issuer,
                        at: Instant::now(),
                    },
                );
            }
        }
        Ok(verified)
    }

    /// Verifies `token` with its issuer's keys: the person, the issuer's index and the
    /// epoch of the keys used.
    async fn verify_afresh(&self, token: &str) -> Result<(Verified, usize, u64), Refusal> {
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
        let (index, issuer) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(_, issuer)| issuer.config.issuer == claimed)
            .ok_or_else(|| invalid("the token's issuer is not trusted"))?;
        let kid = header.kid.as_deref();
        let (key, epoch) = self.key(issuer, kid, header.alg).await?;
        let decoded = match jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation) {
            // A provider may publish a new key (of another type, even) under an id it used
            // before: the keys are fetched again (within the refetch limit), and the token
            // is tried once more with the key the id names now.
            Err(error)
                if matches!(
                    error.kind(),
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                        | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                ) && self.refresh(issuer, Need::Key).await.is_ok() =>
            {
                match find(issuer, kid, header.alg) {
                    Some((now, epoch)) if !Arc::ptr_eq(&now, &key) => {
                        jsonwebtoken::decode::<Claims>(token, &now.key, &now.validation)
                            .map(|decoded| (decoded, epoch))
                    }
                    _ => Err(error),
                }
            }
            decoded => decoded.map(|decoded| (decoded, epoch)),
        };
        let (decoded, epoch) = decoded.map_err(|error| invalid(refusal_of(&error)))?;
        let (Some(subject), Some(expires_at)) = (decoded.claims.sub, decoded.claims.exp) else {
            return Err(invalid("the token has no `sub` or no `exp`"));
        };
        if subject.is_empty() {
            return Err(invalid("the token names no subject (`sub`)"));
        }
        let verified = Verified {
            issuer: issuer.config.issuer.clone(),
            subject,
            expires_at,
        };
        Ok((verified, index, epoch))
    }

    /// The key of `issuer` that signed a token naming `kid` (or none) with `alg`, and the
    /// epoch of the keys it is one of; keys never fetched, or lacking `kid`, are fetched
    /// first (within the refetch limit).
    async fn key(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(Arc<SigningKey>, u64), Refusal> {
        if let Some(found) = find(issuer, kid, alg) {
            return Ok(found);
        }
        self.refresh(issuer, Need::Key).await?;
        find(issuer, kid, alg).ok_or_else(|| {
            invalid(match kid {
                Some(_) => "the token is signed by a key its issuer does not publish",
                None => "the token names no key (`kid`), and its issuer publishes no single key for its algorithm",
            })
        })
    }

    /// Fetches `issuer`'s keys again. For a key a token needs, the request waits for a
    /// fetch under way, and no fetch is made within the refetch interval of the last (the
    /// keys stand as they are); the periodic fetch is skipped while another is under way.
    async fn refresh(&self, issuer: &Issuer, need: Need) -> Result<(), Refusal> {
        let unreachable = || {
            Refusal::IssuerUnreachable(
                "the token's issuer could not be reached to fetch its keys; retry shortly".into(),
            )
        };
        let _fetching = match need {
            Need::Key => issuer.fetching.lock().await,
            Need::Periodic => match issuer.fetching.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(()),
            },
        };
        let (tried_at, in_hand) = issuer
            .keys
            .read()
            .map(|keys| (keys.tried_at, usable(&keys)))
            .unwrap_or((None, false));
        if need == Need::Key
            && tried_at.is_some_and(|tried| tried.elapsed() < self.refetch_interval)
        {
            return if in_hand { Ok(()) } else { Err(unreachable()) };
        }
        // A request dropped while it waits leaves no mark: the next one fetches.
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, self.fetch(issuer))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {FETCH_TIMEOUT:?}")));
        let Ok(mut keys) = issuer.keys.write() else {
            return Err(unreachable());
        };
        keys.tried_at = Some(Instant::now());
        match fetched {
            Ok(fetched) => {
                let changed = keys.published != fetched.published;
                keys.jwks_uri = Some(fetched.jwks_uri);
                keys.named = fetched.named;
                keys.unnamed = fetched.unnamed;
                keys.fetched_at = Some(Instant::now());
                if changed {
                    keys.published = fetched.published;
                    keys.epoch += 1;
                    drop(keys);
                    // A key withdrawn or replaced takes the tokens verified before with it.
                    let index = self
                        .issuers
                        .iter()
                        .position(|other| std::ptr::eq(other, issuer));
                    if let Ok(mut tokens) = self.remembered.write() {
                        tokens.retain(|_, remembered| Some(remembered.issuer) != index);
                    }
                }
                Ok(())
            }
            Err(error) => {
                // The next try reads the discovery document again: the key set may have
                // moved.
                keys.jwks_uri = None;
                let in_hand = usable(&keys);
                drop(keys);
                tracing::warn!(issuer = %issuer.config.issuer, %error, "fetching the issuer's keys failed");
                if in_hand { Ok(()) } else { Err(unreachable()) }
            }
        }
    }

    /// The issuer's key set, read through its discovery document; a set with no key this
    /// service verifies with is refused (the keys in hand stay).
    async fn fetch(&self, issuer: &Issuer) -> Result<Fetched, String> {
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
                    tracing::error!(
                        configured = %issuer.config.issuer,
                        discovered = %discovery.issuer,
                        "the issuer's discovery document names another issuer: check OIDC_ISSUERS"
                    );
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
        let mut fetched = Fetched {
            jwks_uri,
            named: HashMap::new(),
            unnamed: Vec::new(),
            published: BTreeSet::new(),
        };
        for value in set.keys {
            // A key of a kind this service does not verify with is passed over, not fatal.
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some((algorithm, key)) = signing_key(&jwk, &issuer.config, self.leeway) else {
                continue;
            };
            let key = Arc::new(key);
            fetched.published.insert(
                serde_json::to_string(&(&jwk.common.key_id, algorithm, &jwk.algorithm))
                    .unwrap_or_default(),
            );
            match jwk.common.key_id {
                Some(kid) => {
                    // The first of two keys of one id and algorithm is kept.
                    fetched.named.entry((kid, algorithm)).or_insert(key);
                }
                None => fetched.unnamed.push(key),
            }
        }
        if fetched.published.is_empty() {
            return Err(format!(
                "{} publishes no key this service verifies with (RS256, ES256, EdDSA)",
                fetched.jwks_uri
            ));
        }
        Ok(fetched)
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

/// An issuer's keys, as a fetch found them.
struct Fetched {
    jwks_uri: String,
    named: HashMap<(String, Algorithm), Arc<SigningKey>>,
    unnamed: Vec<Arc<SigningKey>>,
    published: BTreeSet<String>,
}

/// Whether `keys` may verify tokens: fetched, and not so long ago that a provider out of
/// reach for that long may have withdrawn them.
fn usable(keys: &Keys) -> bool {
    keys.fetched_at
        .is_some_and(|at| at.elapsed() < KEYS_MAX_AGE_UNREACHABLE)
}

/// The usable key of `issuer` for a token naming `kid` with `alg`, with its epoch.
fn find(issuer: &Issuer, kid: Option<&str>, alg: Algorithm) -> Option<(Arc<SigningKey>, u64)> {
    let keys = issuer.keys.read().ok()?;
    if !usable(&keys) {
        return None;
    }
    let found = match kid {
        Some(kid) => keys.named.get(&(kid.to_owned(), alg)).cloned(),
        None => {
            let mut matching = keys
                .unnamed
                .iter()
                .chain(keys.named.values())
                .filter(|key| key.validation.algorithms.contains(&alg));
            match (matching.next(), matching.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    };
    found.map(|key| (key, keys.epoch))
}

/// How a token signed by `jwk` is checked, if the key is one this service verifies with:
/// a signing key (not one for encryption) whose type fixes its one algorithm (RSA: RS256;
/// P-256: ES256; Ed25519: EdDSA), and whose own `alg`, when given, says the same.
fn signing_key(jwk: &Jwk, issuer: &OidcIssuer, leeway: u64) -> Option<(Algorithm, SigningKey)> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let (algorithm, named) = match &jwk.algorithm {
        AlgorithmParameters::RSA(params) if sound_rsa(&params.n, &params.e) => {
            (Algorithm::RS256, KeyAlgorithm::RS256)
        }
        AlgorithmParameters::EllipticCurve(params)
            if params.curve == EllipticCurve::P256 && sound_p256(&params.x, &params.y) =>
        {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(params)
            if params.curve == EllipticCurve::Ed25519 && sound_ed25519(&params.x) =>
        {
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
    Some((algorithm, SigningKey { key, validation }))
}

fn base64url(value: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()
}

/// Whether an RSA public key (`n`, `e` in base64url) is one to trust: an odd modulus of
/// at least [`MIN_RSA_BITS`] bits, and an odd public exponent above 1 of at most 32 bits.
fn sound_rsa(n: &str, e: &str) -> bool {
    let (Some(n), Some(e)) = (base64url(n), base64url(e)) else {
        return false;
    };
    let start = n.iter().position(|byte| *byte != 0).unwrap_or(n.len());
    let n = &n[start..];
    let bits = n.first().map_or(0, |top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    let exponent = if e.len() <= 4 {
        e.iter()
            .fold(0u64, |value, byte| value << 8 | u64::from(*byte))
    } else {
        0
    };
    bits >= MIN_RSA_BITS
        && n.last().is_some_and(|low| low & 1 == 1)
        && exponent > 1
        && exponent & 1 == 1
}

/// Whether (`x`, `y`) (base64url) is a point of P-256.
fn sound_p256(x: &str, y: &str) -> bool {
    let (Some(x), Some(y)) = (base64url(x), base64url(y)) else {
        return false;
    };
    if x.len() != 32 || y.len() != 32 {
        return false;
    }
    let mut point = vec![4];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    p256::PublicKey::from_sec1_bytes(&point).is_ok()
}

/// Whether `x` (base64url) is an Ed25519 public key: a point of the curve.
fn sound_ed25519(x: &str) -> bool {
    base64url(x)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .is_some_and(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_ok())
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
