//! `[appsync]` of a stage file: which API is cached, for how long, on what instance.

use cfn::aws::appsync::api_cache::Type;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::{Checker, deserialize_one_of};

/// `[appsync]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppSyncConfig {
    /// Default of the `AppSyncApiId` parameter; empty drops the cache.
    pub api_id: String,
    /// Cache TTL (1 to 3600 seconds).
    pub ttl_seconds: u32,
    /// Cache instance type, one of [`APPSYNC_CACHE_TYPES`] as AppSync spells it (`SMALL`,
    /// `LARGE_2X`, ...).
    #[serde(deserialize_with = "cache_type")]
    pub cache_type: Type,
}

/// The cache instance types a stage may choose: the current generation (the schema also
/// lists the legacy `T2_*` and `R4_*` types).
pub const APPSYNC_CACHE_TYPES: &[Type] = &[
    Type::Small,
    Type::Medium,
    Type::Large,
    Type::Xlarge,
    Type::Large2x,
    Type::Large4x,
    Type::Large8x,
    Type::Large12x,
];

fn cache_type<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Type, D::Error> {
    deserialize_one_of(deserializer, APPSYNC_CACHE_TYPES)
}

impl AppSyncConfig {
    /// Refuses a malformed API id and a TTL AppSync would refuse.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "appsync.api_id",
            &self.api_id,
            self.api_id.is_empty()
                || (self.api_id.len() <= 64
                    && self.api_id.chars().all(|ch| ch.is_ascii_alphanumeric())),
            "expected empty or an AppSync API id (letters and digits)",
        )?;
        c.range("appsync.ttl_seconds", self.ttl_seconds, 1, 3600)
    }
}
