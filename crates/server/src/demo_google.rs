//! The demo's own Google Calendar: the local fake from `pillow-fakes`, started inside the
//! process on a loopback port, so "Connect Google Calendar" in the dashboard works end to end
//! on one machine. Its consent page lets you continue as any demo member, and each member's
//! calendar holds a few sample events that the first sync brings in as busy time.
//!
//! Used only when the operator has not configured a real Google (`GOOGLE_OAUTH_CLIENT_ID`).

use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_fakes::google::FakeGoogle;
use secrecy::SecretString;
use serde_json::json;

use crate::config::{Config, GoogleConfig};

const CLIENT_ID: &str = "pillow-demo.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "pillow-demo-secret";

/// Sample events per member over the next days, at local hours that differ per member.
const SAMPLES: [(&str, i8); 3] = [
    ("Dentist (personal)", 15),
    ("Supplier visit", 11),
    ("School run", 8),
];

/// Starts the fake, gives it an account per member (`(email, zone)`) with sample events, and
/// points `config.google` at it. Keep the answer alive as long as the server runs.
pub async fn start(config: &mut Config, members: &[(&str, &str)]) -> FakeGoogle {
    let google = FakeGoogle::start().await;
    let redirect_uri = format!(
        "{}/api/calendar/google/callback",
        config.public_url.trim_end_matches('/')
    );
    google.register_client(CLIENT_ID, CLIENT_SECRET, &redirect_uri);
    let now = Timestamp::now();
    for (n, (email, zone)) in members.iter().enumerate() {
        google.add_user_in_zone(email, zone);
        let tz = crate::domain::time::stored_zone(zone);
        let today = now.to_zoned(tz.clone()).date();
        for (i, (title, hour)) in SAMPLES.iter().enumerate() {
            let day = (1 + n + 2 * i) as i64;
            let Ok(date) = today.checked_add(day.days()) else {
                continue;
            };
            let Ok(start) = date.at(*hour, 0, 0, 0).to_zoned(tz.clone()) else {
                continue;
            };
            let end = start.timestamp() + SignedDuration::from_mins(45);
            google.create_event(
                email,
                json!({
                    "summary": title,
                    "start": {"dateTime": start.timestamp().to_string(), "timeZone": zone},
                    "end": {"dateTime": end.to_string(), "timeZone": zone},
                }),
            );
        }
    }
    config.google = Some(GoogleConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        redirect_uri,
        authorize_url: google.authorize_url(),
        token_url: google.token_url(),
        revoke_url: google.revoke_url(),
        calendar_base: google.calendar_base(),
        // Google only pushes to https addresses; the demo polls.
        push: false,
        retry_attempts: 2,
        retry_base_delay: std::time::Duration::from_millis(100),
    });
    google
}
