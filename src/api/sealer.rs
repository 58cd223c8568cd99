//! The audit trail's sealer: chains the events writes leave pending, soon after they
//! commit.
//!
//! A write stores its events unchained in its own transaction (see
//! [`crate::db::audit::append_all`]), so writes never wait for each other. This task
//! chains them: woken after every successful write this process answers (then letting
//! further writes gather for 50 ms, so a busy round chains many), and every second in any
//! case (for writes of other processes: the command line, other instances). Readers
//! of the trail seal before they read, so nothing depends on how soon this runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tokio::sync::Notify;

use crate::db::{self, DbPool};
use crate::domain::checkpoint::Signer;

/// How long the sealer waits for a write before looking anyway.
const BACKSTOP: Duration = Duration::from_secs(1);

/// How long the sealer lets writes gather after it is woken: under load a round then
/// chains many writes in one transaction instead of a few in each of many.
const GATHER: Duration = Duration::from_millis(50);

/// The process's sealer: its wake-up, the key it signs checkpoints with, and its counts.
#[derive(Debug)]
pub struct Sealer {
    wake: Notify,
    signer: Arc<Signer>,
    /// How long after the last checkpoint new events are signed.
    checkpoint_interval: Duration,
    rounds: AtomicU64,
    events: AtomicU64,
    failures: AtomicU64,
    checkpoints: AtomicU64,
}

impl Sealer {
    pub fn new(signer: Arc<Signer>, checkpoint_interval: Duration) -> Self {
        Self {
            wake: Notify::new(),
            signer,
            checkpoint_interval,
            rounds: AtomicU64::new(0),
            events: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
        }
    }

    /// Checkpoints this process signed.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// Asks for a round soon; wake-ups that come while a round runs make one more round,
    /// not one each.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Rounds that sealed something, events sealed, and rounds that failed.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.rounds.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// Seals whenever woken, and every second, until the task is aborted. A failed round
    /// (the database away) is logged and counted; the events wait in the database for the
    /// next one.
    pub async fn run(&self, pool: web::Data<DbPool>) {
        let mut signing = SigningDue::default();
        loop {
            if tokio::time::timeout(BACKSTOP, self.wake.notified())
                .await
                .is_ok()
            {
                tokio::time::sleep(GATHER).await;
            }
            match self.round(&pool, &mut signing).await {
                Ok(0) => {}
                Ok(events) => {
                    self.rounds.fetch_add(1, Ordering::Relaxed);
                    self.events.fetch_add(events, Ordering::Relaxed);
                }
                Err(error) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "sealing the audit trail failed; retrying");
                }
            }
        }
    }

    /// Chains what is pending, then signs a checkpoint if one may be due.
    async fn round(&self, pool: &DbPool, signing: &mut SigningDue) -> Result<u64, String> {
        let mut conn = pool.get().await.map_err(|error| error.to_string())?;
        let sealed = db::audit::seal(&mut conn)
            .await
            .map_err(|error| error.to_string())?;
        let events = u64::try_from(sealed.events).unwrap_or(0);
        signing.events += events;
        if signing.now(self.checkpoint_interval) {
            let signed =
                db::checkpoints::sign_due(&mut conn, &self.signer, self.checkpoint_interval)
                    .await
                    .map_err(|error| error.to_string())?;
            signing.looked();
            self.checkpoints
                .fetch_add(u64::try_from(signed).unwrap_or(0), Ordering::Relaxed);
        }
        Ok(events)
    }
}

/// When the sealer next looks whether a checkpoint is due: a round under load runs many
/// times a second, and looking costs a transaction. It looks at once when it has itself
/// chained a block's worth of events, and otherwise at most once a second (or once per
/// interval, if shorter): a checkpoint of another instance's events, or of the interval,
/// comes at most that much late.
#[derive(Debug, Default)]
struct SigningDue {
    /// When it last looked; never, at first.
    looked_at: Option<Instant>,
    /// Events this process chained since.
    events: u64,
}

impl SigningDue {
    fn now(&self, interval: Duration) -> bool {
        let block = u64::try_from(db::checkpoints::EVENTS_PER_CHECKPOINT).unwrap_or(u64::MAX);
        self.events >= block
            || self
                .looked_at
                .is_none_or(|at| at.elapsed() >= interval.min(BACKSTOP))
    }

    fn looked(&mut self) {
        self.looked_at = Some(Instant::now());
        self.events = 0;
    }
}

/// Wakes the sealer after every successful write (its transaction has committed by the
/// time its answer exists).
pub async fn wake_after_writes(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let writes = !request.method().is_safe();
    let sealer = request.app_data::<web::Data<Sealer>>().cloned();
    let response = next.call(request).await?;
    if let Some(sealer) = sealer.filter(|_| writes && response.status().is_success()) {
        sealer.wake();
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sealer_looks_for_a_due_checkpoint_first_then_once_a_second_or_per_block() {
        let mut signing = SigningDue::default();
        assert!(
            signing.now(Duration::from_secs(60)),
            "it looks in its first round"
        );
        signing.looked();
        assert!(
            !signing.now(Duration::from_secs(60)),
            "not again within the second"
        );
        assert!(
            signing.now(Duration::ZERO),
            "a shorter interval is looked at as it passes"
        );
        signing.events = u64::try_from(db::checkpoints::EVENTS_PER_CHECKPOINT).unwrap() - 1;
        assert!(!signing.now(Duration::from_secs(60)));
        signing.events += 1;
        assert!(
            signing.now(Duration::from_secs(60)),
            "a block's worth is looked at at once"
        );
        signing.looked();
        assert_eq!(signing.events, 0);
        signing.looked_at = Instant::now().checked_sub(BACKSTOP);
        assert!(
            signing.now(Duration::from_secs(60)),
            "and every second in any case"
        );
    }
}
