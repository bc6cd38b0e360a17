//! The page shell: head, skip link, navigation bar and the response headers every page gets.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::csrf;
use super::session::Viewer;

/// Which navigation entry is the current page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Bookings,
    Hours,
    Calendar,
    Calendars,
    Analytics,
    Team,
    Agents,
}

/// What a page loads besides the stylesheet and htmx.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Extras {
    None,
    /// uPlot, its stylesheet and our `charts.js`, which draws every `[data-chart]`.
    Charts,
    /// `hours.js`: "Copy to weekdays" on the working hours form.
    Hours,
    /// `copy.js`: the copy buttons beside keys, snippets and tool definitions.
    Copy,
}

fn head(title: &str, extras: Extras) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx's own indicator styles would be inline, which our CSP refuses.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
            title { (title) " · Pillow Calendar" }
            link rel="stylesheet" href=(assets::CSS_PATH);
            script src=(assets::HTMX_PATH) defer {}
            @if extras == Extras::Charts {
                link rel="stylesheet" href=(assets::UPLOT_CSS_PATH);
                script src=(assets::UPLOT_JS_PATH) defer {}
                script src=(assets::CHARTS_PATH) defer {}
            }
            @if extras == Extras::Hours {
                script src=(assets::HOURS_PATH) defer {}
            }
            @if extras == Extras::Copy {
                script src=(assets::COPY_PATH) defer {}
            }
        }
    }
}

/// A page for a signed-in viewer, with the navigation bar.
pub fn page(title: &str, viewer: &Viewer, nav: Nav, content: Markup) -> Markup {
    page_with(title, viewer, nav, Extras::None, content)
}

/// [`page`], loading `extras` too.
pub fn page_with(
    title: &str,
    viewer: &Viewer,
    nav: Nav,
    extras: Extras,
    content: Markup,
) -> Markup {
    let entry = |target: Nav, href: &str, label: &str| {
        html! {
            li {
                @if target == nav {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    };
    // htmx sends the token as a header on every request it makes.
    let hx_headers = format!(r#"{{"{}": "{}"}}"#, csrf::HEADER, viewer.csrf);
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, extras))
            body hx-headers=(hx_headers) {
                a.skip href="#main" { "Skip to content" }
                header.bar {
                    a.brand href="/dashboard" { "Pillow Calendar" }
                    nav aria-label="Dashboard" {
                        ul {
                            (entry(Nav::Home, "/dashboard", "Home"))
                            (entry(Nav::Bookings, "/dashboard/bookings", "Bookings"))
                            (entry(Nav::Hours, "/dashboard/hours", "Working hours"))
                            (entry(Nav::Calendar, "/dashboard/calendar", "Team calendar"))
                            (entry(Nav::Calendars, "/dashboard/calendars", "Calendars"))
                            @if viewer.is_admin() {
                                (entry(Nav::Analytics, "/dashboard/analytics", "Analytics"))
                                (entry(Nav::Team, "/dashboard/team", "Team"))
                                (entry(Nav::Agents, "/dashboard/agents", "Agents"))
                            }
                        }
                    }
                    div.who {
                        span data-testid="who" {
                            (viewer.user.name) " · " (viewer.user.role.as_str())
                        }
                        form method="post" action="/dashboard/logout" {
                            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                            button.link type="submit" id="logout" { "Log out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// A page without navigation: the login page and error pages.
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Extras::None))
            body {
                main #main.narrow {
                    p.brand { "Pillow Calendar" }
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// An HTML response that no cache keeps (pages show private data) and no other site frames;
/// scripts and styles only from our own assets.
pub fn respond(markup: Markup) -> Response {
    let mut response = Html(markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A time as people read it, always with its zone: `Tue 8 Dec 2026, 09:30 EST`.
pub fn when(instant: Timestamp, zone: &TimeZone) -> String {
    instant
        .to_zoned(zone.clone())
        .strftime("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// Just the clock time with its zone: `09:30 EST`.
pub fn clock(instant: Timestamp, zone: &TimeZone) -> String {
    instant
        .to_zoned(zone.clone())
        .strftime("%H:%M %Z")
        .to_string()
}
