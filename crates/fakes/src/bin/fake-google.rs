//! Runs the fake Google on a fixed address so the server can be demoed without Google.
//!
//! It reads the same variables as the server (`GOOGLE_OAUTH_CLIENT_ID`,
//! `GOOGLE_OAUTH_CLIENT_SECRET`, `GOOGLE_OAUTH_REDIRECT_URI`) to register the OAuth client, adds
//! the accounts listed in `FAKE_GOOGLE_USERS` (comma-separated), listens on `FAKE_GOOGLE_ADDR`
//! (default `127.0.0.1:8089`) and prints the URLs to configure in the server.

use pillow_fakes::google::FakeGoogle;

#[tokio::main]
async fn main() {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let addr = var("FAKE_GOOGLE_ADDR", "127.0.0.1:8089");
    let Ok(addr) = addr.parse() else {
        eprintln!("FAKE_GOOGLE_ADDR must be host:port, like 127.0.0.1:8089 (got {addr})");
        std::process::exit(2);
    };
    let google = FakeGoogle::start_on(addr).await;
    google.register_client(
        &var("GOOGLE_OAUTH_CLIENT_ID", "demo-client"),
        &var("GOOGLE_OAUTH_CLIENT_SECRET", "demo-secret"),
        &var(
            "GOOGLE_OAUTH_REDIRECT_URI",
            "http://localhost:3000/api/calendar/google/callback",
        ),
    );
    for email in var("FAKE_GOOGLE_USERS", "demo@example.com").split(',') {
        google.add_user(email.trim());
    }
    println!("fake Google listening on {}", google.base_url());
    println!("  authorize URL: {}", google.authorize_url());
    println!("  token URL:     {}", google.token_url());
    println!("  revoke URL:    {}", google.revoke_url());
    println!("  calendar base: {}", google.calendar_base());
    println!("approve a consent page by adding &approve=<email> to its URL");
    let _ = tokio::signal::ctrl_c().await;
}
