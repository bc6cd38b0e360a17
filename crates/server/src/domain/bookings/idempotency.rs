//! Idempotency for booking writes: a retried request gets the first answer, never a second booking.

use super::*;
use crate::domain::error::ErrorCode;
use crate::domain::error::ErrorKind;

/// How long a request may hold a key before another may take it over (its owner died).
pub(crate) const STALE_AFTER: SignedDuration = SignedDuration::from_secs(60);
/// How long a duplicate waits for the first request to finish.
pub(crate) const WAIT_FOR_FIRST: Duration = Duration::from_secs(15);

/// Hash of what makes two requests "the same": the operation, the subject and the body.
pub fn request_hash(operation: &str, subject: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(subject.as_bytes());
    hasher.update([0]);
    hasher.update(body.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Claims a key. `Some(answer)` means: replay this answer and do nothing else.
///
/// # Errors
/// 422 `idempotency_key_reused` when the key came with a different request; 409
/// `idempotency_in_progress` when the first request is still running after a long wait.
pub async fn claim_key(
    state: &AppState,
    tenant: TenantId,
    key: &str,
    hash: &str,
) -> DomainResult<Option<(StatusCode, Value)>> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let reused = || {
            DomainError::invalid(
                "Idempotency-Key",
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was used for a different request.",
            )
        };
        match state
            .store
            .begin_idempotent(tenant, key, hash, Timestamp::now(), STALE_AFTER)
            .await?
        {
            IdempotencyState::Started => return Ok(None),
            IdempotencyState::Done {
                request_hash,
                status,
                body,
            } => {
                if request_hash != hash {
                    return Err(reused());
                }
                let status = StatusCode::from_u16(status).map_err(DomainError::internal)?;
                return Ok(Some((status, body)));
            }
            IdempotencyState::InProgress { request_hash } => {
                if request_hash != hash {
                    return Err(reused());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(DomainError::conflict(
                        ErrorCode::IdempotencyInProgress,
                        "The first request with this Idempotency-Key is still running; retry shortly.",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// After the work: a client error is recorded as the key's answer (nothing was written, so a
/// retry gets the same answer); a server error releases the key so a retry runs again.
pub async fn settle_key(
    state: &AppState,
    tenant: TenantId,
    key: &str,
    hash: &str,
    error: &DomainError,
) {
    let outcome = if error.kind.status().is_server_error() {
        state.store.abandon_idempotent(tenant, key).await
    } else {
        let mut body = serde_json::Map::new();
        body.insert("code".into(), error.code.into());
        body.insert("message".into(), error.message.clone().into());
        for (k, v) in error.sent_details() {
            body.insert(k, v);
        }
        state
            .store
            .finish_idempotent(
                tenant,
                &IdempotentResponse {
                    key: key.to_string(),
                    request_hash: hash.to_string(),
                    status: error.kind.status().as_u16(),
                    body: json!({ "error": body }),
                },
            )
            .await
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "could not settle an idempotency key");
    }
}

/// Runs `work` under an optional idempotency key: replays a finished answer, records client
/// errors, releases the key on server errors. `work` gets the key and hash to record its
/// success atomically.
pub(crate) async fn idempotent<T, F, Fut>(
    state: &AppState,
    tenant: TenantId,
    key: Option<String>,
    hash: String,
    success: StatusCode,
    work: F,
) -> DomainResult<(StatusCode, T)>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(Option<(String, String)>) -> Fut,
    Fut: std::future::Future<Output = DomainResult<T>>,
{
    let Some(key) = key else {
        return work(None).await.map(|body| (success, body));
    };
    if let Some((status, body)) = claim_key(state, tenant, &key, &hash).await? {
        return replay(status, body).map(|answer| (status, answer));
    }
    match work(Some((key.clone(), hash.clone()))).await {
        Ok(body) => Ok((success, body)),
        Err(error) => {
            settle_key(state, tenant, &key, &hash, &error).await;
            Err(error)
        }
    }
}

/// The idempotency record of a 200 answer, when the request carried a key.
pub(crate) fn recorded(
    record: Option<(String, String)>,
    body: &impl serde::Serialize,
) -> Option<IdempotentResponse> {
    record.map(|(key, request_hash)| IdempotentResponse {
        key,
        request_hash,
        status: 200,
        body: serde_json::to_value(body).expect("an answer serialises"),
    })
}

/// A recorded answer, given again: the success as it was sent, or the client error exactly.
///
/// # Errors
/// The recorded client error; an internal error when a recorded success no longer reads as `T`.
pub fn replay<T: serde::de::DeserializeOwned>(status: StatusCode, body: Value) -> DomainResult<T> {
    if status.is_success() {
        return serde_json::from_value(body).map_err(DomainError::internal);
    }
    Err(replayed_error(status, &body["error"]))
}

/// A client error recorded under an idempotency key (`{"code","message",…}`), answered again
/// with the same status, code, message and details.
pub fn replayed_error(status: StatusCode, error: &Value) -> DomainError {
    let mut replayed = DomainError::new(
        ErrorKind::of_status(status),
        ErrorCode::ReplayedError,
        error["message"].as_str().unwrap_or_default(),
    );
    if let Some(code) = error["code"].as_str().and_then(ErrorCode::parse) {
        replayed.code = code;
    }
    for (k, v) in error.as_object().into_iter().flatten() {
        match k.as_str() {
            "code" | "message" => {}
            // Typed again, so every edge offers them as it offers fresh ones.
            "alternatives" => match serde_json::from_value(v.clone()) {
                Ok(alternatives) => replayed.alternatives = alternatives,
                Err(_) => replayed = replayed.with(k, v.clone()),
            },
            _ => replayed = replayed.with(k, v.clone()),
        }
    }
    replayed
}
