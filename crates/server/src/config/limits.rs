//! How much the server takes on at once and how long it waits for a slow client: the settings
//! that keep it answering under attack or overload.

use std::time::Duration;

use super::{ConfigError, Source};

/// Connection and request limits (`HTTP_*` variables).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A client must finish sending a request's headers within this time, and an idle
    /// keep-alive connection is closed after it (`HTTP_HEADER_TIMEOUT_MS`, default 10 s).
    pub header_timeout: Duration,
    /// A request's body must arrive within this time (`HTTP_BODY_TIMEOUT_MS`, default 30 s).
    pub body_timeout: Duration,
    /// Open connections at most; more wait in the kernel's backlog until one closes
    /// (`HTTP_MAX_CONNECTIONS`, default 4,096, well under a typical file-descriptor limit).
    pub max_connections: usize,
    /// Requests handled at once (`HTTP_MAX_IN_FLIGHT`, default 256).
    pub max_in_flight: usize,
    /// Requests waiting for a turn at most; beyond that, 503 at once (`HTTP_MAX_QUEUE`,
    /// default 512).
    pub max_queue: usize,
    /// How long a queued request waits before it is answered 503 (`HTTP_QUEUE_TIMEOUT_MS`,
    /// default 2 s).
    pub queue_timeout: Duration,
    /// The largest request body (`HTTP_MAX_BODY_BYTES`, default 1 MiB); larger is a 413.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_in_flight: 256,
            max_queue: 512,
            queue_timeout: Duration::from_secs(2),
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl HttpLimits {
    /// Reads every `HTTP_*` limit, each a positive whole number.
    ///
    /// # Errors
    /// The first variable that is not a positive whole number.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let millis = |variable, default: Duration| {
            Ok::<_, ConfigError>(Duration::from_millis(positive(
                source,
                variable,
                default.as_millis() as u64,
            )?))
        };
        let count = |variable, default: usize| {
            Ok::<_, ConfigError>(positive(source, variable, default as u64)? as usize)
        };
        Ok(Self {
            header_timeout: millis("HTTP_HEADER_TIMEOUT_MS", defaults.header_timeout)?,
            body_timeout: millis("HTTP_BODY_TIMEOUT_MS", defaults.body_timeout)?,
            max_connections: count("HTTP_MAX_CONNECTIONS", defaults.max_connections)?,
            max_in_flight: count("HTTP_MAX_IN_FLIGHT", defaults.max_in_flight)?,
            max_queue: count("HTTP_MAX_QUEUE", defaults.max_queue)?,
            queue_timeout: millis("HTTP_QUEUE_TIMEOUT_MS", defaults.queue_timeout)?,
            max_body_bytes: count("HTTP_MAX_BODY_BYTES", defaults.max_body_bytes)?,
        })
    }
}

fn positive(source: &dyn Source, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
    match source.get(variable) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ConfigError::new(
                    variable,
                    format!("{value:?} is not a positive whole number"),
                    format!("Leave it unset for the default, {default}."),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn limits_default_when_unset_and_refuse_zero_or_words() {
        let empty: HashMap<String, String> = HashMap::new();
        let limits = HttpLimits::from_source(&empty).unwrap();
        assert_eq!(limits.header_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_in_flight, 256);
        for (variable, value) in [
            ("HTTP_MAX_IN_FLIGHT", "0"),
            ("HTTP_BODY_TIMEOUT_MS", "soon"),
        ] {
            let source = HashMap::from([(variable.to_string(), value.to_string())]);
            assert_eq!(
                HttpLimits::from_source(&source).unwrap_err().variable,
                variable
            );
        }
    }
}
