//! Configuration, read once from the environment (after `.env`) and passed explicitly.

use std::net::SocketAddr;
use std::time::Duration;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The forwarding header trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, …`
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1, …` (RFC 7239).
    Forwarded,
}

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind_addr: SocketAddr,
    /// Connections for requests, shared out among the HTTP workers' pools.
    pub pool_size: usize,
    /// How long a request waits for a database connection before answering 503.
    pub pool_timeout: Duration,
    /// The longest any one SQL statement may run before the database cancels it.
    pub statement_timeout: Duration,
    pub log_format: LogFormat,
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_origins: Vec<String>,
    /// Refusals of one credential a minute from one address before it must wait (429).
    pub auth_failure_limit: u32,
    /// The proxies whose `Forwarded` and `X-Forwarded-For` headers name the client
    /// (`TRUSTED_PROXIES`, comma-separated addresses or networks); none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The forwarding header those proxies write (`FORWARDED_HEADER`).
    pub forwarded_header: ForwardingHeader,
    /// Where `GET /metrics` is served; loopback by default.
    pub metrics_addr: SocketAddr,
    /// How long a client may take to send a request body (its head: 5 s).
    pub body_timeout: Duration,
    /// How long a verified API key may be trusted from memory; zero checks every request
    /// against the database.
    pub key_cache_ttl: Duration,
    /// Threads serving the API; by default one per CPU.
    pub http_workers: usize,
    /// Secrets that sign cursors (`CURSOR_SECRETS`, comma-separated): the first signs,
    /// each verifies; the database's own secret always verifies, and signs when none is
    /// set.
    pub cursor_secrets: Vec<String>,
    /// The audit trail's signing key (`AUDIT_SIGNING_KEY`): an Ed25519 private key in
    /// PKCS#8 PEM, or the path of a file holding one; when unset, a key the service makes
    /// once in `data_dir`.
    pub audit_signing_key: Option<String>,
    /// Where the service keeps files of its own (`DATA_DIR`): never the database, never
    /// the source tree.
    pub data_dir: std::path::PathBuf,
    /// How soon after the last checkpoint new events are signed (`AUDIT_CHECKPOINT_SECS`).
    pub audit_checkpoint_interval: Duration,
    /// Earlier signing keys whose checkpoints `verify` still trusts (`AUDIT_TRUSTED_KEYS`,
    /// comma-separated public keys as `/audit-events/signing-keys` shows them).
    pub audit_trusted_keys: Vec<ed25519_dalek::VerifyingKey>,
    /// The OpenID Connect providers whose tokens sign people in (`OIDC_ISSUERS`,
    /// comma-separated `<issuer>=<audience>`); none by default.
    pub oidc_issuers: Vec<OidcIssuer>,
    /// How far past `exp` or before `nbf` a token is still taken (`OIDC_LEEWAY_SECS`),
    /// for clocks that differ a little.
    pub oidc_leeway: Duration,
    /// The least time between two fetches of an issuer's keys for a token naming a key
    /// not known (`OIDC_JWKS_REFETCH_SECS`).
    pub oidc_refetch_interval: Duration,
    /// How often every issuer's keys are fetched again beside the requests
    /// (`OIDC_JWKS_REFRESH_SECS`): a key a provider withdraws stops verifying within it.
    pub oidc_refresh_interval: Duration,
}

/// An OpenID Connect provider trusted to sign people in, and the audience its tokens for
/// this service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIssuer {
    /// The issuer identifier, exactly as its tokens' `iss` and its discovery document say.
    pub issuer: String,
    /// What the tokens' `aud` must name.
    pub audience: String,
}

/// The most leeway `OIDC_LEEWAY_SECS` may give.
pub const MAX_OIDC_LEEWAY_SECS: u64 = 300;

/// The longest `OIDC_JWKS_REFETCH_SECS` and `OIDC_JWKS_REFRESH_SECS` may be.
pub const MAX_OIDC_REFETCH_SECS: u64 = 3600;

/// Whether `value` may be an identity provider's address: an `https` URL without query or
/// fragment, or `http` to this machine's loopback (a provider beside the service).
pub fn provider_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|error| format!("is not a URL ({error})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or fragment".into());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("must be https (http only to localhost)".into()),
    }
}

