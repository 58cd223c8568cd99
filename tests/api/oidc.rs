//! People sign in with OpenID Connect tokens: an identity provider run by the tests
//! (discovery document and key set over HTTP, keys made here) issues them, and every way
//! a token can be wrong is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// What the provider publishes, and how often its keys were fetched.
#[derive(Default)]
struct Published {
    keys: Vec<Value>,
    fetches: usize,
}

/// An OpenID provider on a port of its own: `/.well-known/openid-configuration` and
/// `/jwks`.
struct Provider {
    issuer: String,
    published: Arc<Mutex<Published>>,
}

impl Provider {
    async fn start() -> Self {
        let published = Arc::new(Mutex::new(Published::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = HttpServer::new({
            let published = published.clone();
            let issuer = issuer.clone();
            move || {
                let discovery = json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/jwks"),
                    "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
                });
                let published = published.clone();
                App::new()
                    .route(
                        "/.well-known/openid-configuration",
                        web::get().to(move || {
                            let discovery = discovery.clone();
                            async move { HttpResponse::Ok().json(discovery) }
                        }),
                    )
                    .route(
                        "/jwks",
                        web::get().to(move || {
                            let published = published.clone();
                            async move {
                                let mut published = published.lock().unwrap();
                                published.fetches += 1;
                                HttpResponse::Ok().json(json!({"keys": published.keys}))
                            }
                        }),
                    )
            }
        })
        .workers(1)
        .listen(listener)
        .expect("the provider listens")
        .run();
        tokio::spawn(server);
        Self { issuer, published }
    }

    fn publish(&self, keys: &[&Signer]) {
        self.published.lock().unwrap().keys = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    fn fetches(&self) -> usize {
        self.published.lock().unwrap().fetches
    }
}

/// A signing key made here, with its public half as a JWK.
struct Signer {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
    /// The public key's bytes (DER), for the HMAC forgery.
    public: Vec<u8>,
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes
}

impl Signer {
    fn rsa(kid: &str) -> Self {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        let private = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("an RSA key");
        let der = private.to_pkcs1_der().expect("PKCS#1");
        let key = EncodingKey::from_rsa_der(der.as_bytes());
        let public = private
            .to_public_key()
            .to_pkcs1_der()
            .expect("PKCS#1")
            .into_vec();
        Self::with(kid, Algorithm::RS256, key, public)
    }

    fn ec(kid: &str) -> Self {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let secret = p256::SecretKey::from_slice(&random::<32>()).expect("a P-256 key");
        let der = secret.to_pkcs8_der().expect("PKCS#8");
        let key = EncodingKey::from_ec_der(der.as_bytes());
        let public = secret
            .public_key()
            .to_public_key_der()
            .expect("SPKI")
            .into_vec();
        Self::with(kid, Algorithm::ES256, key, public)
    }

    fn ed(kid: &str) -> Self {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let secret = ed25519_dalek::SigningKey::from_bytes(&random::<32>());
        let der = secret.to_pkcs8_der().expect("PKCS#8");
        let key = EncodingKey::from_ed_der(der.as_bytes());
        let public = secret.verifying_key().to_bytes().to_vec();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            key,
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&public),
            }),
            public,
        }
    }

    fn with(kid: &str, alg: Algorithm, key: EncodingKey, public: Vec<u8>) -> Self {
        let mut jwk =
            serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap())
                .unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        Self {
            kid: kid.to_owned(),
            alg,
            key,
            jwk,
            public,
        }
    }

    /// `claims`, signed with this key and naming it.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("a token")
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims of a token of `issuer` for `subject`, valid for five minutes.
fn claims(issuer: &str, subject: &str) -> Value {
    json!({
        "iss": issuer, "sub": subject, "aud": AUDIENCE,
        "iat": now(), "exp": now() + 300,
    })
}

const AUDIENCE: &str = "cppcc-api";

/// The service, trusting `provider` (and `more` issuers), fetching keys again for an
/// unknown key id at most every `refetch`.
async fn service(provider: &Provider, more: &[&str], refetch: Duration) -> TestApp {
    let mut issuers = vec![provider.issuer.clone()];
    issuers.extend(more.iter().map(|issuer| (*issuer).to_owned()));
    spawn_app_with(move |config| {
        config.oidc_issuers = issuers
            .into_iter()
            .map(|issuer| cppcc_api::config::OidcIssuer {
                issuer,
                audience: AUDIENCE.into(),
            })
            .collect();
        config.oidc_refetch_interval = refetch;
        config.oidc_leeway = Duration::from_secs(30);
    })
    .await
}

