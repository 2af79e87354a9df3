//! Open-model load suite for the roadside-assistance API.
//!
//! Flows start on an arrival-rate [`schedule`] (constant, ramping and burst
//! phases), whatever the server does, so a slow server shows as latency and not as
//! a lower request rate. Each arrival runs a weighted [`scenario`] (create an
//! incident and read it back, search vendors, open a vendor profile, update a
//! vendor's location) with values captured from earlier answers and think time.
//! Latency goes to HDR histograms ([`stats`]) per endpoint and phase, measured from
//! the scheduled start; [`threshold`]s decide pass or fail; [`report_json`] and
//! [`report_html`] write the results.
//!
//! Built-in [`profile`]s reproduce the previous suite: `smoke` (~30 s, CI), `full`
//! (warm-up, ramp, sustained, peak, spike, cool-down) and `incidents` (1,000
//! concurrent incident creations). Profile files are TOML.
//!
//! ```
//! use load::profile::Profile;
//!
//! let profile = Profile::from_toml(
//!     r#"
//!     base = "smoke"
//!     [[phases]]
//!     duration_s = 10
//!     from = 1
//!     to = 5
//!     [thresholds.overall]
//!     p99_ms = 800
//!     "#,
//!     "quick.toml",
//! )?;
//! // The integral of a 1 -> 5 /s ramp over 10 s.
//! assert_eq!(profile.schedule.arrival_count(), 30);
//! # Ok::<(), load::profile::ProfileError>(())
//! ```
//!
//! From the workspace root: `cargo run -p load -- --host http://127.0.0.1:3000 --profile smoke`.

#![warn(missing_docs)]

pub mod cli;
pub mod profile;
pub mod report_html;
pub mod report_json;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod testdata;
pub mod threshold;
