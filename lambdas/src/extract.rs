//! Request extractors whose failures are the API's JSON errors, naming the field.

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, parsed with the path of any bad field (`location.lat`).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(kind) = req.headers().get(CONTENT_TYPE) {
            let kind = kind.to_str().unwrap_or_default().to_ascii_lowercase();
            if !kind.starts_with("application/json") && !kind.contains("+json") {
                return Err(
                    ApiError::bad_body("send the body as application/json").with_status(
                        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_media_type",
                    ),
                );
            }
        }
        let too_large = || {
            ApiError::bad_body(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
                .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        };
        // A declared length over the limit is refused before anything is read.
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES);
        let bytes = limited.collect().await.map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::bad_body(format!("cannot read the body: {e}"))
            }
        })?;
        parse_json(&bytes.to_bytes()).map(ApiJson)
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_body("the body is empty; send a JSON object"));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::bad_body("the body is not valid UTF-8"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // serde names missing and unknown fields in backticks; prefer the full path.
        let named = message
            .split('`')
            .nth(1)
            .filter(|_| {
                message.starts_with("missing field") || message.starts_with("unknown field")
            })
            .map(str::to_owned);
        let field = match (path.as_str(), named) {
            (".", Some(name)) => Some(name),
            (".", None) => None,
            (p, Some(name)) if message.starts_with("missing field") => Some(format!("{p}.{name}")),
            (p, _) => Some(p.to_owned()),
        };
        match field {
            Some(field) if inner.is_data() => ApiError::invalid(field, message),
            _ => ApiError::bad_body(format!(
                "the body is not valid JSON for this route: {message}"
            )),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_body(format!("unexpected data after the JSON value: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IncidentInput;

    #[test]
    fn errors_name_the_field() {
        let err = parse_json::<IncidentInput>(
            br#"{"driverId":"d","type":"tow","location":{"lat":"x","lon":1}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("location.lat"));
        let err = parse_json::<IncidentInput>(br#"{"type":"tow","location":{"lat":1,"lon":1}}"#)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("driverId"));
        let err =
            parse_json::<IncidentInput>(br#"{"driverId":"d","type":"tow","location":{"lat":1}}"#)
                .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("location.lon"));
        let err = parse_json::<IncidentInput>(
            br#"{"driverId":"d","type":"tow","location":{"lat":1,"lon":1},"x":1}"#,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("x"));
        let err = parse_json::<IncidentInput>(b"{not json").unwrap_err();
        assert_eq!(err.code, "invalid_body");
        let err = parse_json::<IncidentInput>(&[0xff, 0xfe]).unwrap_err();
        assert!(err.message.contains("UTF-8"));
    }
}
