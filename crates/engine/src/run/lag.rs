//! How late the client itself is: a ticker's lateness while streams are open.
//!
//! A timing is only the cloud's when the task that stamps a chunk runs as the chunk arrives. On a
//! machine that is short of CPU (a thousand streams on two cores) tasks queue, a chunk waits in
//! its socket, and its stamp — time to first token, total time — grows by the wait. Nothing in a
//! stream shows that. A ticker task does: it asks to wake every [`TICK`] and records how late each
//! wake-up came. Ready tasks share the runtime's queues, so the ticker waits as long as a stream's
//! task would; its lateness at a moment is the client's scheduling lag then.
//!
//! A response asks the monitor for the lag around the moments its timings rest on (its request
//! going out, its first token, its end): the worst lateness of every tick whose wait overlaps the
//! moment, and the tick still pending if it is already overdue. A response whose lag could have
//! moved a timing by more than a threshold is marked `client_saturated` by the runner.
//!
//! The ticker's period follows how many streams are open ([`period_for`]): every [`TICK`] from
//! [`BUSY_STREAMS`] open streams up, where the client's own load can make it late, and up to
//! [`IDLE_TICK`] with a stream or two, where a runtime parked between chunks would otherwise be
//! woken 500 times a second to find itself on time (about a quarter of the whole CPU of a
//! concurrency-4 run). A longer period still measures any stall that covers a tick, but can miss a
//! short one between two ticks: at low concurrency that can only be another process's load.
//!
//! Left out: why the client is late (profiles), and lateness on other threads (the store writer
//! runs on its own thread and never holds a stream back until its queue is full).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How often the ticker asks to wake. The runtime's timer has a 1 ms resolution, so a wake-up
/// is up to about 1 ms late on an idle machine: lateness below that is the timer's, not load.
pub const TICK: Duration = Duration::from_millis(2);

/// The longest period, with one stream open (see [`period_for`]).
pub const IDLE_TICK: Duration = Duration::from_millis(10);

/// From this many open streams up the ticker wakes every [`TICK`].
pub const BUSY_STREAMS: usize = 16;

/// The ticker's period with `open` streams open: [`TICK`] × [`BUSY_STREAMS`] / `open`, between
/// [`TICK`] and [`IDLE_TICK`].
pub fn period_for(open: usize) -> Duration {
    let scaled = TICK.saturating_mul(u32::try_from(BUSY_STREAMS).unwrap_or(u32::MAX))
        / u32::try_from(open.max(1)).unwrap_or(u32::MAX);
    scaled.clamp(TICK, IDLE_TICK)
}

/// How many ticks the monitor remembers (about 65 s at [`TICK`]): enough to answer for a
/// response's first token when it ends, even a long answer.
const KEPT_TICKS: usize = 32_768;

/// The default threshold above which a response's timings are marked `client_saturated`.
pub const DEFAULT_LAG_THRESHOLD: Duration = Duration::from_millis(5);

/// The client's scheduling lag over time, measured by a ticker task while a run is open.
#[derive(Clone, Debug)]
pub struct LagMonitor {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    epoch: Instant,
    /// When the pending tick is due, in µs since `epoch`; `u64::MAX` while none is pending.
    next_due_us: AtomicU64,
    /// The worst lateness seen, in µs.
    worst_us: AtomicU64,
    /// The worst lateness since [`LagMonitor::take_recent`] last asked, in µs.
    recent_us: AtomicU64,
    /// Past ticks, oldest first: (due, lateness) in µs.
    ticks: Mutex<VecDeque<(u64, u64)>>,
    /// How many streams are open now (see [`LagMonitor::stream_open`]).
    open: AtomicUsize,
}