fn oidc_issuer(value: &str) -> Result<OidcIssuer, ConfigError> {
    let refused = |reason: String| ConfigError {
        name: "OIDC_ISSUERS",
        reason,
    };
    let (issuer, audience) = value
        .rsplit_once('=')
        .map(|(issuer, audience)| (issuer.trim(), audience.trim()))
        .filter(|(issuer, audience)| !issuer.is_empty() && !audience.is_empty())
        .ok_or_else(|| refused(format!("`{value}` is not `<issuer>=<audience>`")))?;
    provider_url(issuer).map_err(|why| refused(format!("the issuer `{issuer}` {why}")))?;
    Ok(OidcIssuer {
        issuer: issuer.to_owned(),
        audience: audience.to_owned(),
    })
}

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/cppcc";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so it can be tested without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let bind_addr = parse(get("BIND_ADDR"), "BIND_ADDR", "127.0.0.1:8080".parse().ok())?;
        let pool_size: usize = at_least_one(get("DATABASE_POOL_SIZE"), "DATABASE_POOL_SIZE", 10)?;
        let pool_timeout_secs: u64 = parse(
            get("DATABASE_POOL_TIMEOUT_SECS"),
            "DATABASE_POOL_TIMEOUT_SECS",
            Some(1),
        )?;
        let statement_timeout_ms: u64 = at_least_one(
            get("DATABASE_STATEMENT_TIMEOUT_MS"),
            "DATABASE_STATEMENT_TIMEOUT_MS",
            5000,
        )?;
        let auth_failure_limit: u32 = at_least_one(
            get("AUTH_FAILURES_PER_MINUTE"),
            "AUTH_FAILURES_PER_MINUTE",
            10,
        )?;
        let metrics_addr = parse(
            get("METRICS_ADDR"),
            "METRICS_ADDR",
            "127.0.0.1:9464".parse().ok(),
        )?;
        let body_timeout_secs: u64 = at_least_one(
            get("REQUEST_BODY_TIMEOUT_SECS"),
            "REQUEST_BODY_TIMEOUT_SECS",
            10,
        )?;
        let key_cache_secs: u64 = parse(get("API_KEY_CACHE_SECS"), "API_KEY_CACHE_SECS", Some(30))?;
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let http_workers: usize = at_least_one(get("HTTP_WORKERS"), "HTTP_WORKERS", cpus)?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "LOG_FORMAT",
                    reason: format!("`{other}` is neither `text` nor `json`"),
                });
            }
        };
        let cors_origins = comma_list(get("CORS_ORIGINS"), origin)?;
        let trusted_proxies = comma_list(get("TRUSTED_PROXIES"), proxy)?;
        let forwarded_header = match get("FORWARDED_HEADER")
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("x-forwarded-for") => ForwardingHeader::XForwardedFor,
            Some("forwarded") => ForwardingHeader::Forwarded,
            Some(other) => {
                return Err(ConfigError {
                    name: "FORWARDED_HEADER",
                    reason: format!("`{other}` is neither `x-forwarded-for` nor `forwarded`"),
                });
            }
        };
        let cursor_secrets = get("CURSOR_SECRETS")
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .map(cursor_secret)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let audit_checkpoint_secs: u64 =
            at_least_one(get("AUDIT_CHECKPOINT_SECS"), "AUDIT_CHECKPOINT_SECS", 60)?;
        let audit_trusted_keys = comma_list(get("AUDIT_TRUSTED_KEYS"), |value| {
            crate::domain::checkpoint::parse_public_key(value).ok_or_else(|| ConfigError {
                name: "AUDIT_TRUSTED_KEYS",
                reason: format!("`{value}` is not an Ed25519 public key in base64 (32 bytes)"),
            })
        })?;
        let oidc_issuers = comma_list(get("OIDC_ISSUERS"), oidc_issuer)?;
        if let Some(twice) = oidc_issuers.iter().enumerate().find_map(|(n, one)| {
            oidc_issuers[..n]
                .iter()
                .any(|earlier| earlier.issuer == one.issuer)
                .then_some(&one.issuer)
        }) {
            return Err(ConfigError {
                name: "OIDC_ISSUERS",
                reason: format!("the issuer `{twice}` is named twice: give it one audience"),
            });
        }
        let oidc_leeway = seconds_within(
            get("OIDC_LEEWAY_SECS"),
            "OIDC_LEEWAY_SECS",
            60,
            0..=MAX_OIDC_LEEWAY_SECS,
        )?;
        let oidc_refetch_interval = seconds_within(
            get("OIDC_JWKS_REFETCH_SECS"),
            "OIDC_JWKS_REFETCH_SECS",
            30,
            1..=MAX_OIDC_REFETCH_SECS,
        )?;
        let oidc_refresh_interval = seconds_within(
            get("OIDC_JWKS_REFRESH_SECS"),
            "OIDC_JWKS_REFRESH_SECS",
            300,
            1..=MAX_OIDC_REFETCH_SECS,
        )?;
        let data_dir = get("DATA_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                get("XDG_DATA_HOME").map(|dir| std::path::Path::new(&dir).join("cppcc-api"))
            })
            .or_else(|| {
                get("HOME").map(|home| std::path::Path::new(&home).join(".local/share/cppcc-api"))
            })
            .unwrap_or_else(|| std::path::PathBuf::from("/var/lib/cppcc-api"));
        Ok(Self {
            database_url,
            bind_addr,
            pool_size,
            pool_timeout: Duration::from_secs(pool_timeout_secs),
            statement_timeout: Duration::from_millis(statement_timeout_ms),
            log_format,
            cors_origins,
            auth_failure_limit,
            trusted_proxies,
            forwarded_header,
            metrics_addr,
            body_timeout: Duration::from_secs(body_timeout_secs),
            key_cache_ttl: Duration::from_secs(key_cache_secs),
            http_workers,
            cursor_secrets,
            audit_signing_key: get("AUDIT_SIGNING_KEY"),
            data_dir,
            audit_checkpoint_interval: Duration::from_secs(audit_checkpoint_secs),
            audit_trusted_keys,
            oidc_issuers,
            oidc_leeway,
            oidc_refetch_interval,
            oidc_refresh_interval,
        })
    }
}

