//! Turns a sequence of timed frames into an HTTP response body.
//!
//! A frame source says what bytes go out and at which instant; this driver
//! sleeps until then (against deadlines, so delays never accumulate drift
//! under load), cuts frames into `split`-sized pieces, stamps the request log
//! with the first content token's time and with completion, and ends the
//! body early when the server shuts down. Nothing is buffered beyond the
//! frame being sent.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::server::request_log::RecordHandle;

pub(crate) mod generated;
pub(crate) mod replay;

/// Bytes to send no earlier than `at`.
pub(crate) struct Frame {
    /// `None` sends at once (headers and preamble).
    pub at: Option<Instant>,
    pub bytes: Bytes,
    /// This frame carries the first content token.
    pub first_content: bool,
}

/// What a source does next.
pub(crate) enum Step {
    Send(Frame),
    /// End the body cleanly.
    Finish,
    /// Abort the connection mid-body, so the client sees a transport error.
    Abort,
}

/// Produces the frames of one response, lazily.
pub(crate) trait FrameSource: Send + 'static {
    fn next_step(&mut self) -> Step;
}

/// How long to let already-written bytes reach the socket before an abort,
/// since hyper drops its write buffer when a body errors.
const FLUSH_BEFORE_ABORT: Duration = Duration::from_millis(20);

/// Keeping the connection open once the body is sent (`hold_ms`), as a server or proxy that
/// does not close after a complete answer does.
pub(crate) struct Hold {
    pub duration: Duration,
    /// A keep-alive (its interval and bytes) to send while holding; `None` holds in silence.
    pub keep_alive: Option<(Duration, Bytes)>,
}

/// A hold in progress: when it ends and when the next keep-alive is due.
struct Holding {
    until: Instant,
    next_keep_alive: Option<Instant>,
}

pub(crate) struct BodyDriver {
    source: Box<dyn FrameSource>,
    pending: VecDeque<Bytes>,
    split: Option<usize>,
    entry: Instant,
    record: RecordHandle,
    shutdown: watch::Receiver<bool>,
    hold: Option<Hold>,
    holding: Option<Holding>,
    done: bool,
}

impl BodyDriver {
    /// `entry` is when the handler started, the zero of the time-to-first-
    /// token measurement.
    pub(crate) fn new(
        source: Box<dyn FrameSource>,
        split: Option<usize>,
        entry: Instant,
        record: RecordHandle,
        shutdown: watch::Receiver<bool>,
        hold: Option<Hold>,
    ) -> Self {
        Self {
            source,
            pending: VecDeque::new(),
            split,
            entry,
            record,
            shutdown,
            hold,
            holding: None,
            done: false,
        }
    }

    /// The body as a stream of byte pieces, for `axum::body::Body::from_stream`.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Bytes, io::Error>> + Send {
        futures_util::stream::unfold(self, |mut driver| async move {
            let item = driver.next_piece().await?;
            Some((item, driver))
        })
    }

    async fn next_piece(&mut self) -> Option<Result<Bytes, io::Error>> {
        loop {
            if let Some(piece) = self.pending.pop_front() {
                return Some(Ok(piece));
            }
            if self.done {
                return None;
            }
            if self.holding.is_some() {
                return self.next_keep_alive().await;
            }
            match self.source.next_step() {
                Step::Send(frame) => {
                    if let Some(at) = frame.at
                        && !self.wait_until(at).await
                    {
                        self.done = true;
                        return Some(Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "fakecloud is shutting down",
                        )));
                    }
                    if frame.first_content {
                        self.record.first_content(self.entry.elapsed());
                    }
                    self.queue(frame.bytes);
                }
                Step::Finish => {
                    self.record.body_sent(self.entry.elapsed());
                    self.record.complete();
                    let Some(hold) = &self.hold else {
                        self.done = true;
                        return None;
                    };
                    let now = Instant::now();
                    self.holding = Some(Holding {
                        until: now + hold.duration,
                        next_keep_alive: hold.keep_alive.as_ref().map(|(every, _)| now + *every),
                    });
                }
                Step::Abort => {
                    self.done = true;
                    self.record.complete();
                    sleep(FLUSH_BEFORE_ABORT).await;
                    return Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "fakecloud scenario: connection cut",
                    )));
                }
            }
        }
    }

    /// While holding: the next keep-alive when it is due, or the end of the body when the hold is
    /// over (or the server shuts down).
    async fn next_keep_alive(&mut self) -> Option<Result<Bytes, io::Error>> {
        let holding = self.holding.as_ref()?;
        let keep_alive = self.hold.as_ref().and_then(|hold| hold.keep_alive.clone());
        let due = holding.next_keep_alive.filter(|due| *due < holding.until);
        let until = holding.until;
        let (at, bytes) = match (due, keep_alive) {
            (Some(due), Some((every, bytes))) => {
                if let Some(holding) = &mut self.holding {
                    holding.next_keep_alive = Some(due + every);
                }
                (due, Some(bytes))
            }
            _ => (until, None),
        };
        if !self.wait_until(at).await || bytes.is_none() {
            self.done = true;
            return None;
        }
        bytes.map(Ok)
    }

    /// Sleeps until `at`; false if the server began shutting down first.
    async fn wait_until(&mut self, at: Instant) -> bool {
        if *self.shutdown.borrow() {
            return false;
        }
        tokio::select! {
            () = sleep_until(at) => true,
            // A dropped sender also means the server is gone.
            _ = self.shutdown.wait_for(|stopping| *stopping) => false,
        }
    }

    fn queue(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        match self.split {
            Some(size) if size > 0 && bytes.len() > size => {
                let mut start = 0;
                while start < bytes.len() {
                    let end = (start + size).min(bytes.len());
                    self.pending.push_back(bytes.slice(start..end));
                    start = end;
                }
            }
            _ => self.pending.push_back(bytes),
        }
    }
}
