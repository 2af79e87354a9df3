//! `GET /health`: database round trip and writability, Redis, the vendor index, pool
//! figures.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// `GET /health`: 200 when the database answers and accepts writes (`degraded` when only
/// Redis is down: the cache is optional), 503 otherwise.
pub async fn health(State(state): State<AppState>) -> Response {
    let database = match state.db.health().await {
        Ok(h) => json!({
            "ok": h.writable,
            "writable": h.writable,
            "roundTripMs": h.round_trip.as_secs_f64() * 1000.0,
            "serverVersion": h.server_version,
        }),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    let redis = match &state.cache {
        None => json!({"configured": false}),
        Some(cache) => match cache.client().exists("roadcall:health").await {
            Ok(_) => {
                json!({"configured": true, "ok": true, "breaker": format!("{:?}", cache.breaker_state())})
            }
            Err(e) => json!({"configured": true, "ok": false, "error": e.to_string(),
                             "breaker": format!("{:?}", cache.breaker_state())}),
        },
    };
    // The vendor index: complete or not, vendors indexed, last rebuild and its duration.
    let index = match state.cache {
        None => json!({"configured": false}),
        Some(_) => match state.vendors.index_status().await {
            Some(status) => json!(status),
            None => json!({"ok": false, "error": "redis did not answer"}),
        },
    };
    let stats = state.db.stats();
    let pool = json!({
        "size": stats.writer.size,
        "available": stats.writer.available,
        "waiting": stats.writer.waiting,
        "created": stats.created,
        "errors": stats.errors,
        "evicted": stats.evicted,
        "retries": stats.retries,
    });
    let db_ok = database["ok"] == true;
    let redis_ok = redis.get("ok").is_none_or(|ok| ok == true);
    let status = match (db_ok, redis_ok) {
        (true, true) => "ok",
        (true, false) => "degraded",
        (false, _) => "unavailable",
    };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": status,
            "environmentId": state.environment.id,
            "database": database,
            "redis": redis,
            "vendorIndex": index,
            "pool": pool,
        })),
    )
        .into_response()
}
