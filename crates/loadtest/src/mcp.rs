//! Closed-loop MCP load: each task is one MCP client that calls one tool back to back.
//!
//! With a handshake revision (`2025-11-25`) each task first opens its own session
//! (`initialize`, then `notifications/initialized`, not measured) and sends every call in it;
//! with `2026-07-28` every call is a self-contained request carrying its protocol version in
//! `_meta`. A call counts as answered only when it returns a JSON-RPC result that is not an
//! `isError` tool result, so a server that fails politely cannot look fast.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use reqwest::Client;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http::{FirstError, HttpOptions, HttpReport, WorkerStats, build_client, summarize};
use crate::util::snippet;

/// The MCP revisions the load tool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `initialize` handshake, one session per task.
    Handshake2025,
    /// Self-contained requests, no session.
    Modern2026,
}

impl Protocol {
    /// The revision's name on the wire.
    #[must_use]
    pub fn version(self) -> &'static str {
        match self {
            Protocol::Handshake2025 => "2025-11-25",
            Protocol::Modern2026 => "2026-07-28",
        }
    }

    /// Reads `2025-11-25` or `2026-07-28`.
    ///
    /// # Errors
    /// Any other revision.
    pub fn parse(text: &str) -> Result<Protocol> {
        match text {
            "2025-11-25" => Ok(Protocol::Handshake2025),
            "2026-07-28" => Ok(Protocol::Modern2026),
            other => {
                bail!("unsupported MCP protocol version {other:?}: use 2025-11-25 or 2026-07-28")
            }
        }
    }
}

/// One tool, called over and over.
#[derive(Clone, Debug)]
pub struct McpOptions {
    /// The `/mcp` URL (one), headers, concurrency and timing; `method` and bodies are ignored.
    pub http: HttpOptions,
    pub protocol: Protocol,
    pub tool: String,
    /// The tool's arguments, a JSON object.
    pub arguments: Value,
}

struct Shared {
    options: McpOptions,
    client: Client,
    issued: AtomicU64,
    measure_start: Instant,
    end: Instant,
}

/// The JSON-RPC message of a response body, JSON or SSE (the first event with data).
fn message_of(content_type: Option<&str>, body: &str) -> Option<Value> {
    if content_type.is_some_and(|t| t.starts_with("text/event-stream")) {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .find(|data| !data.is_empty())
            .and_then(|data| serde_json::from_str(data).ok())
    } else {
        serde_json::from_str(body).ok()
    }
}

/// Why an answer does not count, if it does not.
fn failure_of(message: Option<&Value>) -> Option<String> {
    let Some(message) = message else {
        return Some("the body is not a JSON-RPC message".into());
    };
    if let Some(error) = message.get("error") {
        return Some(format!("JSON-RPC error {error}"));
    }
    let result = message.get("result")?;
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Some(format!("tool error {result}"));
    }
    None
}

async fn post(
    shared: &Shared,
    headers: &HeaderMap,
    body: Value,
) -> Result<(reqwest::StatusCode, HeaderMap, String), reqwest::Error> {
    let url = shared.options.http.urls[0].clone();
    let response = shared
        .client
        .post(url)
        .headers(headers.clone())
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let response_headers = response.headers().clone();
    let text = response.text().await?;
    Ok((status, response_headers, text))
}

/// Opens a session for a handshake-revision task; returns the headers its calls carry.
async fn open(shared: &Shared) -> Result<HeaderMap> {
    let options = &shared.options;
    let mut headers = HeaderMap::new();
    headers.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    headers.insert(
        "mcp-protocol-version",
        HeaderValue::from_static(options.protocol.version()),
    );
    match options.protocol {
        Protocol::Modern2026 => {
            headers.insert("mcp-method", HeaderValue::from_static("tools/call"));
            headers.insert(
                "mcp-name",
                HeaderValue::from_str(&options.tool).context("the tool name as a header")?,
            );
        }
        Protocol::Handshake2025 => {
            let initialize = json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {
                    "protocolVersion": options.protocol.version(),
                    "capabilities": {},
                    "clientInfo": {"name": "pillow-load", "version": env!("CARGO_PKG_VERSION")}
                }
            });
            let (status, answer_headers, body) = post(shared, &headers, initialize)
                .await
                .context("initialize")?;
            let session = answer_headers
                .get("mcp-session-id")
                .cloned()
                .with_context(|| {
                    format!(
                        "initialize gave no session ({status}): {}",
                        snippet(&body, 200)
                    )
                })?;
            headers.insert("mcp-session-id", session);
            let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            post(shared, &headers, initialized)
                .await
                .context("notifications/initialized")?;
        }
    }
    Ok(headers)
}

fn call_body(options: &McpOptions, id: u64) -> Value {
    let mut params = json!({"name": options.tool, "arguments": options.arguments});
    if options.protocol == Protocol::Modern2026 {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": options.protocol.version(),
            "io.modelcontextprotocol/clientInfo": {"name": "pillow-load", "version": env!("CARGO_PKG_VERSION")},
            "io.modelcontextprotocol/clientCapabilities": {}
        });
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

