//! A built-in [`SecretFetcher`] for AWS Secrets Manager: one SigV4-signed
//! `GetSecretValue` call over HTTPS, without the AWS SDK (which costs minutes of compile
//! time here). HTTP/1.1 with `Connection: close`: the secret is fetched once per cold start
//! and after an authentication failure, so connection reuse does not matter.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::sigv4::{HeaderSignRequest, sign_headers};
use super::{BoxFuture, CredentialsProvider, EnvCredentials, PasswordError, SecretFetcher};

/// Largest response accepted (a secret is at most 64 KiB; JSON adds little).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    https: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Self, PasswordError> {
        let bad = |why: &str| PasswordError::Unavailable(format!("endpoint `{url}`: {why}"));
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("must start with https:// (or http:// for loopback)"));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad("bad port"))?),
            None => (authority, if https { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        // Credentials-signed requests and the secret itself must not cross a network in
        // clear text; plain HTTP is for local emulators only.
        if !https && !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(bad("plain http is only allowed to a loopback address"));
        }
        Ok(Self {
            https,
            host: host.to_owned(),
            port,
        })
    }

    fn host_header(&self) -> String {
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Fetches a secret's `SecretString` with `secretsmanager:GetSecretValue`.
#[derive(Debug, Clone)]
pub struct SecretsManagerFetcher {
    secret_id: String,
    region: String,
    endpoint: Endpoint,
    credentials: Arc<dyn CredentialsProvider>,
    timeout: Duration,
}

impl SecretsManagerFetcher {
    /// A fetcher for `secret_id` (ARN or name) in `region`, signing with `credentials`,
    /// calling `https://secretsmanager.<region>.amazonaws.com`.
    pub fn new(
        secret_id: impl Into<String>,
        region: impl Into<String>,
        credentials: Arc<dyn CredentialsProvider>,
    ) -> Self {
        let region = region.into();
        Self {
            secret_id: secret_id.into(),
            endpoint: Endpoint {
                https: true,
                host: format!("secretsmanager.{region}.amazonaws.com"),
                port: 443,
            },
            region,
            credentials,
            timeout: Duration::from_secs(5),
        }
    }

    /// Like [`SecretsManagerFetcher::new`] with credentials from the environment and the
    /// endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` or `AWS_ENDPOINT_URL` when set (the
    /// AWS SDKs' variable names; useful for a local emulator).
    pub fn from_env(
        secret_id: impl Into<String>,
        region: impl Into<String>,
    ) -> Result<Self, PasswordError> {
        let fetcher = Self::new(secret_id, region, Arc::new(EnvCredentials));
        let endpoint = ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        match endpoint {
            Some(url) => fetcher.with_endpoint(&url),
            None => Ok(fetcher),
        }
    }

    /// Sends requests to `url` instead (`https://...`, or `http://` to a loopback address).
    pub fn with_endpoint(mut self, url: &str) -> Result<Self, PasswordError> {
        self.endpoint = Endpoint::parse(url)?;
        Ok(self)
    }

    /// Overall time limit of one fetch (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn fetch_once(&self) -> Result<String, PasswordError> {
        let credentials = self.credentials.credentials().await?;
        let body = serde_json::json!({ "SecretId": self.secret_id }).to_string();
        let host = self.endpoint.host_header();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let content_type = "application/x-amz-json-1.1";
        let target = "secretsmanager.GetSecretValue";
        let signed = sign_headers(
            &HeaderSignRequest {
                method: "POST",
                host: &host,
                path: "/",
                headers: &[("content-type", content_type), ("x-amz-target", target)],
                body: body.as_bytes(),
                region: &self.region,
                service: "secretsmanager",
                unix_time: now,
            },
            &credentials,
        );
        let mut request = format!(
            "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: {content_type}\r\n\
             x-amz-target: {target}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (name, value) in signed {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);

        let fetch_error = |e: std::io::Error| PasswordError::Fetch(format!("{host}: {e}"));
        let tcp = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port))
            .await
            .map_err(fetch_error)?;
        let response = if self.endpoint.https {
            let config = crate::tls::https_client_config()
                .map_err(|e| PasswordError::Fetch(e.to_string()))?;
            let name = rustls::pki_types::ServerName::try_from(self.endpoint.host.clone())
                .map_err(|e| PasswordError::Fetch(format!("bad host name: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(fetch_error)?;
            exchange(tls, request.as_bytes())
                .await
                .map_err(fetch_error)?
        } else {
            exchange(tcp, request.as_bytes())
                .await
                .map_err(fetch_error)?
        };
        secret_from_response(&response)
    }
}

impl SecretFetcher for SecretsManagerFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<String, PasswordError>> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.fetch_once()).await {
                Ok(result) => result,
                Err(_) => Err(PasswordError::Fetch(format!(
                    "no answer from Secrets Manager within {:?}",
                    self.timeout
                ))),
            }
        })
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> std::io::Result<Vec<u8>> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut response = Vec::new();
    let mut limited = (&mut stream).take(MAX_RESPONSE_BYTES as u64 + 1);
    // Servers that close without a TLS close_notify produce an error after the data;
    // the data is complete when the parser below accepts it.
    if let Err(error) = limited.read_to_end(&mut response).await
        && response.is_empty()
    {
        return Err(error);
    }
    if response.len() > MAX_RESPONSE_BYTES {
        return Err(std::io::Error::other("response too large"));
    }
    Ok(response)
}

