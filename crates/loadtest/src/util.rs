//! Small pure helpers: duration parsing, the loopback rule, percentiles and medians.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

/// The longest run (warm-up plus measurement) or wait this tool accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Parses `500ms`, `10s`, `2m`, `1h`, `1.5s`; a bare number is seconds.
///
/// # Errors
/// An empty, negative, non-numeric or over-an-hour value, or an unknown unit.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        bail!("{text:?} is not a duration: use e.g. 500ms, 10s or 2m");
    }
    let value: f64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration: use e.g. 500ms, 10s or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("{text:?}: unknown unit {other:?} (use ms, s, m or h)"),
    };
    let duration = Duration::try_from_secs_f64(seconds)
        .with_context(|| format!("{text:?} is not a valid duration"))?;
    if duration > MAX_DURATION {
        bail!("{text:?} is longer than the 1 h this tool allows");
    }
    Ok(duration)
}

/// Formats a duration the way [`parse_duration`] reads it (`500ms`, `10s`, `1.5s`).
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

/// Parses a target URL and checks that it is `http(s)` to a loopback host:
/// `localhost`, an address in 127.0.0.0/8 or `[::1]`. Nothing else is ever a target.
///
/// # Errors
/// An unparsable URL, a scheme other than http/https, or a non-loopback host.
pub fn parse_loopback_url(text: &str) -> Result<Url> {
    let url = Url::parse(text).with_context(|| format!("{text:?} is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("{text:?}: only http:// and https:// URLs are supported");
    }
    let loopback = match url.host_str() {
        Some(host) => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(ip) => ip.is_loopback(),
                Err(_) => {
                    host.eq_ignore_ascii_case("localhost")
                        || host.eq_ignore_ascii_case("localhost.")
                }
            }
        }
        None => false,
    };
    if !loopback {
        bail!(
            "refusing {text:?}: the host is not loopback. pillow-load only sends traffic to \
             localhost, 127.0.0.0/8 or [::1] on this machine"
        );
    }
    Ok(url)
}

/// Parses a `Name: value` header.
///
/// # Errors
/// A missing colon or an invalid header name or value.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = text
        .split_once(':')
        .with_context(|| format!("header {text:?} must look like 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .with_context(|| format!("header {text:?}: invalid name"))?;
    let value = HeaderValue::from_str(value.trim())
        .with_context(|| format!("header {text:?}: invalid value"))?;
    Ok((name, value))
}

/// Nearest-rank percentile of already sorted samples: the smallest sample such that at
/// least `p` % of all samples are at or below it. `p` is clamped to 0–100; `None` if empty.
#[must_use]
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // Precision loss is irrelevant here: sample counts stay far below 2^52.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of `values` (the mean of the two middle ones for an even count); `None` if empty.
#[must_use]
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    } else {
        sorted[mid]
    })
}

/// Cuts `text` to at most `max` characters, on a character boundary.
#[must_use]
pub fn snippet(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration(" 0s ").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "s", "10x", "-1s", "1.2.3s", "2h", "ten s", "10 s s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn duration_round_trip() {
        for text in ["10s", "500ms", "1.5s", "0s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn loopback_only() {
        for ok in [
            "http://127.0.0.1:3000/healthz",
            "http://127.1.2.3/",
            "http://localhost:8080/api/x?d=2024-01-01",
            "http://LOCALHOST/",
            "http://[::1]:3000/readyz",
            "https://127.0.0.1/",
        ] {
            assert!(parse_loopback_url(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://0.0.0.0:3000/",
            "http://example.com/",
            "http://localhost.example.com/",
            "http://127.0.0.1.nip.io/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::]/",
            "ftp://127.0.0.1/",
            "127.0.0.1:3000",
            "not a url",
        ] {
            let err = parse_loopback_url(bad);
            assert!(err.is_err(), "{bad} should be refused");
        }
        let message = parse_loopback_url("http://8.8.8.8/")
            .unwrap_err()
            .to_string();
        assert!(message.contains("not loopback"), "{message}");
    }

    #[test]
    fn headers() {
        let (name, value) = parse_header("Authorization: Bearer abc:def").unwrap();
        assert_eq!(name.as_str(), "authorization");
        assert_eq!(value.to_str().unwrap(), "Bearer abc:def");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn percentiles() {
        let empty: [u64; 0] = [];
        assert_eq!(percentile(&empty, 50.0), None);
        assert_eq!(percentile(&[7u64], 0.0), Some(7));
        assert_eq!(percentile(&[7u64], 99.0), Some(7));

        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50.0), Some(50));
        assert_eq!(percentile(&hundred, 90.0), Some(90));
        assert_eq!(percentile(&hundred, 99.0), Some(99));
        assert_eq!(percentile(&hundred, 100.0), Some(100));
        assert_eq!(percentile(&hundred, 0.0), Some(1));
        assert_eq!(percentile(&hundred, 150.0), Some(100));

        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50.0), Some(5));
        assert_eq!(percentile(&ten, 90.0), Some(9));
        assert_eq!(percentile(&ten, 99.0), Some(10));
        assert_eq!(percentile(&ten, 91.0), Some(10));

        let three = [1u64, 2, 3];
        assert_eq!(percentile(&three, 50.0), Some(2));
        assert_eq!(percentile(&three, 33.0), Some(1));
        assert_eq!(percentile(&three, 34.0), Some(2));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet("  short ", 10), "short");
        assert_eq!(snippet("ééééé", 3), "ééé…");
    }
}
