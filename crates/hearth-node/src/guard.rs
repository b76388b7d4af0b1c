//! Bounds on the connections a node accepts (DESIGN §4a): how many at once in all and per
//! certificate, how long a TLS handshake may take, how soon HTTP/2 must start after it, and how
//! long a connection may stay silent. A connection past a bound is closed and counted; the
//! others are not affected.
//!
//! [`Guarded`] wraps an accepted stream: it holds the connection's places in the counts (given
//! back when the connection is dropped) and a read deadline — the HTTP/2 preface timeout until
//! the first bytes arrive, the idle timeout after the last read (moved on only when it fires,
//! so reads cost no timer work) — that fails the read when it passes, which makes the HTTP/2
//! server close the connection. A live peer is never idle: the
//! server pings it every 20 s and its answers are reads.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

use crate::config::Limits;
use crate::metrics::{Metrics, Refusal};

/// Counts of open connections, in all and per certificate name.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    open: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_name: HashMap<String, usize>,
}

/// Why a connection was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// All peers together have as many connections as the node takes.
    Total,
    /// This certificate has as many as one may.
    PerPeer,
}

/// A connection's place in the counts; given back on drop.
#[derive(Debug)]
pub struct Slot {
    gate: Arc<Gate>,
    name: Option<String>,
}

impl Gate {
    /// A gate with these bounds.
    pub fn new(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            open: Mutex::new(Counts::default()),
        })
    }

    /// The bounds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: each change is one statement.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a connection not yet authenticated (a TCP connection in its TLS
    /// handshake), if the node takes one more.
    pub fn enter(self: &Arc<Gate>) -> Result<Slot, Full> {
        let mut counts = self.counts();
        if counts.total >= self.limits.connections {
            return Err(Full::Total);
        }
        counts.total += 1;
        Ok(Slot {
            gate: self.clone(),
            name: None,
        })
    }

    /// Connections open now (handshakes under way included).
    pub fn open(&self) -> usize {
        self.counts().total
    }
}

impl Slot {
    /// Names the connection after its certificate; refused if that certificate already has as
    /// many connections as one may (the slot is then given back).
    pub fn name(mut self, name: &str) -> Result<Slot, Full> {
        let mut counts = self.gate.counts();
        let n = counts.per_name.entry(name.to_owned()).or_default();
        if *n >= self.gate.limits.connections_per_peer {
            return Err(Full::PerPeer);
        }
        *n += 1;
        drop(counts);
        self.name = Some(name.to_owned());
        Ok(self)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.gate.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(name) = &self.name
            && let Some(n) = counts.per_name.get_mut(name)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_name.remove(name);
            }
        }
    }
}

/// An accepted stream with its slot and a read deadline (see the module doc).
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    deadline: Pin<Box<Sleep>>,
    /// When bytes last came: the deadline is moved on from here only when it fires, so that
    /// reads cost no timer work.
    last_read: Option<Instant>,
    idle: Duration,
    metrics: Arc<Metrics>,
    timed_out: bool,
    _slot: Slot,
}

impl<S> Guarded<S> {
    /// Wraps `inner`: its first bytes must come within `preface`, and then it may not be
    /// silent for longer than `idle`. A deadline that passes is counted in `metrics`.
    pub fn new(
        inner: S,
        slot: Slot,
        preface: Duration,
        idle: Duration,
        metrics: Arc<Metrics>,
    ) -> Guarded<S> {
        Guarded {
            inner,
            deadline: Box::pin(tokio::time::sleep(preface)),
            last_read: None,
            idle,
            metrics,
            timed_out: false,
            _slot: slot,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.last_read = Some(Instant::now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => loop {
                if self.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // The deadline passed; if bytes came since it was set, it moves on.
                let next = self.last_read.map(|at| at + self.idle);
                if let Some(next) = next.filter(|n| *n > self.deadline.deadline()) {
                    self.deadline.as_mut().reset(next);
                    continue;
                }
                if !self.timed_out {
                    self.timed_out = true;
                    self.metrics.refused(Refusal::Timeout);
                    tracing::warn!("connection closed: the peer sent nothing in time");
                }
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer sent nothing in time",
                )));
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S: Connected> Connected for Guarded<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_in_all_and_per_name_and_come_back_on_drop() {
        let gate = Gate::new(Limits {
            connections: 3,
            connections_per_peer: 2,
            ..Limits::default()
        });
        let a = gate.enter().unwrap().name("demo.team-1").unwrap();
        let b = gate.enter().unwrap().name("demo.team-1").unwrap();
        assert_eq!(
            gate.enter().unwrap().name("demo.team-1").unwrap_err(),
            Full::PerPeer
        );
        let c = gate.enter().unwrap();
        assert_eq!(gate.enter().unwrap_err(), Full::Total);
        drop((a, b, c));
        assert_eq!(gate.open(), 0);
    }

    #[tokio::test]
    async fn a_silent_stream_fails_its_read_at_the_deadline() {
        use tokio::io::AsyncReadExt;
        let gate = Gate::new(Limits::default());
        let (_client, server) = tokio::io::duplex(64);
        let metrics = Arc::new(Metrics::default());
        let mut guarded = Guarded::new(
            server,
            gate.enter().unwrap(),
            Duration::from_millis(50),
            Duration::from_secs(60),
            metrics.clone(),
        );
        let mut buf = [0u8; 8];
        let e = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(metrics.refusals(Refusal::Timeout), 1);
        drop(guarded);
        assert_eq!(gate.open(), 0);
    }
}
