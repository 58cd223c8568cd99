//! Verified API keys (with a personal key's account), and the accounts linked to the
//! people OpenID Connect tokens name, kept in memory, so an authenticated request costs
//! one database round trip (its own), not two.
//!
//! A key or an account stays valid in memory only while nothing says it changed (the
//! trigger below fires on changes to accounts and their identities too):
//! - revoking through this process forgets every key before the revocation is answered;
//! - any other change to a key's standing (a revocation by another instance or by
//!   `keys revoke`, an expiry or role changed in SQL) fires a trigger that notifies the
//!   channel [`CHANNEL`]; each process listens on it over a connection of its own and
//!   forgets every key when a notification arrives;
//! - while that listening connection is down, no key is served from memory at all;
//! - an entry is never used past its time to live (`API_KEY_CACHE_SECS`), whatever the
//!   notifications say.
//!
//! Unknown, revoked and expired tokens are never kept: they always go to the database.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::db::accounts::Account;
use crate::db::keys::Credential;
use crate::metrics::KeyCacheMetrics;

/// The notification channel the `api_keys` trigger notifies.
pub const CHANNEL: &str = "cppcc_api_keys";

/// The most entries kept; past it the cache starts again empty (there are few keys).
const CAPACITY: usize = 10_000;

/// Values kept by key, each with when it was stored.
#[derive(Debug)]
struct Kept<K, V>(HashMap<K, (V, Instant)>);

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Kept<K, V> {
    fn get<Q>(&self, key: &Q, time_to_live: Duration) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let (value, stored_at) = self.0.get(key)?;
        (stored_at.elapsed() < time_to_live).then(|| value.clone())
    }

    fn put(&mut self, key: K, value: V) {
        if self.0.len() >= CAPACITY {
            self.0.clear();
        }
        self.0.insert(key, (value, Instant::now()));
    }
}

#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every forgetting: an answer read from the database before a forgetting
    /// may not be stored after it.
    generation: u64,
    keys: Kept<Vec<u8>, Credential>,
    /// Accounts by the issuer and subject of the OpenID Connect identity linked to them.
    people: Kept<(String, String), Account>,
}

/// Verified keys by token hash; see the module documentation for when they are trusted.
#[derive(Debug)]
pub struct KeyCache {
    time_to_live: Duration,
    listening: AtomicBool,
    entries: RwLock<Entries>,
    metrics: KeyCacheMetrics,
}

