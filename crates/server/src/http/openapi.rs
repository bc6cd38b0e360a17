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
    if let Some(components) = document.components.as_mut() {
        // Not the error body: it may quote what was refused, NUL and all.
        components
            .schemas
            .iter_mut()
            .filter(|(name, _)| !matches!(name.as_str(), "ErrorBody" | "ErrorDetail"))
            .for_each(|(_, schema)| forbid_nul(schema));
    }
    for (path, item) in document.paths.paths.iter_mut() {
        let guarded = !matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics");
        let enveloped = path.starts_with("/api/v1/");
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
            for parameter in operation.parameters.iter_mut().flatten() {
                parameter.schema.iter_mut().for_each(forbid_nul);
            }
            if let Some(body) = operation.request_body.as_mut() {
                for content in body.content.values_mut() {
                    content.schema.iter_mut().for_each(forbid_nul);
                }
            }
            complete_operation(operation, guarded);
            if enveloped {
                envelop_successes(operation);
            }
        }
    }
}

/// The in-call API answers `{"success": true, "data": …}`: its handlers document what is in
/// `data`, and this wraps each success body in the envelope, so the document says what is sent.
/// (Its errors, `{"success": false, "error": {…}}`, already fit the error body.)
fn envelop_successes(operation: &mut Operation) {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !status.starts_with('2') {
            continue;
        }
        for content in response.content.values_mut() {
            let Some(data) = content.schema.take() else {
                continue;
            };
            let envelope = ObjectBuilder::new()
                .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
                .required("success")
                .property("data", data)
                .required("data")
                .description(Some("The in-call envelope around the answer."))
                .build();
            content.schema = Some(RefOr::T(envelope.into()));
        }
    }
}

/// The pattern of a string without NUL.
const NO_NUL: &str = "^[^\\u0000]*$";

/// Every string the API reads is refused with a NUL in it (a 400 at the edge, on both stores):
/// each plain string schema says so with [`NO_NUL`], so generated data and clients know it.
fn forbid_nul(schema: &mut RefOr<utoipa::openapi::schema::Schema>) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema, SchemaType, Type};
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(kind) => *kind == Type::String,
                SchemaType::Array(kinds) => kinds.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            let plain =
                object.pattern.is_none() && object.format.is_none() && object.enum_values.is_none();
            if is_string && plain {
                object.pattern = Some(NO_NUL.to_string());
            }
            object.properties.values_mut().for_each(forbid_nul);
            if let Some(extra) = object.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(extra) = extra
            {
                forbid_nul(extra);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                forbid_nul(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(forbid_nul),
        Schema::AllOf(all) => all.items.iter_mut().for_each(forbid_nul),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(forbid_nul),
        _ => {}
    }
}

fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name("ErrorBody")))
}

/// The answers any operation may get from the layers in front of its handler (`limits.rs`,
/// `extract.rs`, the NUL and date checks): the same for every operation with the same inputs.
/// `guarded`: the operation is behind the load shedder (health and metrics are not).
fn edge_answers(operation: &Operation, guarded: bool) -> Vec<(&'static str, &'static str)> {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_query = parameters
        .iter()
        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
    let in_path = parameters
        .iter()
        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Path);
    let names_a_resource = parameters.iter().any(|p| {
        p.parameter_in == utoipa::openapi::path::ParameterIn::Query
            && (p.name == "id" || p.name.ends_with("_id"))
    });
    let has_body = operation.request_body.is_some();
    let mut answers = vec![(
        "400",
        "A malformed request: a query, path or body that does not parse, or holds a NUL.",
    )];
    if guarded {
        answers.push((
            "503",
            "Overloaded, or the database gave no connection in time: retry after `Retry-After` \
             seconds.",
        ));
    }
    if has_body {
        answers.extend([
            ("408", "The body did not arrive in time."),
            ("413", "The body is larger than the server accepts."),
            ("415", "A JSON body needs `Content-Type: application/json`."),
        ]);
    }
    if in_path || names_a_resource {
        answers.push(("404", "Nothing with this id in your tenant."));
    }
    if has_body || in_query {
        answers.push((
            "422",
            "A value that parses but is not acceptable (a date out of range, say); `field` \
             names it.",
        ));
    }
    answers
}

fn complete_operation(operation: &mut Operation, guarded: bool) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    for (status, description) in edge_answers(operation, guarded) {
        let responses = &mut operation.responses.responses;
        if !responses.contains_key(status) {
            let mut answer = Response::new(description);
            answer
                .content
                .insert("application/json".into(), error_content());
            responses.insert(status.into(), RefOr::T(answer));
        }
    }
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
