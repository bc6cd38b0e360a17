//! Who is calling: a publishable widget key from an allowed origin (or the tenant's own key),
//! rate-limited per key and client address; and the CORS preflight.

use super::*;
use crate::http::error::ErrorCode;
use pillow_store::AgentId;

/// The client's address, when the server was started with connection info.
pub struct PeerIp(pub Option<IpAddr>);
impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
/// The origins of the server's own pages (`/book`, `/demo/call`), which may always use a key.
pub(crate) fn own_origins(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let mut own = vec![state.config.public_url.trim_end_matches('/').to_string()];
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        own.push(format!("http://{host}"));
        own.push(format!("https://{host}"));
    }
    own
}
pub(crate) fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
}
/// Whether a page on `origin` may use `allowed`.
pub(crate) fn origin_allowed(
    state: &AppState,
    headers: &HeaderMap,
    origin: &str,
    allowed: &[String],
) -> bool {
    let origin = origin.to_ascii_lowercase();
    allowed.contains(&origin) || own_origins(state, headers).contains(&origin)
}
/// Which limit a request counts against.
#[derive(Clone, Copy)]
pub(crate) enum Operation {
    Slots,
    Book,
}
/// The tenant an in-call request acts in, and the CORS origin to answer with.
pub(crate) struct Access {
    pub(crate) tenant: TenantId,
    pub(crate) cors: Option<HeaderValue>,
}
/// Authenticates an in-call request for `agent_id`: a widget key (checked against the agent,
/// the origin and its rate limit) or, without one, a user's JWT or an API key of the tenant.
pub(crate) async fn access(
    state: &AppState,
    headers: &HeaderMap,
    peer: &PeerIp,
    agent_id: AgentId,
    operation: Operation,
) -> Result<Access, InCallError> {
    // Error bodies carry nothing secret, so they are readable from any page: an embedder
    // sees "origin not allowed" rather than an opaque CORS failure.
    let reflected = origin_of(headers).and_then(|o| HeaderValue::from_str(o).ok());
    let fail = |error: ApiError| InCallError {
        error,
        cors: reflected.clone(),
    };
    let Some(presented) = headers.get(WIDGET_KEY_HEADER) else {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.headers = headers.clone();
        let caller = Caller::from_request_parts(&mut parts, state)
            .await
            .map_err(fail)?;
        return Ok(Access {
            tenant: caller.tenant,
            cors: None,
        });
    };
    let invalid = || {
        fail(ApiError::unauthorized(
            "The widget key is not valid; ask the site owner for a current one.",
        ))
    };
    let presented = presented.to_str().map_err(|_| invalid())?.trim();
    let prefix = WIDGET_KEY.lookup_prefix(presented).ok_or_else(invalid)?;
    let key: WidgetKey = state
        .store
        .find_widget_key(prefix)
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(invalid)?;
    if !key_matches(presented, &key.secret_hash) {
        return Err(invalid());
    }
    if key.agent_id != agent_id {
        return Err(fail(ApiError::forbidden(
            "This widget key belongs to another agent.",
        )));
    }
    // An Origin that is not text must not skip the origin check.
    if headers.contains_key(header::ORIGIN) && origin_of(headers).is_none() {
        return Err(fail(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::OriginNotAllowed,
            "The Origin header is not a valid origin.",
        )));
    }
    if let Some(origin) = origin_of(headers)
        && !origin_allowed(state, headers, origin, &key.allowed_origins)
    {
        return Err(fail(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::OriginNotAllowed,
            format!(
                "Pages on {origin} may not use this widget key; add the origin to the key's \
                 allowed_origins."
            ),
        )));
    }
    let ip = peer
        .0
        .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    // Callers read the message: it names the window of the limit that was hit, once.
    let (limiter, what, message) = match operation {
        Operation::Slots => (
            &state.incall.slot_limiter,
            "slots",
            "Too many requests for times from this device. Please wait a minute, then try again.",
        ),
        Operation::Book => (
            &state.incall.book_limiter,
            "book",
            "Too many booking attempts from this device. Please wait 10 minutes, then try again.",
        ),
    };
    if !limiter.allow(&format!("{what}:{}:{ip}", key.id)) {
        return Err(fail(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            message,
        )));
    }
    Ok(Access {
        tenant: key.tenant_id,
        cors: reflected,
    })
}
/// Answers CORS preflights: only origins some key of the agent allows (or the server's own)
/// get the `Access-Control-Allow-*` headers; any other origin gets a 403.
pub(crate) async fn preflight(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    headers: HeaderMap,
) -> InCallResult {
    let refuse = |message: &str| {
        InCallError::from(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::OriginNotAllowed,
            message,
        ))
    };
    let origin = origin_of(&headers)
        .ok_or_else(|| refuse("A preflight names its Origin."))?
        .to_string();
    let agent = match agent_id.parse::<AgentId>() {
        Ok(id) => state.store.find_agent(id).await?,
        Err(_) => None,
    };
    let allowed = match agent {
        Some(agent) => state
            .store
            .list_widget_keys(agent.tenant_id, agent.id)
            .await?
            .iter()
            .any(|key| origin_allowed(&state, &headers, &origin, &key.allowed_origins)),
        None => false,
    };
    if !allowed {
        return Err(refuse(&format!(
            "Pages on {origin} may not call this agent's calendar; add the origin to a widget \
             key's allowed_origins."
        )));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    add_cors(h, HeaderValue::from_str(&origin).ok());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-pillow-key, idempotency-key"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Ok(response)
}
