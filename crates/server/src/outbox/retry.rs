//! The one retry policy for outbox jobs (and for other background retries, such as a calendar
//! sync that failed): exponential backoff with jitter, and a last attempt after which a job is
//! given up loudly.

use jiff::{SignedDuration, Timestamp};
use rand::Rng;

/// After this many attempts a job is marked failed for good.
pub const MAX_ATTEMPTS: i32 = 12;

/// Exponential backoff with jitter: about 2^attempts seconds, capped at an hour.
pub fn backoff(attempts: i32) -> SignedDuration {
    let base = 2_i64.saturating_pow(attempts.clamp(0, 12) as u32).min(3600);
    let jitter = rand::thread_rng().gen_range(0..=base / 4 + 1);
    SignedDuration::from_secs(base + jitter)
}

/// When a job that failed on its `attempts`-th attempt at `now` runs again; `None` when that
/// was its last attempt (or the deliverer said retrying cannot help).
pub fn next_attempt(now: Timestamp, attempts: i32, retryable: bool) -> Option<Timestamp> {
    if !retryable || attempts >= MAX_ATTEMPTS {
        return None;
    }
    Some(
        now.max(Timestamp::now())
            .saturating_add(backoff(attempts))
            .unwrap_or(now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= SignedDuration::from_secs(2));
        assert!(backoff(5) >= SignedDuration::from_secs(32));
        assert!(backoff(30) <= SignedDuration::from_secs(3600 + 901));
    }

    #[test]
    fn the_last_attempt_and_a_permanent_failure_are_not_retried() {
        let now = Timestamp::now();
        assert!(next_attempt(now, 1, true).is_some_and(|at| at > now));
        assert_eq!(next_attempt(now, MAX_ATTEMPTS, true), None);
        assert_eq!(next_attempt(now, 1, false), None);
    }
}
