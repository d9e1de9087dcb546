//! `--concurrency auto`: as many requests in flight as the machine can time honestly.
//!
//! A controller widens the run's global limit while the client's scheduling lag (see
//! [`crate::run::lag`]) stays well under the threshold and every slot is busy, and narrows it as
//! soon as the lag goes over: additive increase, multiplicative decrease, as TCP does with its
//! window. Per-provider limits apply below it as with a fixed concurrency.
//!
//! Left out: a cloud's rate limit (429s are retried and reported, not steered by), and the
//! network: only the client's own lateness moves the level.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::run::lag::LagMonitor;

/// The most calls an automatic run opens at once unless told otherwise.
pub const AUTO_CEILING: usize = 1000;

/// A run's concurrency as a user gives it: a number, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    Fixed(usize),
    /// Follow the client's lag, up to this many at once.
    Auto {
        ceiling: usize,
    },
}

impl std::str::FromStr for Concurrency {
    type Err = String;

    /// `auto`, `auto:500` (with a ceiling) or a number of at least 1.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let positive = |number: &str| match number.parse::<usize>() {
            Ok(0) => Err("must be at least 1".to_owned()),
            Ok(number) => Ok(number),
            Err(_) => Err(format!("'{text}' is neither a number nor 'auto'")),
        };
        let lower = text.to_ascii_lowercase();
        if lower == "auto" {
            return Ok(Self::Auto { ceiling: AUTO_CEILING });
        }
        if let Some(ceiling) = lower.strip_prefix("auto:") {
            return Ok(Self::Auto {
                ceiling: positive(ceiling)?,
            });
        }
        positive(text).map(Self::Fixed)
    }
}

impl std::fmt::Display for Concurrency {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(level) => write!(formatter, "{level}"),
            Self::Auto { ceiling } if *ceiling == AUTO_CEILING => formatter.write_str("auto"),
            Self::Auto { ceiling } => write!(formatter, "auto:{ceiling}"),
        }
    }
}

impl Concurrency {
    /// The global limit (an automatic run's ceiling) and whether it is automatic.
    pub fn limit_and_auto(self) -> (usize, bool) {
        match self {
            Self::Fixed(level) => (level.max(1), false),
            Self::Auto { ceiling } => (ceiling.max(1), true),
        }
    }
}

/// How often the controller looks at the lag.
pub const CONTROL_PERIOD: Duration = Duration::from_millis(200);

/// Where an automatic run starts.
pub const START_LEVEL: usize = 8;

/// The level an automatic run reached, shared with whoever reports it.
#[derive(Clone, Debug, Default)]
pub struct Level {
    current: Arc<AtomicUsize>,
    highest: Arc<AtomicUsize>,
}

impl Level {
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    pub fn highest(&self) -> usize {
        self.highest.load(Ordering::Relaxed)
    }

    fn set(&self, level: usize) {
        self.current.store(level, Ordering::Relaxed);
        self.highest.fetch_max(level, Ordering::Relaxed);
    }
}

/// The next level from the current one, the lag over the last period and whether every slot was
/// in use (no point widening a limit nobody reaches).
pub fn next_level(level: usize, ceiling: usize, lag: Duration, threshold: Duration, saturated_slots: bool) -> usize {
    if lag > threshold {
        (level * 3 / 4).max(1)
    } else if lag * 2 < threshold && saturated_slots {
        (level + (level / 4).max(2)).min(ceiling)
    } else {
        level
    }
}

