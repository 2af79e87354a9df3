//! Deploying, diffing and destroying a stage's stacks through the AWS SDK, and the cache
//! operations that act on what they created.
//!
//! One module per concept:
//! - [`client`]: SDK configuration (credential chain, profile, region, `AWS_ENDPOINT_URL`)
//!   and the service clients, with the `cdn` stack pinned to `us-east-1`.
//! - [`error`]: [`DeployError`], and the mapping of AWS error codes to it.
//! - [`select`]: which stacks a command acts on, in which order.
//! - [`params`]: `--parameter` overrides.
//! - [`assets`]: the functions' zips, built (with the RDS CA bundle added to the database
//!   functions' zips) or given, uploaded to a staging bucket under a content-hash key.
//! - [`zipfile`]: the bit of the ZIP format that adding that bundle needs.
//! - [`changeset`]: change sets (create, describe, execute) and the deploy of one stack.
//! - [`events`]: following stack events to a terminal state, with a progress display;
//!   [`events::run_operation`] runs one stack operation (execute a change set, delete) and
//!   follows it.
//! - [`diff`]: deployed template against synthesized template.
//! - [`outputs`]: stack outputs.
//! - [`status`]: stack status and what the services themselves report.
//! - [`cache_ops`]: CloudFront invalidations and AppSync cache flushes.
//! - [`destroy`]: deleting stacks.

pub mod assets;
pub mod cache_ops;
pub mod changeset;
pub mod client;
pub mod destroy;
pub mod diff;
pub mod error;
pub mod events;
pub mod outputs;
pub mod params;
pub mod select;
pub mod status;
pub mod zipfile;

pub use client::{AwsContext, ClientOptions};
pub use error::DeployError;
