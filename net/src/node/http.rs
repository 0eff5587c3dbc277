//! A small JSON-over-HTTP client for the node's routes: forwarding to the leader, and
//! [`NodeClient`](super::NodeClient). Same connections, TLS and token rules as
//! [`HttpAcceptor`](crate::HttpAcceptor), built from the same [`ClientOptions`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use synodos::Error;

use crate::api::{self, ApiError};
use crate::client::{ClientOptions, HttpVersion};
use crate::error::NetError;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A pooled HTTP client for any number of node URLs.
#[derive(Clone)]
pub(crate) struct Http {
    client: HttpClient,
    auth: Option<HeaderValue>,
    cluster: Option<HeaderValue>,
    pub(crate) timeout: Duration,
    max_response: usize,
}

/// A whole answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A transport error naming the URL, with the causes in its message.
pub(crate) fn transport(url: &str, what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    let mut message = format!("{url}: {what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Error::Transport { message, cause: Some(Arc::new(e)) }
}

impl Http {
    pub(crate) fn new(options: &ClientOptions) -> Result<Self, NetError> {
        let tls = match options.ca() {
            Some(ca) => crate::tls::client_config(ca, options.client_identity())?,
            None => rustls::ClientConfig::builder_with_provider(crate::tls::provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| NetError::Config(format!("TLS: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.connect_timeout_value()));
        let tls = HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let connector = match options.version() {
            HttpVersion::Http1 => tls.enable_http1().wrap_connector(http),
            HttpVersion::Http2 => tls.enable_http2().wrap_connector(http),
            HttpVersion::Auto => tls.enable_http1().enable_http2().wrap_connector(http),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .http2_only(options.version() == HttpVersion::Http2)
            .build(connector);
        let auth = match options.bearer() {
            Some(t) => Some(
                HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| NetError::Config("the token has characters a header cannot carry".into()))?,
            ),
            None => None,
        };
        let cluster = match options.expected_cluster() {
            Some(c) => Some(
                HeaderValue::from_str(c)
                    .map_err(|_| NetError::Config(format!("cluster name {c:?} cannot go in a header")))?,
            ),
            None => None,
        };
        Ok(Http { client, auth, cluster, timeout: options.request_timeout(), max_response: 256 << 20 })
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
        extra: &[(&'static str, String)],
    ) -> Result<Request<Full<Bytes>>, Error> {
        let mut req = Request::builder().method(method).uri(url);
        if let Some(auth) = &self.auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        if let Some(cluster) = &self.cluster {
            req = req.header(api::CLUSTER_HEADER, cluster.clone());
        }
        for (name, value) in extra {
            req = req.header(*name, value.as_str());
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, api::JSON);
        }
        req.body(Full::new(body.unwrap_or_default())).map_err(|e| transport(url, "cannot build the request", e))
    }

    /// Send a request and read the whole answer (any status), within the timeout. Runs on
    /// the caller's tokio runtime.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
        extra: &[(&'static str, String)],
    ) -> Result<Answer, Error> {
        let req = self.request(method, url, body, extra)?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| transport(url, "request failed", e))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = Limited::new(resp.into_body(), self.max_response)
                .collect()
                .await
                .map_err(|e| Error::transport(format!("{url}: reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, Error>(Answer { status, headers, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::transport(format!("{url}: no answer within {:?}", self.timeout)))?
    }

    /// Open a streamed answer (a following `/v1/log`): the response once its head arrived.
    pub(crate) async fn open(&self, url: &str) -> Result<hyper::Response<hyper::body::Incoming>, Error> {
        let req = self.request(Method::GET, url, None, &[])?;
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| Error::transport(format!("{url}: no answer within {:?}", self.timeout)))?
            .map_err(|e| transport(url, "request failed", e))?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let body =
                Limited::new(resp.into_body(), 64 << 10).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            return Err(failure(url, status, &body));
        }
        Ok(resp)
    }
}

/// The error of a non-200 answer: its `ApiError`, as the core error a client reports.
pub(crate) fn failure(url: &str, status: StatusCode, body: &[u8]) -> Error {
    api_error(status, body).into_core(url)
}

/// The `ApiError` of a non-200 answer.
pub(crate) fn api_error(status: StatusCode, body: &[u8]) -> ApiError {
    let mut api = serde_json::from_slice::<ApiError>(body).unwrap_or_else(|_| {
        ApiError::new(status.as_u16(), "HTTP", String::from_utf8_lossy(body).chars().take(200).collect::<String>())
    });
    api.status = status.as_u16();
    api
}