/// Drives `semaphore`'s permits between 1 and `ceiling` by the lag `monitor` measures, until
/// the task is dropped. The semaphore must start with [`START_LEVEL`] (or `ceiling` if lower).
pub async fn control(
    semaphore: Arc<Semaphore>,
    monitor: LagMonitor,
    threshold: Duration,
    ceiling: usize,
    level: Level,
) {
    let mut current = START_LEVEL.min(ceiling).max(1);
    level.set(current);
    // Permits to take out of circulation as they come back from finished calls.
    let mut debt = 0_usize;
    let mut interval = tokio::time::interval(CONTROL_PERIOD);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let lag = monitor.take_recent();
        let busy = semaphore.available_permits() == 0;
        let next = next_level(current, ceiling, lag, threshold, busy && debt == 0);
        if next > current {
            let raise = next - current;
            let repaid = raise.min(debt);
            debt -= repaid;
            semaphore.add_permits(raise - repaid);
        } else if next < current {
            debt += current - next;
        }
        debt -= semaphore.forget_permits(debt);
        current = next;
        level.set(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLD: Duration = Duration::from_millis(5);

    #[test]
    fn concurrency_reads_numbers_and_auto() {
        assert_eq!("12".parse(), Ok(Concurrency::Fixed(12)));
        assert_eq!("auto".parse(), Ok(Concurrency::Auto { ceiling: AUTO_CEILING }));
        assert_eq!("AUTO:64".parse(), Ok(Concurrency::Auto { ceiling: 64 }));
        assert!("0".parse::<Concurrency>().is_err());
        assert!("auto:0".parse::<Concurrency>().is_err());
        assert!(
            "lots"
                .parse::<Concurrency>()
                .expect_err("not a level")
                .contains("'lots'")
        );
        for text in ["7", "auto", "auto:64"] {
            assert_eq!(
                text.parse::<Concurrency>().map(|value| value.to_string()),
                Ok(text.to_owned())
            );
        }
    }

    #[test]
    fn widens_while_the_lag_is_low_and_the_slots_are_full() {
        assert_eq!(next_level(8, 1000, Duration::from_millis(1), THRESHOLD, true), 10);
        assert_eq!(next_level(100, 1000, Duration::from_millis(1), THRESHOLD, true), 125);
        assert_eq!(next_level(990, 1000, Duration::ZERO, THRESHOLD, true), 1000);
        // Nobody waits for a slot: no reason to open more.
        assert_eq!(next_level(100, 1000, Duration::ZERO, THRESHOLD, false), 100);
        // Between half the threshold and the threshold: hold.
        assert_eq!(next_level(100, 1000, Duration::from_millis(3), THRESHOLD, true), 100);
    }

    #[test]
    fn narrows_as_soon_as_the_lag_is_over_the_threshold() {
        assert_eq!(next_level(100, 1000, Duration::from_millis(6), THRESHOLD, true), 75);
        assert_eq!(next_level(1, 1000, Duration::from_millis(60), THRESHOLD, true), 1);
    }

    #[tokio::test]
    async fn the_semaphore_follows_the_level() {
        let semaphore = Arc::new(Semaphore::new(START_LEVEL));
        let monitor = LagMonitor::new();
        let level = Level::default();
        // Every slot taken: the controller may widen.
        let held = Arc::clone(&semaphore)
            .acquire_many_owned(START_LEVEL as u32)
            .await
            .expect("permits");
        let controller = tokio::spawn(control(
            Arc::clone(&semaphore),
            monitor.clone(),
            THRESHOLD,
            64,
            level.clone(),
        ));
        tokio::time::sleep(CONTROL_PERIOD * 3).await;
        let widened = level.current();
        assert!(widened > START_LEVEL, "level {widened}");
        assert_eq!(semaphore.available_permits() + START_LEVEL, widened);
        // A lag over the threshold narrows it; the permits held are taken back as they return.
        monitor.record(tokio::time::Instant::now(), Duration::from_millis(40));
        tokio::time::sleep(CONTROL_PERIOD + CONTROL_PERIOD / 2).await;
        let narrowed = level.current();
        assert!(narrowed < widened, "{narrowed} after {widened}");
        drop(held);
        tokio::time::sleep(CONTROL_PERIOD + CONTROL_PERIOD / 2).await;
        assert!(semaphore.available_permits() <= level.current());
        controller.abort();
    }
}
