//! The target and the HTTP client that talks to it: `--host` and `--header` checks,
//! and the socket and pool settings every load, probe and calibration request uses.
//!
//! One place builds clients so the generator, the sequential probe and the
//! calibration measure through exactly the same stack; a difference between them is
//! then the server's, not the tool's.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Why a target, a header or a client is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid --host `{0}`: expected an absolute http:// or https:// URL")]
    InvalidHost(String),
    /// An https:// target with the crate built without its `tls` feature.
    #[error("cannot load {0}: https:// needs the `tls` feature (on by default) of the load crate")]
    NoTls(String),
    /// A `--header` value is malformed.
    #[error("invalid --header `{0}`: expected `Name: value` with a valid header name and value")]
    InvalidHeader(String),
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// Parses `Name: value` header lines into a map.
pub fn parse_headers(lines: &[String]) -> Result<HeaderMap, ClientError> {
    let mut map = HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ClientError::InvalidHeader(line.clone()))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ClientError::InvalidHeader(line.clone()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| ClientError::InvalidHeader(line.clone()))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Checks a base URL: absolute, http or https, with a host.
pub fn parse_target(target: &str) -> Result<Url, ClientError> {
    let url = Url::parse(target).map_err(|_| ClientError::InvalidHost(target.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ClientError::InvalidHost(target.to_string()));
    }
    if url.scheme() == "https" && !cfg!(feature = "tls") {
        return Err(ClientError::NoTls(target.to_string()));
    }
    Ok(url)
}

/// How a client is built.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Headers sent with every request.
    pub headers: HeaderMap,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per host: the generator keeps one per flow
    /// it may have in flight, the sequential probe exactly one.
    pub max_idle_connections: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            headers: HeaderMap::new(),
            request_timeout: Duration::from_secs(10),
            max_idle_connections: 1,
        }
    }
}

/// Builds a client: HTTP/1.1 keep-alive, `TCP_NODELAY`, no redirects, no proxy.
pub fn build(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
    #[cfg(feature = "tls")]
    {
        // reqwest is built without a default crypto provider; installing ring here is
        // a no-op (an `Err` we can ignore) when the process already has one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    // The local server takes the caller from this header (Lambda ignores it); a `--header`
    // naming it wins.
    let mut headers = config.headers.clone();
    headers
        .entry("x-roadcall-caller")
        .or_insert(HeaderValue::from_static("roadcall-load"));
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(concat!("roadcall-load/", env!("CARGO_PKG_VERSION")))
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(config.max_idle_connections)
        // Small requests written as one segment each must not wait for the peer's
        // delayed ACK (reqwest's default today; stated so it stays that way).
        .tcp_nodelay(true)
        // An `HTTP_PROXY` in the environment would put a third process in every
        // measurement; the target is named explicitly and loopback by default.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ClientError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let map = parse_headers(&["Authorization: Bearer x:y".to_string()]).unwrap();
        assert_eq!(map.get("authorization").unwrap(), "Bearer x:y");
        assert!(parse_headers(&["no colon".to_string()]).is_err());
        assert!(parse_headers(&["bad name: v".to_string()]).is_err());
    }

    #[test]
    fn targets() {
        assert!(parse_target("http://127.0.0.1:3000").is_ok());
        assert!(parse_target("ftp://127.0.0.1").is_err());
        assert!(parse_target("127.0.0.1:3000").is_err());
    }
}