/// A comma-separated setting, each non-empty entry read by `entry`; none when unset.
fn comma_list<T>(
    value: Option<String>,
    entry: impl Fn(&str) -> Result<T, ConfigError>,
) -> Result<Vec<T>, ConfigError> {
    value.map_or_else(
        || Ok(Vec::new()),
        |value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(entry)
                .collect()
        },
    )
}

/// One entry of `TRUSTED_PROXIES`: an address (`10.0.0.5`, `::1`) or a network
/// (`10.0.0.0/8`).
fn proxy(value: &str) -> Result<ipnet::IpNet, ConfigError> {
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| ConfigError {
            name: "TRUSTED_PROXIES",
            reason: format!("`{value}` is neither an IP address nor a network (10.0.0.0/8)"),
        })
}

/// One secret of `CURSOR_SECRETS`: at least 32 visible ASCII characters (as made by
/// `openssl rand -base64 32`).
fn cursor_secret(value: &str) -> Result<String, ConfigError> {
    if value.len() >= 32 && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value.to_owned())
    } else {
        Err(ConfigError {
            name: "CURSOR_SECRETS",
            reason: format!(
                "each secret must be at least 32 visible ASCII characters (one is {} long)",
                value.len()
            ),
        })
    }
}

/// One browser origin of `CORS_ORIGINS`: `scheme://host[:port]` exactly as a browser
/// sends it in `Origin` (http or https, no path, no trailing slash, no user, the host in
/// lower case); anything else would never match and is refused at start.
fn origin(value: &str) -> Result<String, ConfigError> {
    let refuse = |reason: String| ConfigError {
        name: "CORS_ORIGINS",
        reason,
    };
    if value == "*" {
        return Err(refuse(
            "`*` is not supported: name each origin allowed to call the API".into(),
        ));
    }
    let parsed = url::Url::parse(value)
        .map_err(|error| refuse(format!("`{value}` is not an origin: {error}")))?;
    let serialized = parsed.origin().ascii_serialization();
    if !matches!(parsed.scheme(), "http" | "https") || serialized != value {
        return Err(refuse(format!(
            "`{value}` is not an origin (scheme://host[:port], http or https, nothing after \
             the host or port){}",
            if parsed.origin().is_tuple() {
                format!("; did you mean `{serialized}`?")
            } else {
                String::new()
            }
        )));
    }
    Ok(serialized)
}

