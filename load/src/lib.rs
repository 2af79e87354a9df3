//! Open-model load suite for the roadside-assistance API.
//!
//! This crate will hold the arrival-rate scheduler, weighted scenarios, HDR latency
//! histograms, thresholds and reports (issue 8).
