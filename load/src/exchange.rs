//! One request and its answer: send, time to the end of the body, classify, and
//! take from the body what later steps (and the match check) need.

use serde_json::Value;
use tokio::time::{Duration, Instant};

use crate::requests::Captured;
use crate::scenario::Endpoint;
use crate::stats::Outcome;

/// What a request produced.
#[derive(Debug)]
pub struct Answer {
    /// Time from the given start to the end of the body; `None` when no answer came.
    pub latency: Option<Duration>,
    /// Success or the error kind.
    pub outcome: Outcome,
    /// The parsed body, only for answers that feed a capture.
    pub body: Option<Value>,
}

impl Answer {
    fn failed(latency: Option<Duration>, kind: impl Into<String>) -> Self {
        Self {
            latency,
            outcome: Outcome::Error(kind.into()),
            body: None,
        }
    }
}

/// Sends a request and classifies the answer. Latency is measured to the end of the
/// body, from `from`.
pub async fn send(request: reqwest::RequestBuilder, endpoint: Endpoint, from: Instant) -> Answer {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Answer::failed(None, transport_kind(&e)),
    };
    let status = response.status();
    let bytes = response.bytes().await;
    let latency = Some(from.elapsed());
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return Answer::failed(latency, transport_kind(&e)),
    };
    if !status.is_success() {
        return Answer::failed(latency, format!("http_{}", status.as_u16()));
    }
    // Only answers that feed a capture are parsed: the others are measured, not judged.
    if !matches!(endpoint, Endpoint::CreateIncident | Endpoint::SearchVendors) {
        return Answer {
            latency,
            outcome: Outcome::Ok,
            body: None,
        };
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(body) if capture_shape_ok(endpoint, &body) => Answer {
            latency,
            outcome: Outcome::Ok,
            body: Some(body),
        },
        Ok(_) => Answer::failed(latency, "unexpected_body"),
        Err(_) => Answer::failed(latency, "invalid_json"),
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// Whether a 2xx answer has the field the flow captures: `incidentId` (string) for
/// an incident, a `vendors` array for a search.
pub fn capture_shape_ok(endpoint: Endpoint, body: &Value) -> bool {
    match endpoint {
        Endpoint::CreateIncident => body.get("incidentId").and_then(Value::as_str).is_some(),
        Endpoint::SearchVendors => body.get("vendors").and_then(Value::as_array).is_some(),
        _ => true,
    }
}

/// Stores what an answer offers for later steps.
pub fn capture(endpoint: Endpoint, body: Option<&Value>, captured: &mut Captured) {
    let Some(body) = body else { return };
    match endpoint {
        Endpoint::CreateIncident => {
            captured.incident_id = body
                .get("incidentId")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Endpoint::SearchVendors => {
            captured.vendor_ids = body
                .get("vendors")
                .and_then(Value::as_array)
                .map(|vendors| {
                    vendors
                        .iter()
                        .filter_map(|v| v.get("vendorId").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
        }
        _ => {}
    }
}

/// The vendor a `POST /incidents` answer matched (`match.vendorId`), `None` when it
/// was unmatched (`"match": null`).
pub fn matched_vendor(body: &Value) -> Option<&str> {
    body.get("match")?.get("vendorId")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn captures_read_the_contract_fields() {
        let mut c = Captured::default();
        capture(
            Endpoint::CreateIncident,
            Some(&json!({"incidentId": "i-1"})),
            &mut c,
        );
        capture(
            Endpoint::SearchVendors,
            Some(&json!({"vendors": [{"vendorId": "v-1"}, {"vendorId": "v-2"}, {}], "count": 3})),
            &mut c,
        );
        assert_eq!(c.incident_id.as_deref(), Some("i-1"));
        assert_eq!(c.vendor_ids, ["v-1", "v-2"]);
        assert!(!capture_shape_ok(
            Endpoint::CreateIncident,
            &json!({"id": "x"})
        ));
        assert!(!capture_shape_ok(
            Endpoint::SearchVendors,
            &json!({"vendors": {}})
        ));
    }

    #[test]
    fn match_is_read_from_the_answer() {
        let matched =
            json!({"incidentId": "i", "match": {"vendorId": "v-9", "distanceMiles": 1.0}});
        assert_eq!(matched_vendor(&matched), Some("v-9"));
        assert_eq!(
            matched_vendor(&json!({"incidentId": "i", "match": null})),
            None
        );
    }
}
