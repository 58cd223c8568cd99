//! The audit trail's sealer: chains the events writes leave pending, soon after they
//! commit.
//!
//! A write stores its events unchained in its own transaction (see
//! [`crate::db::audit::append_all`]), so writes never wait for each other. This task
//! chains them: woken after every successful write this process answers (then letting
//! further writes gather for 50 ms, so a busy round chains many), and every second in any
//! case (for writes of other processes: the command line, other instances). Readers
//! of the trail seal before they read, so nothing depends on how soon this runs.  The
//! HTTP layer wakes it after every successful write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use actix_web::web;
use tokio::sync::Notify;

use crate::db::{self, DbPool};
use crate::domain::checkpoint::Signer;
use crate::metrics::SealerMetrics;

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
    metrics: SealerMetrics,
}

impl Sealer {
    pub fn new(signer: Arc<Signer>, checkpoint_interval: Duration) -> Self {
        Self {
            wake: Notify::new(),
            signer,
            checkpoint_interval,
            metrics: SealerMetrics::default(),
        }
    }

    /// Its counts, for the metrics.
    pub fn metrics(&self) -> &SealerMetrics {
        &self.metrics
    }

    /// Asks for a round soon; wake-ups that come while a round runs make one more round,
    /// not one each.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Seals whenever woken, and every second, until the task is aborted. A failed round
    /// (the database away) is logged and counted; the events wait in the database for the
    /// next one.
    pub async fn run(&self, pool: web::Data<DbPool>) {
        let mut signing = SigningDue::default();
        loop {
            let wait = signing.wait(Utc::now());
            let woken = tokio::time::timeout(wait, self.wake.notified())
                .await
                .is_ok();
            if woken {
                tokio::time::sleep(GATHER).await;
            }
            match self.round(&pool, &mut signing, woken).await {
                Ok(events) => self.metrics.sealed(events),
                Err(error) => {
                    self.metrics.failed();
                    tracing::warn!(%error, "sealing the audit trail failed; retrying");
                }
            }
        }
    }

    /// Chains what is pending, then signs a checkpoint if one may be due. `woken`: a write
    /// of this process woke it (its events may already be chained by a reader).
    async fn round(
        &self,
        pool: &DbPool,
        signing: &mut SigningDue,
        woken: bool,
    ) -> Result<u64, String> {
        let mut conn = pool.get().await.map_err(|error| error.to_string())?;
        let sealed = db::audit::seal(&mut conn)
            .await
            .map_err(|error| error.to_string())?;
        let events = u64::try_from(sealed.events).unwrap_or(0);
        if signing.should_look(events, woken, Utc::now()) {
            let done = db::checkpoints::sign_due(&mut conn, &self.signer, self.checkpoint_interval)
                .await
                .map_err(|error| error.to_string())?;
            signing.looked(done.next_due);
            self.metrics.signed(u64::try_from(done.signed).unwrap_or(0));
        }
        Ok(events)
    }
}

/// When the sealer looks whether a checkpoint is due. Looking costs a transaction, and a
/// round under load runs many times a second, so it looks only when one can be due:
/// - once the interval since the newest checkpoint (as the last look found it) has passed
///   after writes of this process (it wakes for that moment);
/// - at once when it has itself chained a block's worth of events;
/// - once a second in any case, for other instances' events (a checkpoint another
///   instance signed moves the due time on).
///
/// A checkpoint is thus signed at most a second after it is due.
#[derive(Debug, Default)]
struct SigningDue {
    /// When it last looked; never, at first.
    looked_at: Option<Instant>,
    /// When, by the last look, the events after the newest checkpoint fall due.
    next_due: Option<DateTime<Utc>>,
    /// Events this process chained since it last looked.
    events: u64,
    /// Whether writes came since it last looked (its own, or events it chained).
    owed: bool,
}

impl SigningDue {
    /// Records a round that chained `events`, woken by a write or not, and answers
    /// whether to look at `now`.
    fn should_look(&mut self, events: u64, woken: bool, now: DateTime<Utc>) -> bool {
        self.events += events;
        self.owed |= events > 0 || woken;
        let block = u64::try_from(db::checkpoints::EVENTS_PER_CHECKPOINT).unwrap_or(u64::MAX);
        let due = self.next_due.is_none_or(|due| now >= due);
        self.events >= block
            || (self.owed && due)
            || self.looked_at.is_none_or(|at| at.elapsed() >= BACKSTOP)
    }

    fn looked(&mut self, next_due: DateTime<Utc>) {
        self.looked_at = Some(Instant::now());
        self.next_due = Some(next_due);
        self.events = 0;
        self.owed = false;
    }

    /// How long the sealer may wait for a wake-up: a second, or until what it owes falls
    /// due.
    fn wait(&self, now: DateTime<Utc>) -> Duration {
        match self.next_due {
            Some(due) if self.owed => (due - now).to_std().unwrap_or(Duration::ZERO).min(BACKSTOP),
            _ => BACKSTOP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sealer_looks_when_a_checkpoint_can_be_due_and_once_a_second() {
        let seconds = chrono::Duration::seconds;
        let start = Utc::now();
        let mut signing = SigningDue::default();
        assert!(
            signing.should_look(0, false, start),
            "it looks in its first round"
        );
        signing.looked(start + seconds(60));
        assert!(
            !signing.should_look(0, false, start),
            "an idle round within the second does not"
        );
        assert_eq!(
            signing.wait(start),
            BACKSTOP,
            "nothing owed: it waits a second"
        );
        assert!(
            !signing.should_look(5, false, start),
            "nor one that chained events not yet due"
        );
        assert_eq!(
            signing.wait(start + seconds(59)),
            Duration::from_secs(1),
            "events owed: at most until they fall due"
        );
        assert_eq!(
            signing.wait(start + seconds(59) + seconds(1) / 2),
            BACKSTOP / 2
        );
        assert_eq!(signing.wait(start + seconds(61)), Duration::ZERO);
        assert!(
            signing.should_look(0, false, start + seconds(61)),
            "then it looks"
        );
        signing.looked(start + seconds(121));
        assert!(
            !signing.should_look(0, true, start + seconds(61)),
            "a write's wake-up before due"
        );
        assert!(
            signing.should_look(0, true, start + seconds(121)),
            "and once due (a reader may have chained its events)"
        );
        signing.looked(start + seconds(181));
        let block = u64::try_from(db::checkpoints::EVENTS_PER_CHECKPOINT).unwrap();
        assert!(!signing.should_look(block - 1, false, start + seconds(121)));
        assert!(
            signing.should_look(1, false, start + seconds(121)),
            "a block's worth is looked at at once"
        );
        signing.looked(start + seconds(181));
        assert_eq!((signing.events, signing.owed), (0, false));
        signing.looked_at = Instant::now().checked_sub(BACKSTOP);
        assert!(
            signing.should_look(0, false, start),
            "and every second in any case"
        );
    }
}