/// A count or a duration that must be at least 1: `value` parsed, or `default`.
fn at_least_one<T>(value: Option<String>, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    let parsed = parse(value, name, Some(default))?;
    if parsed < T::from(1) {
        return Err(ConfigError {
            name,
            reason: "must be at least 1".into(),
        });
    }
    Ok(parsed)
}

/// A number of seconds within `range` (the default when unset).
fn seconds_within(
    value: Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let seconds: u64 = parse(value, name, Some(default))?;
    let reason = if seconds < *range.start() {
        format!("must be at least {}", range.start())
    } else if seconds > *range.end() {
        format!("at most {} seconds", range.end())
    } else {
        return Ok(Duration::from_secs(seconds));
    };
    Err(ConfigError { name, reason })
}

fn parse<T: std::str::FromStr>(
    value: Option<String>,
    name: &'static str,
    default: Option<T>,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match (value, default) {
        (Some(value), _) => value.trim().parse().map_err(|error| ConfigError {
            name,
            reason: format!("`{value}`: {error}"),
        }),
        (None, Some(default)) => Ok(default),
        (None, None) => Err(ConfigError {
            name,
            reason: "is required".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn oidc_issuers_are_https_urls_with_an_audience_or_the_start_fails() {
        let read = config(&[(
            "OIDC_ISSUERS",
            "https://sso.example.cn/realms/cppcc=cppcc-api, http://127.0.0.1:8180/realms/x=web",
        )])
        .unwrap();
        assert_eq!(
            read.oidc_issuers,
            [
                OidcIssuer {
                    issuer: "https://sso.example.cn/realms/cppcc".into(),
                    audience: "cppcc-api".into(),
                },
                OidcIssuer {
                    issuer: "http://127.0.0.1:8180/realms/x".into(),
                    audience: "web".into(),
                },
            ]
        );
        assert_eq!(read.oidc_leeway, Duration::from_secs(60));
        assert!(config(&[]).unwrap().oidc_issuers.is_empty());
        for bad in [
            "https://sso.example.cn",
            "https://sso.example.cn=",
            "=aud",
            "http://sso.example.cn=aud",
            "https://sso.example.cn/?realm=x=aud",
            "https://sso.example.cn/#x=aud",
            "ftp://sso.example.cn=aud",
            "sso.example.cn=aud",
        ] {
            let error = config(&[("OIDC_ISSUERS", bad)]).unwrap_err();
            assert_eq!(error.name, "OIDC_ISSUERS", "{bad}");
        }
        let error = config(&[("OIDC_LEEWAY_SECS", "301")]).unwrap_err();
        assert_eq!(error.name, "OIDC_LEEWAY_SECS");
        let error = config(&[(
            "OIDC_ISSUERS",
            "https://sso.example.cn=a, https://sso.example.cn=b",
        )])
        .unwrap_err();
        assert_eq!(error.name, "OIDC_ISSUERS", "one issuer twice");
        for name in ["OIDC_JWKS_REFETCH_SECS", "OIDC_JWKS_REFRESH_SECS"] {
            for bad in ["0", "3601", "x"] {
                let error = config(&[(name, bad)]).unwrap_err();
                assert_eq!(error.name, name, "{bad}");
            }
        }
    }

    #[test]
    fn cors_origins_are_origins_or_the_start_fails_naming_them() {
        let allowed = config(&[(
            "CORS_ORIGINS",
            "https://app.example.cn, http://127.0.0.1:5173",
        )])
        .unwrap();
        assert_eq!(
            allowed.cors_origins,
            ["https://app.example.cn", "http://127.0.0.1:5173"]
        );
        for bad in [
            "*",
            "https://app.example.cn/",
            "https://app.example.cn/path",
            "app.example.cn",
            "ftp://app.example.cn",
            "https://user@app.example.cn",
            "https://APP.example.cn",
            "https://app.example.cn:443",
            "https://app.example.cn?x=1",
        ] {
            let error = config(&[("CORS_ORIGINS", &format!("https://ok.cn,{bad}"))])
                .err()
                .unwrap_or_else(|| panic!("{bad} is refused"));
            assert_eq!(error.name, "CORS_ORIGINS");
            assert!(error.reason.contains(bad), "{bad}: {}", error.reason);
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.pool_size, 10);
        assert_eq!(config.pool_timeout, Duration::from_secs(1));
        assert_eq!(config.statement_timeout, Duration::from_secs(5));
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.cors_origins.is_empty());
        assert_eq!(config.auth_failure_limit, 10);
        assert_eq!(config.body_timeout, Duration::from_secs(10));
        assert!(config.metrics_addr.ip().is_loopback());
        assert_eq!(config.key_cache_ttl, Duration::from_secs(30));
        assert!(config.http_workers >= 1);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let error = config(&[("BIND_ADDR", "nowhere")]).unwrap_err();
        assert_eq!(error.name, "BIND_ADDR");
        let error = config(&[("LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(error.name, "LOG_FORMAT");
        let error = config(&[("DATABASE_POOL_SIZE", "0")]).unwrap_err();
        assert_eq!(error.name, "DATABASE_POOL_SIZE");
        let error = config(&[("AUTH_FAILURES_PER_MINUTE", "0")]).unwrap_err();
        assert_eq!(error.name, "AUTH_FAILURES_PER_MINUTE");
        let error = config(&[("METRICS_ADDR", "everywhere")]).unwrap_err();
        assert_eq!(error.name, "METRICS_ADDR");
        let error = config(&[("HTTP_WORKERS", "0")]).unwrap_err();
        assert_eq!(error.name, "HTTP_WORKERS");
        let error = config(&[("API_KEY_CACHE_SECS", "-1")]).unwrap_err();
        assert_eq!(error.name, "API_KEY_CACHE_SECS");
        for bad in ["0", "soon"] {
            let error = config(&[("DATABASE_STATEMENT_TIMEOUT_MS", bad)]).unwrap_err();
            assert_eq!(error.name, "DATABASE_STATEMENT_TIMEOUT_MS");
        }
    }

    #[test]
    fn cursor_secrets_are_long_or_the_start_fails_without_showing_them() {
        let long = "k".repeat(32);
        let config = Config::from_lookup(|name| {
            (name == "CURSOR_SECRETS").then(|| format!("{long}, {long}x"))
        })
        .unwrap();
        assert_eq!(
            config.cursor_secrets,
            vec![long.clone(), format!("{long}x")]
        );
        for bad in [
            "short-secret",
            &format!("{long},"),
            &format!("{long} with space"),
        ] {
            let error =
                Config::from_lookup(|name| (name == "CURSOR_SECRETS").then(|| bad.to_owned()))
                    .unwrap_err();
            assert_eq!(error.name, "CURSOR_SECRETS");
            assert!(!error.to_string().contains("short-secret"), "{error}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks_or_the_start_fails_naming_them() {
        let trusted = config(&[("TRUSTED_PROXIES", "10.0.0.5, 172.16.0.0/12,::1")]).unwrap();
        let shown: Vec<String> = trusted
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.5/32", "172.16.0.0/12", "::1/128"]);
        assert!(config(&[]).unwrap().trusted_proxies.is_empty());
        for bad in ["proxy.example", "10.0.0.0/33", "10.0.0.5:8080"] {
            let error = config(&[("TRUSTED_PROXIES", bad)]).unwrap_err();
            assert_eq!(error.name, "TRUSTED_PROXIES");
            assert!(error.reason.contains(bad), "{error}");
        }
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        let config = config(&[("CORS_ORIGINS", "https://a.example, https://b.example,")]).unwrap();
        assert_eq!(
            config.cors_origins,
            ["https://a.example", "https://b.example"]
        );
    }
}
