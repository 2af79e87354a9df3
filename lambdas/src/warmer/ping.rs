//! The ping the warmer sends and the answer it reads back.
//!
//! The ping is a direct invocation payload of its own, `{"roadcallWarmer": {"holdMs": N}}`,
//! not an HTTP event: only a caller allowed to invoke the function (the warmer's role)
//! can send it, and no HTTP request through API Gateway, an ALB or a function URL can look
//! like it ([`crate::host::LambdaHandler`] tells the two apart before `lambda_http` sees
//! the event). The answer is the JSON [`PingAnswer`] itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The ping's payload as a handler reads it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PingRequest {
    roadcall_warmer: PingOptions,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PingOptions {
    #[serde(default)]
    hold_ms: Option<u64>,
}

impl PingRequest {
    /// The hold the warmer asked for, if any.
    pub fn hold(&self) -> Option<Duration> {
        self.roadcall_warmer.hold_ms.map(Duration::from_millis)
    }
}

/// What a warmed environment answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The payload is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The handler answered an HTTP response (a function that does not know the ping).
    #[error("status {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The body (truncated).
        body: String,
    },
    /// The payload is not the ping answer.
    #[error("unexpected answer: {0}")]
    Body(String),
}

/// The ping payload; `hold` is sent as `holdMs` (the handler caps it at 10 s), `None`
/// leaves the handler's default (`WARMER_HOLD_MS`).
pub fn ping_event(hold: Option<Duration>) -> Value {
    match hold {
        Some(hold) => json!({"roadcallWarmer": {"holdMs": hold.as_millis() as u64}}),
        None => json!({"roadcallWarmer": {}}),
    }
}

/// Reads the environment id out of a Lambda response payload.
pub fn parse_answer(payload: &[u8]) -> Result<PingAnswer, PingError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| PingError::NotJson(format!("{e}: {}", snippet(payload))))?;
    // A handler that took the ping for an HTTP request answers an HTTP response.
    if let Some(status) = value.get("statusCode").and_then(Value::as_u64) {
        let body = value
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(PingError::Status {
            status: u16::try_from(status).unwrap_or(u16::MAX),
            body: snippet(body.as_bytes()),
        });
    }
    let answer: PingAnswer = serde_json::from_value(value)
        .map_err(|e| PingError::Body(format!("{e}: {}", snippet(payload))))?;
    if !answer.warmed || answer.environment_id.is_empty() {
        return Err(PingError::Body(snippet(payload)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ping_is_no_http_event_and_reads_back() {
        let event = ping_event(Some(Duration::from_millis(250)));
        assert!(lambda_http::request::from_str(&event.to_string()).is_err());
        let ping: PingRequest = serde_json::from_value(event).unwrap();
        assert_eq!(ping.hold(), Some(Duration::from_millis(250)));
        let plain: PingRequest = serde_json::from_value(ping_event(None)).unwrap();
        assert_eq!(plain.hold(), None);
    }

    #[test]
    fn reads_the_answer() {
        let body = r#"{"warmed":true,"environmentId":"e-1","coldStart":true}"#;
        let answer = parse_answer(body.as_bytes()).unwrap();
        assert_eq!(
            (answer.environment_id.as_str(), answer.cold_start),
            ("e-1", true)
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
            br#"{"warmed":false,"environmentId":"e","coldStart":false}"#,
            b"@@",
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
