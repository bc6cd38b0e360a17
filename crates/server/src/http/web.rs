//! The in-call calendar's web files, embedded in the binary: the widget under `/embed/`, the
//! demo call page at `/demo/call` and the hosted booking page at `/book/{agent_id}`.
//!
//! What is in `web/` is what browsers get, except that the widget's script is served minified
//! (comments and layout dropped by `build.rs`), to keep the widget within its size budget.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// The widget: a web component in one ES module (minified by `build.rs`), and its stylesheet.
pub const WIDGET_JS: &str =
    include_str!(concat!(env!("OUT_DIR"), "/pillow-incall-calendar.min.js"));
pub const WIDGET_CSS: &str = include_str!("../../../../web/embed/pillow-incall-calendar.css");
const DEMO_CALL: &str = include_str!("../../../../web/demo-call.html");
const BOOK: &str = include_str!("../../../../web/book.html");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/embed/pillow-incall-calendar.js",
            get(|| async { asset(WIDGET_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/embed/pillow-incall-calendar.css",
            get(|| async { asset(WIDGET_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/demo/call",
            get(|| async { asset(DEMO_CALL, "text/html; charset=utf-8") }),
        )
        .route(
            "/book/{agent_id}",
            get(|| async { asset(BOOK, "text/html; charset=utf-8") }),
        )
}

/// A static file. Other sites load the widget cross-origin, so it is readable from anywhere;
/// browsers revalidate it, so a new release shows at once.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