/// Parses an HTTP/1.1 response and extracts `SecretString`, or the service's error.
fn secret_from_response(raw: &[u8]) -> Result<String, PasswordError> {
    let bad =
        |why: &str| PasswordError::Fetch(format!("malformed response from Secrets Manager: {why}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("headers not UTF-8"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let mut chunked = false;
    let mut content_length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            }
        }
    }
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked encoding"))?
    } else {
        match content_length {
            Some(len) => rest
                .get(..len)
                .ok_or_else(|| bad("truncated body"))?
                .to_vec(),
            None => rest.to_vec(),
        }
    };
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| bad(&format!("body is not JSON: {e}")))?;
    if status != 200 {
        let kind = json
            .get("__type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("UnknownError");
        // The type may carry a namespace prefix ("com.amazonaws...#ResourceNotFound").
        let kind = kind.rsplit('#').next().unwrap_or(kind);
        let message = json
            .get("message")
            .or_else(|| json.get("Message"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        return Err(PasswordError::Fetch(format!(
            "HTTP {status} {kind}: {message}"
        )));
    }
    json.get("SecretString")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            PasswordError::BadSecret(
                "no SecretString (binary secrets are not supported)".to_owned(),
            )
        })
}

fn dechunk(mut input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = input.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&input[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        input = &input[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(input.get(..size)?);
        input = input.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_loopback() {
        assert!(Endpoint::parse("https://secretsmanager.eu-west-1.amazonaws.com").is_ok());
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:5000").map(|e| (e.https, e.port)),
            Ok((false, 5000))
        );
        assert!(Endpoint::parse("http://secretsmanager.example.com").is_err());
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("https://h:notaport").is_err());
    }

    #[test]
    fn responses_are_parsed() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n\
                   Content-Length: 40\r\n\r\n{\"Name\":\"db\",\"SecretString\":\"{\\\"a\\\":1}\"}";
        assert_eq!(secret_from_response(ok), Ok("{\"a\":1}".to_owned()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5\r\n{\"Sec\r\n14\r\nretString\":\"s3cr3t\"}\r\n0\r\n\r\n";
        assert_eq!(secret_from_response(chunked), Ok("s3cr3t".to_owned()));
        let missing = b"HTTP/1.1 400 Bad Request\r\n\r\n\
                        {\"__type\":\"ResourceNotFoundException\",\"message\":\"no such secret\"}";
        let error = secret_from_response(missing).expect_err("400");
        assert!(
            error.to_string().contains("ResourceNotFoundException"),
            "{error}"
        );
        assert!(secret_from_response(b"garbage").is_err());
        assert!(
            secret_from_response(b"HTTP/1.1 200 OK\r\n\r\n{\"SecretBinary\":\"AA==\"}").is_err()
        );
    }
}