/// A point in the cache's history: what was read from the database after it may be
/// stored only if nothing was forgotten since.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl KeyCache {
    /// A cache keeping keys for `time_to_live`; zero keeps none.
    pub fn new(time_to_live: Duration) -> Self {
        Self {
            time_to_live,
            listening: AtomicBool::new(false),
            entries: RwLock::default(),
            metrics: KeyCacheMetrics::default(),
        }
    }

    /// Whether keys are currently served from memory: remembering is on and the listener
    /// is connected.
    pub fn is_listening(&self) -> bool {
        !self.time_to_live.is_zero() && self.listening.load(Ordering::Acquire)
    }

    /// The verified key with this token hash, if it is kept and may be trusted.
    pub fn get(&self, hash: &[u8]) -> Option<Credential> {
        self.lookup(|entries| entries.keys.get(hash, self.time_to_live))
    }

    /// The account linked to this issuer's subject, if it is kept and may be trusted.
    pub fn person(&self, issuer: &str, subject: &str) -> Option<Account> {
        self.lookup(|entries| {
            entries
                .people
                .get(&(issuer.to_owned(), subject.to_owned()), self.time_to_live)
        })
    }

    fn lookup<T>(&self, find: impl FnOnce(&Entries) -> Option<T>) -> Option<T> {
        let found = if self.is_listening() {
            self.entries.read().ok().and_then(|entries| find(&entries))
        } else {
            None
        };
        self.metrics.lookup(found.is_some());
        found
    }

    /// Where the cache stands, taken before reading a key from the database.
    pub fn generation(&self) -> Generation {
        Generation(
            self.entries
                .read()
                .map(|e| e.generation)
                .unwrap_or(u64::MAX),
        )
    }

    /// Keeps a key verified against the database, unless anything was forgotten since
    /// `seen` (the key read may already be stale).
    pub fn put(&self, hash: Vec<u8>, key: Credential, seen: Generation) {
        self.store(seen, |entries| entries.keys.put(hash, key));
    }

    /// Keeps the account linked to an issuer's subject, read from the database, unless
    /// anything was forgotten since `seen`.
    pub fn put_person(&self, issuer: &str, subject: &str, account: Account, seen: Generation) {
        self.store(seen, |entries| {
            entries
                .people
                .put((issuer.to_owned(), subject.to_owned()), account);
        });
    }

    fn store(&self, seen: Generation, keep: impl FnOnce(&mut Entries)) {
        if !self.is_listening() {
            return;
        }
        if let Ok(mut entries) = self.entries.write()
            && entries.generation == seen.0
        {
            keep(&mut entries);
        }
    }

    /// Records that the key was just marked used, so it is not marked again for a minute.
    pub fn touch(&self, hash: &[u8], at: DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.write()
            && let Some((credential, _)) = entries.keys.0.get_mut(hash)
        {
            credential.key.last_used_at = Some(at);
        }
    }

    /// Forgets every key: the next use of each is checked against the database.
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.generation += 1;
            entries.keys = Kept::default();
            entries.people = Kept::default();
        }
    }

    /// Its counts, for the metrics.
    pub fn metrics(&self) -> &KeyCacheMetrics {
        &self.metrics
    }

    /// Starts or stops serving from memory; either way what is kept is forgotten, and a
    /// key read from the database before the change is not kept after it.
    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
        self.metrics
            .listening(listening && !self.time_to_live.is_zero());
        self.forget_all();
    }

    /// Listens for key changes on a connection of its own for as long as the process runs,
    /// reconnecting a second after losing it. Keys are served from memory only while it
    /// listens.
    pub async fn listen(&self, database_url: String) {
        if self.time_to_live.is_zero() {
            return;
        }
        let Ok(mut config) = database_url.parse::<tokio_postgres::Config>() else {
            return;
        };
        // A connection that dies without a word is noticed within about 25 s (and no
        // entry outlives its time to live meanwhile).
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        loop {
            match self.listen_once(&config).await {
                Ok(()) => tracing::warn!("the key-change listener's connection closed"),
                Err(error) => {
                    tracing::warn!(%error, "the key-change listener's connection failed");
                }
            }
            self.set_listening(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(
        &self,
        config: &tokio_postgres::Config,
    ) -> Result<(), tokio_postgres::Error> {
        let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let statement = format!("LISTEN {CHANNEL}");
        {
            // The connection must be driven for LISTEN to complete.
            let mut listen = std::pin::pin!(client.batch_execute(&statement));
            loop {
                tokio::select! {
                    done = &mut listen => { done?; break; }
                    message = messages.next() => match message {
                        Some(Ok(_)) => {}
                        Some(Err(error)) => return Err(error),
                        None => return Ok(()),
                    },
                }
            }
        }
        self.metrics.listener_connected();
        self.set_listening(true);
        while let Some(message) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(_) = message? {
                self.forget_all();
            }
        }
        drop(client);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ApiKeyId;
    use crate::domain::kinds::Role;

    fn key() -> Credential {
        Credential {
            key: crate::db::keys::ApiKey {
                id: ApiKeyId::generate(),
                name: "k".into(),
                role: Role::Admin,
                district_id: None,
                created_at: Utc::now(),
                last_used_at: None,
                expires_at: None,
                revoked_at: None,
                account_id: None,
            },
            account: None,
        }
    }

    fn listening(ttl: Duration) -> KeyCache {
        let cache = KeyCache::new(ttl);
        cache.set_listening(true);
        cache
    }

    #[test]
    fn a_kept_key_is_served_until_forgotten() {
        let cache = listening(Duration::from_secs(30));
        let seen = cache.generation();
        cache.put(b"h".to_vec(), key(), seen);
        assert!(cache.get(b"h").is_some());
        cache.forget_all();
        assert!(cache.get(b"h").is_none());
        assert_eq!(cache.metrics().counts(), (1, 1, 0));
    }

    #[test]
    fn a_key_read_before_a_forgetting_is_not_kept() {
        let cache = listening(Duration::from_secs(30));
        let seen = cache.generation();
        cache.forget_all();
        cache.put(b"h".to_vec(), key(), seen);
        assert!(cache.get(b"h").is_none());
    }

    #[test]
    fn nothing_is_served_while_not_listening_or_past_its_time() {
        let cache = KeyCache::new(Duration::from_secs(30));
        cache.put(b"h".to_vec(), key(), cache.generation());
        assert!(cache.get(b"h").is_none(), "not listening");
        cache.set_listening(true);
        cache.put(b"h".to_vec(), key(), cache.generation());
        cache.set_listening(false);
        assert!(cache.get(b"h").is_none(), "stopped listening");

        let cache = listening(Duration::from_millis(1));
        cache.put(b"h".to_vec(), key(), cache.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(b"h").is_none(), "expired");

        let cache = listening(Duration::ZERO);
        cache.put(b"h".to_vec(), key(), cache.generation());
        assert!(cache.get(b"h").is_none(), "disabled");
    }
}
