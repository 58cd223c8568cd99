//! The throttle of refused credentials, and the address a request comes from.
//!
//! A refused credential (unknown, revoked, expired, malformed) is counted against the pair
//! of the client's address and the credential itself, in a GCRA rate limiter (`governor`):
//! `AUTH_FAILURES_PER_MINUTE` refusals of one credential from one address, then one more
//! each time the minute's share comes back; beyond that the refusal is a 429 with
//! `Retry-After`. Only refusals are counted and only they are held back: a valid key is
//! never throttled, whoever shares its address, and one stale token behind a NAT holds
//! back that token alone.
//!
//! The client's address is the peer's, unless the peer is one of `TRUSTED_PROXIES`: then
//! the address the forwarding header those proxies write (`FORWARDED_HEADER`:
//! `X-Forwarded-For` by default, or RFC 7239's `Forwarded`) names, walked from the nearest
//! hop back while each hop is itself a trusted proxy. The other header is never read: a
//! proxy passes on a header it does not write as the client sent it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::http::header::{self, HeaderMap};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

pub use crate::config::ForwardingHeader;

/// Refused credentials per address and credential.
#[derive(Debug)]
pub struct Throttle {
    limiter: DefaultKeyedRateLimiter<(IpAddr, [u8; 32])>,
    clock: DefaultClock,
}

impl Throttle {
    /// Beyond this many remembered pairs, those whose budget is whole again are forgotten.
    const REMEMBERED: usize = 100_000;

    /// A throttle allowing `per_minute` refusals of one credential from one address a
    /// minute (all at once, or spread).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let clock = DefaultClock::default();
        Self {
            limiter: RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute), clock.clone()),
            clock,
        }
    }

    /// Counts one refusal of `credential` (the `Authorization` header as sent) from
    /// `address`: `Err` with how long to wait when the pair is over its budget.
    pub fn refused(&self, address: IpAddr, credential: &[u8]) -> Result<(), Duration> {
        if self.limiter.len() > Self::REMEMBERED {
            self.limiter.retain_recent();
        }
        let key = (address, Sha256::digest(credential).into());
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// The proxies whose forwarding header is believed (`TRUSTED_PROXIES`: addresses or
/// networks, `10.0.0.5`, `10.0.0.0/8`, `::1`; none by default), and which header they
/// write.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardingHeader,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ForwardingHeader) -> Self {
        Self { networks, header }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// The client's address: the peer's, or, while the hop in hand is a trusted proxy,
    /// the hop it names as the one before it. A hop a proxy names without an address
    /// (`unknown`, an obfuscated name, garbage) ends the walk at that proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut address = peer;
        if !self.trusts(address) {
            return address;
        }
        let mut hops = forwarded_for(headers, self.header);
        while self.trusts(address) {
            match hops.pop() {
                Some(Some(hop)) => address = hop,
                Some(None) | None => break,
            }
        }
        address
    }
}

/// The `for` addresses of the forwarding header, the client first and the nearest hop
/// last. `None` for a hop named without a readable address.
fn forwarded_for(headers: &HeaderMap, which: ForwardingHeader) -> Vec<Option<IpAddr>> {
    let name = match which {
        ForwardingHeader::XForwardedFor => header::X_FORWARDED_FOR,
        ForwardingHeader::Forwarded => header::FORWARDED,
    };
    let value = headers
        .get_all(name)
        .map(|value| value.to_str().unwrap_or("unknown").to_owned())
        .collect::<Vec<_>>()
        .join(",");
    if value.trim().is_empty() {
        return Vec::new();
    }
    value
        .split(',')
        .map(|element| match which {
            ForwardingHeader::XForwardedFor => node_address(element),
            ForwardingHeader::Forwarded => element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| node_address(node)),
        })
        .collect()
}

/// The address of a node as forwarding headers write it: `192.0.2.1`, `192.0.2.1:8080`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(address) = node.parse() {
        return Some(address);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            ForwardingHeader::XForwardedFor,
        );
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.7, 10.1.1.1")]);
        // A peer that is no proxy of ours: its headers are its own invention.
        assert_eq!(
            proxies.client(ip("198.51.100.1"), &forwarded),
            ip("198.51.100.1")
        );
        // Through two trusted hops, to the first address no proxy of ours holds.
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &forwarded),
            ip("203.0.113.7")
        );
        // A client that writes its own X-Forwarded-For is believed only up to its own hop.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &spoofed), ip("203.0.113.7"));
        // No proxy configured: never believed.
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.5"), &forwarded), ip("10.0.0.5"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &HeaderMap::new()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read_in_any_spelling_of_its_nodes() {
        let both = headers(&[
            ("x-forwarded-for", "198.51.100.9"),
            (
                "forwarded",
                r#"for="[2001:db8::1]:4711";proto=https, For=192.0.2.60:80"#,
            ),
        ]);
        // A proxy that appends to X-Forwarded-For passes a client's own Forwarded on as
        // it came: it is not read.
        let appending = TrustedProxies::new(
            vec!["10.0.0.5/32".parse().unwrap()],
            ForwardingHeader::XForwardedFor,
        );
        assert_eq!(appending.client(ip("10.0.0.5"), &both), ip("198.51.100.9"));
        let rfc = |networks: &[&str]| {
            TrustedProxies::new(
                networks.iter().map(|n| n.parse().unwrap()).collect(),
                ForwardingHeader::Forwarded,
            )
        };
        assert_eq!(
            rfc(&["10.0.0.5/32"]).client(ip("10.0.0.5"), &both),
            ip("192.0.2.60")
        );
        assert_eq!(
            rfc(&["10.0.0.5/32", "192.0.2.60/32"]).client(ip("10.0.0.5"), &both),
            ip("2001:db8::1")
        );
        // An unknown hop stops the walk at the proxy that wrote it.
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(
            rfc(&["10.0.0.5/32"]).client(ip("10.0.0.5"), &unknown),
            ip("10.0.0.5")
        );
        let ports = headers(&[("x-forwarded-for", "192.0.2.1:5000, [2001:db8::2]:443")]);
        let both_trusted = TrustedProxies::new(
            vec![
                "10.0.0.5/32".parse().unwrap(),
                "2001:db8::2/128".parse().unwrap(),
            ],
            ForwardingHeader::XForwardedFor,
        );
        assert_eq!(both_trusted.client(ip("10.0.0.5"), &ports), ip("192.0.2.1"));
    }

    #[test]
    fn only_the_refused_credential_of_one_address_is_held_back() {
        let throttle = Throttle::new(3);
        let (here, there) = (ip("192.0.2.1"), ip("192.0.2.2"));
        for _ in 0..3 {
            assert!(throttle.refused(here, b"Bearer stale").is_ok());
        }
        let wait = throttle.refused(here, b"Bearer stale").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Another credential from the same address, the same one from another: counted
        // apart.
        assert!(throttle.refused(here, b"Bearer other").is_ok());
        assert!(throttle.refused(there, b"Bearer stale").is_ok());
    }
}
