//! How many requests the server is answering right now: counted at the HTTP edge, read by
//! background work (the outbox) that gives way while callers are waiting for an answer.
//!
//! Neither side knows the other: the edge holds a [`Ticket`] per request, the worker asks
//! [`RequestLoad::is_busy`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// More requests than this at once is a busy server: a person on a call is waiting on some
/// of them. One call's own requests (an agent asks, then books) stay below it.
pub const BUSY_ABOVE: usize = 4;

/// The count of requests being answered, shared by clones.
#[derive(Clone, Debug, Default)]
pub struct RequestLoad(Arc<AtomicUsize>);

impl RequestLoad {
    /// Counts a request until the ticket is dropped.
    pub fn enter(&self) -> Ticket {
        self.0.fetch_add(1, Ordering::AcqRel);
        Ticket(self.0.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Whether more than [`BUSY_ABOVE`] requests are being answered.
    pub fn is_busy(&self) -> bool {
        self.in_flight() > BUSY_ABOVE
    }
}

/// One request being answered; dropping it ends the count.
#[derive(Debug)]
pub struct Ticket(Arc<AtomicUsize>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_until_its_ticket_is_dropped() {
        let load = RequestLoad::default();
        let tickets: Vec<_> = (0..=BUSY_ABOVE).map(|_| load.enter()).collect();
        assert!(load.is_busy());
        drop(tickets);
        assert_eq!(load.in_flight(), 0);
        assert!(!load.is_busy());
    }
}
