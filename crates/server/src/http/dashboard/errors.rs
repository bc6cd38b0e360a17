//! The dashboard's one error type: every failure becomes a page a person can read, with the
//! right status. Server-side causes are logged and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use pillow_store::StoreError;

use super::layout;
use crate::domain::error::{DomainError, ErrorKind};

#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    /// 403: signed in, but not allowed; or a request from another site.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: message.into(),
        }
    }

    /// 404: absent, or in another organisation (the two look the same on purpose).
    pub fn not_found(what: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            message: format!("There is no such {what} in your organisation."),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Something is wrong with that request",
            message: message.into(),
        }
    }

    /// 401: a form posted by a browser that is no longer signed in.
    pub fn signed_out() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            title: "Signed out",
            message: "You are not signed in any more. Sign in again and repeat what you did."
                .into(),
        }
    }
}

impl From<DomainError> for PageError {
    fn from(error: DomainError) -> Self {
        let status = error.kind.status();
        let title = match error.kind {
            ErrorKind::NotFound => "Not found",
            ErrorKind::Forbidden => "Not allowed",
            ErrorKind::Conflict => "That could not be done",
            ErrorKind::Internal | ErrorKind::Upstream | ErrorKind::Unavailable => {
                "Something went wrong"
            }
            _ => "Something is wrong with that request",
        };
        // Internal errors were logged where they happened; their message says only that.
        Self {
            status,
            title,
            message: error.message,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        DomainError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = html! {
            p { (self.message) }
            p { a href="/dashboard" { "Back to the dashboard" } }
        };
        let mut response = layout::respond(layout::bare(self.title, body));
        *response.status_mut() = self.status;
        response
    }
}

pub type PageResult<T> = Result<T, PageError>;
