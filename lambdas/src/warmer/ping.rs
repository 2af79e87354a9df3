//! The ping the warmer sends and the answer it reads back.
//!
//! The services run under `lambda_http`, so the ping is an API Gateway HTTP API
//! (payload format 2.0) event for `GET /_warmer?holdMs=N` with the warmer header, and the
//! answer is an API Gateway response whose `body` is the router's JSON.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::router::{WARMER_HEADER, WARMER_PATH};

/// What a warmed environment answers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingAnswer {
    /// Always `true` from a handler that recognised the ping.
    pub warmed: bool,
    /// Unique to the execution environment that answered.
    pub environment_id: String,
    /// Whether this ping was the environment's first invocation.
    pub cold_start: bool,
}

/// Why a response is not a warmer answer.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// The payload is not an API Gateway response.
    #[error("not an API Gateway response: {0}")]
    NotApiGatewayResponse(String),
    /// The handler answered with an error status.
    #[error("status {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The body (truncated).
        body: String,
    },
    /// The body is not the ping answer.
    #[error("unexpected body: {0}")]
    Body(String),
}

/// The API Gateway HTTP API event for one ping; `hold` is sent as `holdMs` (the handler
/// caps it at 10 s), `None` leaves the handler's default (`WARMER_HOLD_MS`).
pub fn ping_event(hold: Option<Duration>) -> Value {
    let query = hold
        .map(|h| format!("holdMs={}", h.as_millis()))
        .unwrap_or_default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": WARMER_PATH,
        "rawQueryString": query,
        "headers": {
            WARMER_HEADER: "1",
            "user-agent": "roadcall-warmer",
        },
        "requestContext": {
            "routeKey": "$default",
            "stage": "$default",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "apiId": "warmer",
            "domainName": "warmer.internal",
            "timeEpoch": now_ms,
            "http": {
                "method": "GET",
                "path": WARMER_PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "roadcall-warmer",
            },
        },
        "isBase64Encoded": false,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiGatewayResponse {
    status_code: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// Reads the environment id out of a Lambda response payload.
pub fn parse_answer(payload: &[u8]) -> Result<PingAnswer, PingError> {
    let response: ApiGatewayResponse = serde_json::from_slice(payload)
        .map_err(|e| PingError::NotApiGatewayResponse(format!("{e}: {}", snippet(payload))))?;
    let body = response.body.unwrap_or_default();
    let body = if response.is_base64_encoded {
        decode_base64(&body).ok_or_else(|| PingError::Body("invalid base64".to_owned()))?
    } else {
        body.into_bytes()
    };
    if response.status_code != 200 {
        return Err(PingError::Status {
            status: response.status_code,
            body: snippet(&body),
        });
    }
    let answer: PingAnswer = serde_json::from_slice(&body)
        .map_err(|e| PingError::Body(format!("{e}: {}", snippet(&body))))?;
    if !answer.warmed || answer.environment_id.is_empty() {
        return Err(PingError::Body(snippet(&body)));
    }
    Ok(answer)
}

/// The start of a payload for error messages, so a huge body never floods the logs.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

/// Standard base64 with padding; `lambda_http` encodes non-text bodies this way.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_an_http_api_request_for_the_ping() {
        let event = ping_event(Some(Duration::from_millis(250)));
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(request.method(), "GET");
        assert_eq!(request.uri().path(), "/_warmer");
        assert_eq!(request.uri().query(), Some("holdMs=250"));
        assert_eq!(request.headers()[WARMER_HEADER], "1");
        let plain = lambda_http::request::from_str(&ping_event(None).to_string()).unwrap();
        assert_eq!(plain.uri().query(), None);
    }

    #[test]
    fn reads_text_and_base64_answers() {
        let body = r#"{"warmed":true,"environmentId":"e-1","coldStart":true}"#;
        let text =
            json!({"statusCode": 200, "headers": {}, "body": body, "isBase64Encoded": false});
        let answer = parse_answer(text.to_string().as_bytes()).unwrap();
        assert_eq!(
            (answer.environment_id.as_str(), answer.cold_start),
            ("e-1", true)
        );
        let encoded =
            "eyJ3YXJtZWQiOnRydWUsImVudmlyb25tZW50SWQiOiJlLTIiLCJjb2xkU3RhcnQiOmZhbHNlfQ==";
        let b64 = json!({"statusCode": 200, "body": encoded, "isBase64Encoded": true});
        assert_eq!(
            parse_answer(b64.to_string().as_bytes())
                .unwrap()
                .environment_id,
            "e-2"
        );
    }

    #[test]
    fn other_answers_are_errors() {
        let not_found = json!({"statusCode": 404, "body": "{\"error\":{}}"});
        assert!(matches!(
            parse_answer(not_found.to_string().as_bytes()),
            Err(PingError::Status { status: 404, .. })
        ));
        let cases: [&[u8]; 4] = [
            b"null",
            br#"{"errorType":"Runtime.ExitError","errorMessage":"boom"}"#,
            br#"{"statusCode":200,"body":"{\"status\":\"ok\"}"}"#,
            br#"{"statusCode":200,"body":"@@","isBase64Encoded":true}"#,
        ];
        for payload in cases {
            assert!(
                parse_answer(payload).is_err(),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
