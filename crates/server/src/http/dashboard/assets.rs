//! The dashboard's static files, embedded in the binary: our stylesheet and chart script,
//! htmx, vendored from the npm package `htmx.org`, and uPlot, from the npm package `uplot`
//! (versions in the file names; their licences beside them in `web/dashboard/vendor/`). No
//! build step: what is in `web/dashboard/` is what browsers get.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub const CSS_PATH: &str = "/dashboard/assets/dashboard.css";
pub const HTMX_PATH: &str = "/dashboard/assets/htmx-2.0.11.min.js";
pub const UPLOT_JS_PATH: &str = "/dashboard/assets/uPlot-1.6.32.iife.min.js";
pub const UPLOT_CSS_PATH: &str = "/dashboard/assets/uPlot-1.6.32.min.css";
pub const CHARTS_PATH: &str = "/dashboard/assets/charts.js";
pub const HOURS_PATH: &str = "/dashboard/assets/hours.js";
pub const COPY_PATH: &str = "/dashboard/assets/copy.js";

const CSS: &str = include_str!("../../../../../web/dashboard/dashboard.css");
const HTMX: &str = include_str!("../../../../../web/dashboard/vendor/htmx-2.0.11.min.js");
const UPLOT_JS: &str = include_str!("../../../../../web/dashboard/vendor/uPlot-1.6.32.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../../../../web/dashboard/vendor/uPlot-1.6.32.min.css");
const CHARTS: &str = include_str!("../../../../../web/dashboard/charts.js");
const HOURS: &str = include_str!("../../../../../web/dashboard/hours.js");
const COPY: &str = include_str!("../../../../../web/dashboard/copy.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            CSS_PATH,
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            HTMX_PATH,
            get(|| async { asset(HTMX, "text/javascript; charset=utf-8") }),
        )
        .route(
            UPLOT_JS_PATH,
            get(|| async { asset(UPLOT_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            UPLOT_CSS_PATH,
            get(|| async { asset(UPLOT_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            CHARTS_PATH,
            get(|| async { asset(CHARTS, "text/javascript; charset=utf-8") }),
        )
        .route(
            HOURS_PATH,
            get(|| async { asset(HOURS, "text/javascript; charset=utf-8") }),
        )
        .route(
            COPY_PATH,
            get(|| async { asset(COPY, "text/javascript; charset=utf-8") }),
        )
}

/// A static file; browsers revalidate it, so a new release shows at once.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