async fn worker(shared: Arc<Shared>) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let url = shared.options.http.urls[0].to_string();
    let headers = match open(&shared).await {
        Ok(headers) => headers,
        Err(error) => {
            stats.transport_errors += 1;
            stats.first_error = Some((
                0,
                FirstError {
                    kind: "transport",
                    status: None,
                    url,
                    message: snippet(&format!("{error:#}"), 300),
                },
            ));
            return stats;
        }
    };
    let mut id = 0_u64;
    loop {
        let started = Instant::now();
        if started >= shared.end {
            break;
        }
        let measured = started >= shared.measure_start;
        if measured
            && let Some(max) = shared.options.http.max_requests
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        id += 1;
        let outcome = post(&shared, &headers, call_body(&shared.options, id)).await;
        let finished = Instant::now();
        if !measured {
            continue;
        }
        let offset = |at: Instant| {
            u64::try_from(at.duration_since(shared.measure_start).as_nanos()).unwrap_or(u64::MAX)
        };
        stats.last_finish_ns = stats.last_finish_ns.max(offset(finished));
        let error = match outcome {
            Ok((status, answer_headers, body)) => {
                let content_type = answer_headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok());
                let failure = if status.is_success() {
                    failure_of(message_of(content_type, &body).as_ref())
                } else {
                    Some(body)
                };
                match failure {
                    None => {
                        stats.ok += 1;
                        stats.latencies_ns.push(
                            u64::try_from(finished.duration_since(started).as_nanos())
                                .unwrap_or(u64::MAX),
                        );
                        None
                    }
                    Some(message) => {
                        stats.non_2xx += 1;
                        Some(FirstError {
                            kind: "status",
                            status: Some(status.as_u16()),
                            url: url.clone(),
                            message: snippet(&message, 200),
                        })
                    }
                }
            }
            Err(error) => {
                stats.transport_errors += 1;
                Some(FirstError {
                    kind: "transport",
                    status: None,
                    url: url.clone(),
                    message: snippet(&error.to_string(), 300),
                })
            }
        };
        if let Some(error) = error
            && stats.first_error.is_none()
        {
            stats.first_error = Some((offset(started), error));
        }
    }
    if shared.options.protocol == Protocol::Handshake2025 {
        // Close the session; the server would drop it after a while anyway.
        let _ = shared
            .client
            .delete(shared.options.http.urls[0].clone())
            .headers(headers)
            .send()
            .await;
    }
    stats
}

/// Runs the load and returns its figures, as [`crate::http::run_http`] does; `non_2xx` counts
/// every answer that is not a successful tool result.
///
/// # Errors
/// Invalid options (including a non-loopback URL or more than one URL), arguments that are not
/// a JSON object, or a client that cannot be built.
pub async fn run_mcp(options: &McpOptions) -> Result<HttpReport> {
    options.http.validate()?;
    if options.http.urls.len() != 1 {
        bail!("give exactly one --url, the /mcp endpoint");
    }
    if !options.arguments.is_object() {
        bail!("--arguments must be a JSON object");
    }
    let client = build_client(&options.http)?;
    let start = Instant::now();
    let measure_start = start + options.http.warmup;
    let end = measure_start + options.http.duration;
    let shared = Arc::new(Shared {
        options: options.clone(),
        client,
        issued: AtomicU64::new(0),
        measure_start,
        end,
    });
    let mut tasks = JoinSet::new();
    for _ in 0..options.http.concurrency {
        tasks.spawn(worker(Arc::clone(&shared)));
    }
    let hard_deadline = end + options.http.timeout * 2 + std::time::Duration::from_secs(2);
    let mut all = Vec::with_capacity(options.http.concurrency);
    let mut abandoned_tasks = 0;
    loop {
        match tokio::time::timeout_at(hard_deadline, tasks.join_next()).await {
            Ok(Some(Ok(stats))) => all.push(stats),
            Ok(Some(Err(error))) => return Err(error).context("a load task failed"),
            Ok(None) => break,
            Err(_) => {
                abandoned_tasks = tasks.len();
                tasks.abort_all();
                break;
            }
        }
    }
    let mut report = summarize(&options.http, all, abandoned_tasks);
    report.method = format!(
        "MCP {} tools/call {}",
        options.protocol.version(),
        options.tool
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_count_only_when_they_are_successful_tool_results() {
        let ok = json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": false}});
        assert_eq!(failure_of(Some(&ok)), None);
        let tool_error = json!({"jsonrpc": "2.0", "id": 1, "result": {"isError": true}});
        assert!(
            failure_of(Some(&tool_error))
                .unwrap()
                .starts_with("tool error")
        );
        let rpc_error = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602}});
        assert!(
            failure_of(Some(&rpc_error))
                .unwrap()
                .starts_with("JSON-RPC error")
        );
        assert!(failure_of(None).is_some());
    }

    #[test]
    fn sse_and_json_bodies_give_the_same_message() {
        let message = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
        let sse = format!("data: \nid: 0\n\ndata: {message}\n\n");
        assert_eq!(
            message_of(Some("text/event-stream"), &sse),
            Some(message.clone())
        );
        assert_eq!(
            message_of(Some("application/json"), &message.to_string()),
            Some(message)
        );
    }

    #[test]
    fn modern_calls_carry_their_version_in_meta_and_handshake_calls_do_not() {
        let mut options = McpOptions {
            http: HttpOptions::new(vec![reqwest::Url::parse("http://127.0.0.1:1/mcp").unwrap()]),
            protocol: Protocol::Modern2026,
            tool: "check_availability".into(),
            arguments: json!({"date": "2030-01-01"}),
        };
        let body = call_body(&options, 7);
        assert_eq!(body["id"], 7);
        assert_eq!(
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(body["params"]["arguments"]["date"], "2030-01-01");
        options.protocol = Protocol::Handshake2025;
        assert!(call_body(&options, 1)["params"].get("_meta").is_none());
        assert!(Protocol::parse("2024-11-05").is_err());
    }
}
