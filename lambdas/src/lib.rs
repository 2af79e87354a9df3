//! Vendor, incidents and payments HTTP handlers and the Lambda warmer.
//!
//! This crate will hold one axum `Router` per service, run under `lambda_http` on Lambda
//! and under `axum::serve` by the `local` binary, plus the warmer (issue 5).
