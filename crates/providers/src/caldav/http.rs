//! The HTTP client libdav drives: our `reqwest` client behind a `tower` service, with Basic
//! auth on every request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use http_body_util::Full;

use super::CalDavError;
use super::network::AddressPolicy;

/// Why a request was not answered: refused by our address policy, or an HTTP failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DavHttpError {
    #[error("{0} is not a public address")]
    Blocked(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// `reqwest` as the `tower::Service<http::Request<String>>` libdav requires.
#[derive(Clone)]
pub(crate) struct DavHttp {
    http: reqwest::Client,
    authorization: HeaderValue,
    policy: AddressPolicy,
}

impl std::fmt::Debug for DavHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DavHttp").finish_non_exhaustive()
    }
}

impl DavHttp {
    pub(crate) fn new(
        http: reqwest::Client,
        policy: AddressPolicy,
        username: &str,
        password: &str,
    ) -> Result<Self, CalDavError> {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let mut authorization = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| CalDavError::BadUrl("the user name cannot be sent in a header".into()))?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            authorization,
            policy,
        })
    }
}

type Answer = Result<http::Response<Full<Bytes>>, DavHttpError>;

impl tower_service::Service<http::Request<String>> for DavHttp {
    type Response = http::Response<Full<Bytes>>;
    type Error = DavHttpError;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<String>) -> Self::Future {
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.authorization.clone());
        let http = self.http.clone();
        // Names are checked when resolved (`PolicyResolver`); an IP written in the URL is not
        // resolved, so it is checked here.
        let literal = request
            .uri()
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<std::net::IpAddr>().ok());
        let blocked = literal.filter(|ip| !self.policy.allows(*ip));
        Box::pin(async move {
            if let Some(ip) = blocked {
                return Err(DavHttpError::Blocked(ip.to_string()));
            }
            let request = reqwest::Request::try_from(request)?;
            let response = http.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            let mut answer = http::Response::new(Full::new(body));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
