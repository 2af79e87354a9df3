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
//! Two measurements keep the tool honest about itself. A sequential [`probe`] sends
//! one request at a time on its own connection beside the load, so every endpoint's
//! loaded latency sits next to what a lone client sees in the same run. And
//! [`calibrate`] runs the same generator against a stub that answers at once: what it
//! measures there is the tool's own share of every figure (`load calibrate` reports
//! it at 15, 500 and 1,000 requests/s; each run calibrates briefly at its peak rate).
//! Every `POST /incidents` answer's vendor goes through [`matching`], which fails the
//! run if a vendor was matched twice.
//!
//! The request path is split by concept: [`client`] (target, headers, socket and
//! pool settings), [`requests`] (bodies, query, URLs), [`exchange`] (send, time,
//! classify, capture), [`setup`] (the unmeasured vendors), and [`runner`] (the
//! schedule walk, flows and the summary).
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

pub mod calibrate;
pub mod cli;
pub mod client;
pub mod cpu;
pub mod exchange;
pub mod matching;
pub mod priority;
pub mod probe;
pub mod profile;
mod recorder;
pub mod report_html;
pub mod report_json;
pub mod requests;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod setup;
pub mod stats;
pub mod testdata;
pub mod threshold;