/// A member's account of a new district, linked to `subject` of `issuer`; its id.
async fn member_account(app: &TestApp, issuer: &str, subject: &str, code: &str) -> (Value, String) {
    let district = app.district(code).await;
    let district_id = district["id"].as_str().unwrap().to_owned();
    let member = app.member(&district_id, "M-1", "王芳").await;
    let response = app
        .post(
            "/api/v1/accounts",
            &json!({
                "display_name": "王芳", "role": "member", "district_id": district_id,
                "member_id": member["id"],
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let account: Value = response.json().await.unwrap();
    let id = account["id"].as_str().unwrap().to_owned();
    link(app, &id, json!([{"issuer": issuer, "subject": subject}])).await;
    (member, id)
}

/// Links the account to these identities (none: unlinks it), at its current version.
async fn link(app: &TestApp, account: &str, identities: Value) {
    let etag = app
        .get(&format!("/api/v1/accounts/{account}"))
        .await
        .headers()["etag"]
        .clone();
    let response = app
        .client
        .put(app.url(&format!("/api/v1/accounts/{account}/identities")))
        .header("If-Match", etag)
        .json(&json!({"items": identities}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "linked");
}

/// The status and problem (or body) of `GET path` with `token`.
async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app.request_as(Some(token), Method::GET, path, None).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sets the account's status, at its current version.
async fn set_status(app: &TestApp, account: &str, status: &str) {
    let path = format!("/api/v1/accounts/{account}");
    let etag = app.get(&path).await.headers()["etag"].clone();
    let response = app
        .client
        .patch(app.url(&path))
        .header("If-Match", etag)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"status": status}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{status}");
}

#[tokio::test]
async fn a_person_signs_in_with_a_token_of_each_accepted_algorithm() {
    let provider = Provider::start().await;
    let keys = [Signer::rsa("r1"), Signer::ec("e1"), Signer::ed("d1")];
    provider.publish(&keys.iter().collect::<Vec<_>>());
    let app = service(&provider, &[], Duration::from_secs(30)).await;
    let (member, account) = member_account(&app, &provider.issuer, "person-1", "oidca").await;
    for key in &keys {
        let token = key.sign(&claims(&provider.issuer, "person-1"));
        let (status, me) = get(&app, &token, "/api/v1/me").await;
        assert_eq!(status, StatusCode::OK, "{:?}: {me}", key.alg);
        assert_eq!(me["role"], "member");
        assert_eq!(me["key_id"], Value::Null, "no key: a token");
        assert_eq!(me["account"]["id"], account.as_str());
        assert_eq!(me["account"]["member_id"], member["id"]);
        assert_eq!(me["account"]["authenticated_by"], "openid_connect");
        assert_eq!(me["account"]["issuer"], provider.issuer.as_str());
        // Its own record, as its rules say.
        let (status, _) = get(
            &app,
            &token,
            &format!("/api/v1/members/{}", member["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn every_wrong_token_is_refused_with_401_and_an_unknown_subject_with_its_own_403() {
    let provider = Provider::start().await;
    let key = Signer::rsa("r1");
    let stranger = Signer::rsa("r1"); // the same key id, another key
    provider.publish(&[&key]);
    let app = service(&provider, &[], Duration::from_secs(30)).await;
    member_account(&app, &provider.issuer, "person-1", "oidcb").await;
    let issuer = provider.issuer.as_str();
    let valid = claims(issuer, "person-1");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        key.sign(&claims)
    };
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = |alg: &str| {
        format!(
            "{}.{}.",
            encode(&json!({"alg": alg, "kid": "r1", "typ": "JWT"})),
            encode(&valid)
        )
    };
    // HS256 with the provider's public key as the secret: the key-confusion forgery.
    let forged_hmac = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("r1".into());
        jsonwebtoken::encode(
            &header,
            &valid,
            &EncodingKey::from_secret(&key.public).unwrap(),
        )
        .unwrap()
    };
    let forged_hmac_of_jwk = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("r1".into());
        let secret = key.jwk.to_string();
        jsonwebtoken::encode(
            &header,
            &valid,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let tampered = {
        let token = key.sign(&valid);
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = valid.clone();
        claims["sub"] = json!("someone-else");
        format!("{}.{}.{}", parts[0], encode(&claims), parts[2])
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("http://127.0.0.1:1/other")),
        ),
        (
            "issuer differing by a slash",
            with(&|c| c["iss"] = json!(format!("{issuer}/"))),
        ),
        (
            "no issuer",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("another-app"))),
        (
            "audience list without ours",
            with(&|c| c["aud"] = json!(["a", "b"])),
        ),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "expired past the leeway",
            with(&|c| c["exp"] = json!(now() - 120)),
        ),
        (
            "no expiry",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("expiry as text", with(&|c| c["exp"] = json!("tomorrow"))),
        (
            "not yet valid past the leeway",
            with(&|c| c["nbf"] = json!(now() + 120)),
        ),
        (
            "no subject",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("empty subject", with(&|c| c["sub"] = json!(""))),
        ("alg none, no signature", unsigned("none")),
        ("alg none, a signature", format!("{}c2ln", unsigned("none"))),
        ("alg None", format!("{}c2ln", unsigned("None"))),
        ("HS256 with the public key", forged_hmac),
        ("HS256 with the JWK", forged_hmac_of_jwk),
        ("RS384", format!("{}c2ln", unsigned("RS384"))),
        ("PS256", format!("{}c2ln", unsigned("PS256"))),
        (
            "signed by another key of the same id",
            stranger.sign(&valid),
        ),
        ("claims changed after signing", tampered),
        ("unknown key id", {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some("nobody".into());
            jsonwebtoken::encode(&header, &valid, &key.key).unwrap()
        }),
        ("no key id, and no key of its algorithm", {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = None;
            jsonwebtoken::encode(&header, &valid, &Signer::ec("e").key).unwrap()
        }),
        ("garbage", "eyJhbGciOi.eyJzdWIi.c2ln".to_owned()),
    ];
    for (case, token) in &cases {
        let (status, problem) = get(&app, token, "/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {problem}");
        assert_eq!(problem["type"], "/problems/unauthorized", "{case}");
    }
    // Within the leeway, a token just expired or just not yet valid is taken.
    for (case, token) in [
        (
            "expired within the leeway",
            with(&|c| c["exp"] = json!(now() - 10)),
        ),
        (
            "not yet valid within the leeway",
            with(&|c| c["nbf"] = json!(now() + 10)),
        ),
        (
            "an audience list naming ours",
            with(&|c| c["aud"] = json!(["x", AUDIENCE])),
        ),
        ("no key id, the one key of its algorithm", {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = None;
            jsonwebtoken::encode(&header, &valid, &key.key).unwrap()
        }),
    ] {
        let (status, problem) = get(&app, &token, "/api/v1/me").await;
        assert_eq!(status, StatusCode::OK, "{case}: {problem}");
    }
    // A valid token of a subject no account is linked to, or could be: no identity holds
    // a NUL, a character beyond printable ASCII or more than 255 of them.
    let long = "s".repeat(256);
    for subject in [
        "nobody-here",
        "bob\u{0}",
        "\u{0}",
        "王芳",
        "a b",
        long.as_str(),
    ] {
        let (status, problem) = get(&app, &key.sign(&claims(issuer, subject)), "/api/v1/me").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{subject:?}: {problem}");
        assert_eq!(problem["type"], "/problems/unknown-subject", "{subject:?}");
    }
}

#[tokio::test]
async fn keys_are_fetched_again_for_a_new_key_at_most_once_per_interval_and_a_withdrawn_key_is_refused()
 {
    let provider = Provider::start().await;
    let first = Signer::rsa("k1");
    provider.publish(&[&first]);
    let refetch = Duration::from_secs(2);
    let app = service(&provider, &[], refetch).await;
    member_account(&app, &provider.issuer, "person-1", "oidcc").await;
    let old = first.sign(&claims(&provider.issuer, "person-1"));
    assert_eq!(get(&app, &old, "/api/v1/me").await.0, StatusCode::OK);
    // Forged key ids do not make the service hammer the provider.
    tokio::time::sleep(refetch).await;
    let before = provider.fetches();
    for n in 0..10 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("forged-{n}"));
        let token =
            jsonwebtoken::encode(&header, &claims(&provider.issuer, "person-1"), &first.key)
                .unwrap();
        assert_eq!(
            get(&app, &token, "/api/v1/me").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        provider.fetches() - before,
        1,
        "one fetch for ten unknown key ids"
    );
    // The provider rotates: a new key, the old one withdrawn.
    let second = Signer::ec("k2");
    provider.publish(&[&second]);
    let new = second.sign(&claims(&provider.issuer, "person-1"));
    tokio::time::sleep(refetch).await;
    let (status, me) = get(&app, &new, "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new key, fetched on sight: {me}"
    );
    // A token of the withdrawn key, though verified before, is refused now.
    let (status, problem) = get(&app, &old, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    // A new key under an id used before: its tokens are taken once the keys are fetched
    // again, and the old key's are not.
    let third = Signer::ed("k2");
    provider.publish(&[&third]);
    tokio::time::sleep(refetch).await;
    let (status, me) = get(
        &app,
        &third.sign(&claims(&provider.issuer, "person-1")),
        "/api/v1/me",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a new key under an old id: {me}");
    let (status, _) = get(
        &app,
        &second.sign(&claims(&provider.issuer, "person-2")),
        "/api/v1/me",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the key it replaced");
    let (status, _) = get(&app, &new, "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token of the key it replaced, verified before"
    );
    // A key set with no usable key (a broken proxy's answer) is refused: the keys in hand
    // stay.
    provider.publish(&[]);
    tokio::time::sleep(refetch).await;
    let fetched = provider.fetches();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("unknown".into());
    let forged =
        jsonwebtoken::encode(&header, &claims(&provider.issuer, "person-1"), &third.key).unwrap();
    assert_eq!(
        get(&app, &forged, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        provider.fetches(),
        fetched + 1,
        "fetched for the unknown key id"
    );
    let mut fresh = claims(&provider.issuer, "person-1");
    fresh["jti"] = json!("after-the-empty-set");
    let (status, me) = get(&app, &third.sign(&fresh), "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the key in hand still verifies: {me}"
    );
    // So is a set whose keys are unsound: an RSA modulus of 1 and of 16 bits, a P-256
    // "key" off the curve, an Ed25519 key of the wrong length.
    provider.published.lock().unwrap().keys = vec![
        json!({"kty": "RSA", "kid": "k2", "n": "AQ", "e": "AQ"}),
        json!({"kty": "RSA", "kid": "k2", "n": "wAE", "e": "Aw"}),
        json!({"kty": "EC", "crv": "P-256", "kid": "k2",
               "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "k2", "x": "AAAA"}),
    ];
    tokio::time::sleep(refetch).await;
    let fetched = provider.fetches();
    assert_eq!(
        get(&app, &forged, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        provider.fetches(),
        fetched + 1,
        "fetched for the unknown key id"
    );
    fresh["jti"] = json!("after-the-unsound-set");
    let (status, me) = get(&app, &third.sign(&fresh), "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the key in hand still verifies: {me}"
    );
}

#[tokio::test]
async fn a_key_the_provider_withdraws_stops_verifying_at_the_next_periodic_fetch() {
    let provider = Provider::start().await;
    let key = Signer::ed("k1");
    provider.publish(&[&key]);
    let issuer = provider.issuer.clone();
    // Tokens never make the keys be fetched again here (30 s): only the periodic fetch
    // (every second) can notice the withdrawal.
    let app = spawn_app_with(move |config| {
        config.oidc_issuers = vec![cppcc_api::config::OidcIssuer {
            issuer,
            audience: AUDIENCE.into(),
        }];
        config.oidc_refetch_interval = Duration::from_secs(30);
        config.oidc_refresh_interval = Duration::from_secs(1);
    })
    .await;
    member_account(&app, &provider.issuer, "person-1", "oidcf").await;
    let seen = key.sign(&claims(&provider.issuer, "person-1"));
    assert_eq!(get(&app, &seen, "/api/v1/me").await.0, StatusCode::OK);
    let before = provider.fetches();
    provider.publish(&[&Signer::ed("k9")]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(provider.fetches() > before, "fetched periodically");
    let mut later = claims(&provider.issuer, "person-1");
    later["jti"] = json!("never-seen");
    for (case, token) in [
        ("a token seen before", seen),
        ("a new token", key.sign(&later)),
    ] {
        let (status, problem) = get(&app, &token, "/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {problem}");
    }
}

#[tokio::test]
async fn a_token_of_an_issuer_that_cannot_be_reached_is_a_503_and_of_one_not_trusted_a_401() {
    let provider = Provider::start().await;
    let key = Signer::rsa("k1");
    provider.publish(&[&key]);
    let closed = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let app = service(&provider, &[&closed], Duration::from_secs(30)).await;
    let (status, problem) = get(&app, &key.sign(&claims(&closed, "someone")), "/api/v1/me").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(problem["type"], "/problems/issuer-unavailable");
    // A service trusting no issuer takes no token.
    let plain = crate::helpers::spawn_app().await;
    let (status, problem) = get(
        &plain,
        &key.sign(&claims(&provider.issuer, "someone")),
        "/api/v1/me",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    // Nor in the URL, whatever the parameter's name.
    let token = key.sign(&claims(&provider.issuer, "someone"));
    let response = app
        .request_as(
            Some(&token),
            Method::GET,
            &format!("/api/v1/me?q={token}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signed_in_person_acts_as_their_account_and_is_refused_once_disabled() {
    let provider = Provider::start().await;
    let key = Signer::ed("k1");
    provider.publish(&[&key]);
    let app = service(&provider, &[], Duration::from_secs(30)).await;
    let (member, account) = member_account(&app, &provider.issuer, "person-1", "oidcd").await;
    let other = app.district("oidce").await;
    let stranger = app
        .member(other["id"].as_str().unwrap(), "E-1", "李四")
        .await;
    let token = key.sign(&claims(&provider.issuer, "person-1"));
    // Another district's member is not there for them.
    let (status, _) = get(
        &app,
        &token,
        &format!("/api/v1/members/{}", stranger["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A proposal they draft, twice under one Idempotency-Key: one draft, their name on it.
    let body = json!({
        "district_id": member["district_id"], "kind": "member",
        "title": "关于社区养老服务的提案", "body": "建议增设日间照料中心。",
        "category": "economy", "lead_member_id": member["id"],
    });
    // The retry comes with a token issued later (the app refreshed it): the same person.
    let mut later = claims(&provider.issuer, "person-1");
    later["jti"] = json!("refreshed");
    let refreshed = key.sign(&later);
    assert_ne!(refreshed, token);
    let mut made = Vec::new();
    for token in [&token, &refreshed] {
        let response = app
            .anonymous
            .post(app.url("/api/v1/proposals"))
            .bearer_auth(token)
            .header("Idempotency-Key", "draft-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let proposal: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{proposal}");
        made.push(proposal["id"].clone());
    }
    assert_eq!(made[0], made[1], "the retry was answered, not done again");
    let (status, events) = get(
        &app,
        &app.admin_token,
        &format!("/api/v1/audit-events?account_id={account}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["entity_id"], made[0]);
    assert_eq!(events[0]["actor_key_id"], Value::Null);
    assert_eq!(
        events[0]["actor_account"]["authenticated_by"],
        "openid_connect"
    );
    assert_eq!(
        events[0]["actor_account"]["issuer"],
        provider.issuer.as_str()
    );
    // Disabled: the same token is refused on the next request, here and, once the
    // database's notification arrives, by another instance that remembered the person.
    let issuer = provider.issuer.clone();
    let other = crate::helpers::spawn_beside(&app, move |config| {
        config.oidc_issuers = vec![cppcc_api::config::OidcIssuer {
            issuer,
            audience: AUDIENCE.into(),
        }];
    })
    .await;
    for _ in 0..2 {
        assert_eq!(get(&other, &token, "/api/v1/me").await.0, StatusCode::OK);
    }
    set_status(&app, &account, "disabled").await;
    let (status, problem) = get(&app, &token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("disabled"),
        "{problem}"
    );
    let mut refused = false;
    for _ in 0..40 {
        if get(&other, &token, "/api/v1/me").await.0 == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "refused by the other instance within 2 s");
    // Unlinked, a valid token names nobody.
    set_status(&app, &account, "active").await;
    assert_eq!(get(&app, &token, "/api/v1/me").await.0, StatusCode::OK);
    link(&app, &account, json!([])).await;
    let (status, problem) = get(&app, &token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["type"], "/problems/unknown-subject");
}
