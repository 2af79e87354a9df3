//! `stacks`: renders, checks and deploys the CloudFormation of roadcall-perf's caching
//! and performance layer.
//!
//! - [`config`]: `stages/<stage>.toml`, every knob of a stage, strictly checked; each
//!   section's schema and checks sit next to its construct (`constructs::<name>::config`).
//! - [`constructs`]: the L2 layer (RedisCache, Cdn, Dax, AppSyncCache, Warmer,
//!   Monitoring, NetworkSecurity), secure by default, built on the typed L1 resources of
//!   the `cfn` crate.
//! - [`app`]: a stage's constructs split into stacks by lifecycle, joined by exports.
//! - [`synth`]: deterministic, all-or-nothing rendering to `out/<stage>/`.
//! - [`check`]: security and best-practice rules (CloudFormation Guard) over the templates.
//! - `deploy` (with the `aws` feature): deploy, diff, destroy, outputs, status and cache
//!   operations through the AWS SDK.
//!
//! ```
//! use stacks::{app, config};
//!
//! let dir = config::default_stages_dir();
//! let dev = config::load_stage(&dir, "dev").unwrap();
//! let stacks = app::build_stage(&dev).unwrap();
//! assert_eq!(stacks[0].name, "roadcall-perf-dev-keys");
//! let redis = stacks.iter().find(|s| s.name == "roadcall-perf-dev-redis").unwrap();
//! let json = cfn::render(&redis.template, cfn::Format::Json).unwrap();
//! assert!(json.contains("\"TransitEncryptionEnabled\": true"));
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod check;
pub mod config;
pub mod constructs;
#[cfg(feature = "aws")]
pub mod deploy;
pub mod stage;
pub mod synth;
