//! What the OpenAPI document says about every operation alike, added once here rather than in
//! each handler's annotation: the error body's schema on every error answer, and the 401 of
//! every operation that needs credentials. The handlers' annotations say what is particular to
//! them (their success body, the errors worth describing).

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response};
use utoipa::{OpenApi, ToSchema};

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong. Some errors add members: `field` (the offending request field),
/// `alternatives` (free times instead of a taken one), `bookings` (what blocks a deletion).
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, e.g. `invalid_time` or `slot_unavailable`.
    code: String,
    /// For people.
    message: String,
    /// The offending request field, when one is to blame.
    field: Option<String>,
}

#[derive(OpenApi)]
#[openapi(components(schemas(ErrorBody, ErrorDetail)))]
struct ErrorSchemas;

/// Adds the error schema and the shared error answers to every operation of `document`.
pub fn complete(document: &mut Document) {
    document.merge(ErrorSchemas::openapi());
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            complete_operation(operation);
        }
    }
}

fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name("ErrorBody")))
}

fn complete_operation(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let responses = &mut operation.responses.responses;
    if secured && !responses.contains_key("401") {
        let mut unauthorized =
            Response::new("No usable credentials: a missing, expired or revoked token or key.");
        unauthorized
            .content
            .insert("application/json".into(), error_content());
        responses.insert("401".into(), RefOr::T(unauthorized));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5') || status == "default";
        if is_error && response.content.is_empty() {
            response
                .content
                .insert("application/json".into(), error_content());
        }
        // A content type named without a schema (plain-text metrics, say) is a string.
        for content in response.content.values_mut() {
            if content.schema.is_none() {
                content.schema = Some(RefOr::T(
                    utoipa::openapi::schema::Object::with_type(
                        utoipa::openapi::schema::Type::String,
                    )
                    .into(),
                ));
            }
        }
    }
}