/// Counts one open stream until dropped.
#[derive(Debug)]
pub struct OpenStream {
    shared: Arc<Shared>,
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Stops the ticker when dropped.
#[derive(Debug)]
pub struct Ticker {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LagMonitor {
    /// A monitor with no ticker: it reports what it is told ([`Self::record`]), for tests.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                epoch: Instant::now(),
                next_due_us: AtomicU64::new(u64::MAX),
                worst_us: AtomicU64::new(0),
                recent_us: AtomicU64::new(0),
                ticks: Mutex::new(VecDeque::with_capacity(1024)),
                open: AtomicUsize::new(0),
            }),
        }
    }

    /// Starts the ticker on the current runtime; it runs until the returned guard is dropped.
    pub fn start(&self) -> Ticker {
        let monitor = self.clone();
        let task = tokio::spawn(async move {
            let mut due = Instant::now() + TICK;
            loop {
                monitor.shared.next_due_us.store(monitor.micros(due), Ordering::Release);
                tokio::time::sleep_until(due).await;
                let woke = Instant::now();
                monitor.record(due, woke.saturating_duration_since(due));
                // The next tick is due a period after this wake-up, not after the missed due
                // time: a late runtime is measured once, not again by a burst of catch-up ticks.
                due = woke + period_for(monitor.shared.open.load(Ordering::Relaxed));
            }
        });
        Ticker { task }
    }

    /// Counts a stream as open until the guard is dropped: the ticker's period follows the count.
    pub fn stream_open(&self) -> OpenStream {
        self.shared.open.fetch_add(1, Ordering::Relaxed);
        OpenStream {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Records a tick due at `due` that came `late`.
    pub fn record(&self, due: Instant, late: Duration) {
        let due_us = self.micros(due);
        let late_us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.shared.worst_us.fetch_max(late_us, Ordering::Relaxed);
        self.shared.recent_us.fetch_max(late_us, Ordering::Relaxed);
        let mut ticks = self.shared.ticks.lock().unwrap_or_else(PoisonError::into_inner);
        if ticks.len() == KEPT_TICKS {
            ticks.pop_front();
        }
        ticks.push_back((due_us, late_us));
    }

    /// The worst lateness since the last call (or the start), the pending tick's included if it
    /// is overdue now; for a controller that adjusts to the lag as it goes.
    pub fn take_recent(&self) -> Duration {
        let recent = self.shared.recent_us.swap(0, Ordering::Relaxed);
        let now_us = self.micros(Instant::now());
        let pending = self.shared.next_due_us.load(Ordering::Acquire);
        let overdue = now_us.saturating_sub(pending);
        Duration::from_micros(recent.max(overdue))
    }

    /// The worst lateness seen since the monitor was made.
    pub fn worst(&self) -> Duration {
        Duration::from_micros(self.shared.worst_us.load(Ordering::Relaxed))
    }

    /// The client's lag around `moment`: the worst lateness of any tick that was waiting at
    /// `moment` (due before it, woken after it) or woke within [`TICK`] before it, and of the
    /// pending tick if it was due by `moment` and has not run by `now` (its lateness so far).
    pub fn lag_around(&self, moment: Instant, now: Instant) -> Duration {
        let moment_us = self.micros(moment);
        let now_us = self.micros(now);
        let tick_us = u64::try_from(TICK.as_micros()).unwrap_or(u64::MAX);
        let from_us = moment_us.saturating_sub(tick_us);
        let mut worst = 0_u64;
        {
            let ticks = self.shared.ticks.lock().unwrap_or_else(PoisonError::into_inner);
            // Ticks are recorded in due order; those due after the moment cannot cover it.
            let end = ticks.partition_point(|(due, _)| *due <= moment_us);
            for (due, late) in ticks.range(..end).rev() {
                if due.saturating_add(*late) < from_us {
                    // Each tick is armed after the previous one woke, so once one woke before
                    // the window, every earlier one did too.
                    break;
                }
                worst = worst.max(*late);
            }
        }
        let pending = self.shared.next_due_us.load(Ordering::Acquire);
        // Overdue at the moment and still not run: the client is late by at least this much.
        if pending <= moment_us && pending <= now_us {
            worst = worst.max(now_us - pending);
        }
        Duration::from_micros(worst)
    }

    fn micros(&self, instant: Instant) -> u64 {
        u64::try_from(instant.saturating_duration_since(self.shared.epoch).as_micros()).unwrap_or(u64::MAX)
    }
}

impl Default for LagMonitor {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_thread_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    }

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn a_late_tick_covers_the_moments_it_was_waiting_through() {
        let monitor = LagMonitor::new();
        let epoch = Instant::now();
        // On time until 10 ms, then a tick due at 12 ms that woke at 32 ms, then on time again.
        for due in [2, 4, 6, 8, 10] {
            monitor.record(epoch + ms(due), Duration::from_micros(300));
        }
        monitor.record(epoch + ms(12), ms(20));
        monitor.record(epoch + ms(34), Duration::from_micros(200));
        let later = epoch + ms(100);
        assert_eq!(monitor.lag_around(epoch + ms(5), later), Duration::from_micros(300));
        assert_eq!(monitor.lag_around(epoch + ms(20), later), ms(20));
        assert_eq!(monitor.lag_around(epoch + ms(31), later), ms(20));
        // Just after the stall: the 34 ms tick came on time.
        assert_eq!(monitor.lag_around(epoch + ms(35), later), Duration::from_micros(200));
        // Long after the last tick, nothing waiting and nothing pending says nothing.
        assert_eq!(monitor.lag_around(epoch + ms(60), later), Duration::ZERO);
        assert_eq!(monitor.worst(), ms(20));
    }

    #[test]
    fn an_overdue_pending_tick_counts_before_it_wakes() {
        let monitor = LagMonitor::new();
        let epoch = Instant::now();
        monitor.record(epoch + ms(2), Duration::ZERO);
        monitor
            .shared
            .next_due_us
            .store(monitor.micros(epoch + ms(4)), Ordering::Release);
        // At 30 ms the tick due at 4 ms has not run: the client is at least 26 ms late.
        assert_eq!(monitor.lag_around(epoch + ms(29), epoch + ms(30)), ms(26));
        // A pending tick not yet due says nothing.
        monitor
            .shared
            .next_due_us
            .store(monitor.micros(epoch + ms(40)), Ordering::Release);
        assert_eq!(monitor.lag_around(epoch + ms(29), epoch + ms(30)), Duration::ZERO);
    }

    #[test]
    fn a_starved_runtime_shows_as_lag_and_an_idle_one_does_not() {
        let runtime = one_thread_runtime();
        runtime.block_on(async {
            let monitor = LagMonitor::new();
            let _ticker = monitor.start();
            tokio::time::sleep(ms(30)).await;
            let idle = monitor.worst();
            assert!(idle < ms(5), "an idle runtime lagged {idle:?}");
            // A task that holds the only thread for 40 ms. With no stream open the ticker runs
            // every IDLE_TICK, so the tick the stall delays most is late by at least the stall
            // less one period (the stall may begin just before a tick was due).
            let stall = ms(40);
            let stalled_at = Instant::now();
            #[expect(
                clippy::disallowed_methods,
                reason = "the stall under test: blocking the runtime's only thread"
            )]
            std::thread::sleep(stall);
            tokio::time::sleep(ms(10)).await;
            let lag = monitor.lag_around(stalled_at + ms(10), Instant::now());
            assert!(lag >= stall - IDLE_TICK - ms(2), "a 40 ms stall measured as {lag:?}");
        });
    }

    #[test]
    fn the_period_shortens_as_streams_open_and_lengthens_as_they_close() {
        assert_eq!(period_for(0), IDLE_TICK);
        assert_eq!(period_for(1), IDLE_TICK);
        assert_eq!(period_for(4), ms(8));
        assert_eq!(period_for(8), ms(4));
        assert_eq!(period_for(BUSY_STREAMS), TICK);
        assert_eq!(period_for(1000), TICK);
        let monitor = LagMonitor::new();
        let first = monitor.stream_open();
        let second = monitor.stream_open();
        assert_eq!(monitor.shared.open.load(Ordering::Relaxed), 2);
        drop(first);
        drop(second);
        assert_eq!(monitor.shared.open.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let runtime = one_thread_runtime();
        runtime.block_on(async {
            let monitor = LagMonitor::new();
            let epoch = Instant::now();
            for tick in 0..(KEPT_TICKS as u64 + 10) {
                monitor.record(epoch + Duration::from_micros(tick * 2000), Duration::ZERO);
            }
            let kept = monitor.shared.ticks.lock().expect("the lock").len();
            assert_eq!(kept, KEPT_TICKS);
        });
    }
}
