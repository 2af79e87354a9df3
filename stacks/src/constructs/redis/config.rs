//! `[redis]` of a stage file: the replication group's shape, windows and retention.

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::Checker;

/// `[redis]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Redis engine version (7.x).
    pub engine_version: String,
    /// Cache node type.
    pub node_type: String,
    /// Cluster mode enabled (sharded, `ConfigurationEndPoint`).
    pub cluster_mode: bool,
    /// Number of shards; must be 1 without cluster mode.
    pub node_groups: u32,
    /// Replicas per shard; 1 or more turns on Multi-AZ and automatic failover.
    pub replicas_per_node_group: u32,
    /// `ddd:hh24:mi-ddd:hh24:mi` (UTC).
    pub maintenance_window: String,
    /// `hh24:mi-hh24:mi` (UTC).
    pub snapshot_window: String,
    /// Days of automatic backups kept.
    pub snapshot_retention_days: u32,
    /// Days the slow-log CloudWatch log group keeps entries.
    pub slow_log_retention_days: u32,
    /// `maxmemory-policy` in the parameter group.
    pub maxmemory_policy: String,
}

/// Node types this project supports for Redis (current generation, in-transit
/// encryption capable). The ElastiCache schema types `CacheNodeType` as a free string.
pub const REDIS_NODE_TYPES: &[&str] = &[
    "cache.t3.micro",
    "cache.t3.small",
    "cache.t3.medium",
    "cache.t4g.micro",
    "cache.t4g.small",
    "cache.t4g.medium",
    "cache.m6g.large",
    "cache.m6g.xlarge",
    "cache.m6g.2xlarge",
    "cache.m7g.large",
    "cache.m7g.xlarge",
    "cache.r6g.large",
    "cache.r6g.xlarge",
    "cache.r6g.2xlarge",
    "cache.r7g.large",
    "cache.r7g.xlarge",
    "cache.r7g.2xlarge",
];

/// Redis engine versions of the `redis7` parameter group family.
pub const REDIS_ENGINE_VERSIONS: &[&str] = &["7.0", "7.1"];

/// `maxmemory-policy` values.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
];

impl RedisConfig {
    /// Refuses unsupported versions, node types and policies, a shape ElastiCache would
    /// refuse, malformed or too short windows and retention periods AWS does not offer.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.one_of(
            "redis.engine_version",
            &self.engine_version,
            REDIS_ENGINE_VERSIONS,
        )?;
        c.one_of("redis.node_type", &self.node_type, REDIS_NODE_TYPES)?;
        c.one_of(
            "redis.maxmemory_policy",
            &self.maxmemory_policy,
            MAXMEMORY_POLICIES,
        )?;
        if self.cluster_mode {
            c.range("redis.node_groups", self.node_groups, 1, 500)?;
        } else if self.node_groups != 1 {
            return Err(c.invalid(
                "redis.node_groups",
                self.node_groups,
                "expected 1 when cluster_mode is false",
            ));
        }
        c.range(
            "redis.replicas_per_node_group",
            self.replicas_per_node_group,
            0,
            5,
        )?;
        c.pattern(
            "redis.maintenance_window",
            &self.maintenance_window,
            maintenance_window(&self.maintenance_window),
            "expected ddd:hh24:mi-ddd:hh24:mi in UTC, e.g. sun:05:00-sun:06:00",
        )?;
        c.pattern(
            "redis.snapshot_window",
            &self.snapshot_window,
            time_window(&self.snapshot_window),
            "expected hh24:mi-hh24:mi in UTC, at least 60 minutes, e.g. 03:00-04:00",
        )?;
        c.range(
            "redis.snapshot_retention_days",
            self.snapshot_retention_days,
            0,
            35,
        )?;
        c.retention(
            "redis.slow_log_retention_days",
            self.slow_log_retention_days,
        )
    }
}

fn hh_mm(value: &str) -> Option<u32> {
    let (h, m) = value.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// `hh24:mi-hh24:mi`, at least an hour long (ElastiCache's snapshot window).
fn time_window(value: &str) -> bool {
    let Some((start, end)) = value.split_once('-') else {
        return false;
    };
    match (hh_mm(start), hh_mm(end)) {
        (Some(s), Some(e)) => (e + 24 * 60 - s) % (24 * 60) >= 60,
        _ => false,
    }
}

/// `ddd:hh24:mi-ddd:hh24:mi`, at least an hour long (ElastiCache's and DAX's
/// maintenance window).
fn maintenance_window(value: &str) -> bool {
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let Some((start, end)) = value.split_once('-') else {
        return false;
    };
    let minute_of_week = |part: &str| -> Option<u32> {
        let (day, time) = part.split_once(':')?;
        let d = DAYS.iter().position(|x| *x == day)? as u32;
        Some(d * 24 * 60 + hh_mm(time)?)
    };
    match (minute_of_week(start), minute_of_week(end)) {
        (Some(s), Some(e)) => (e + 7 * 24 * 60 - s) % (7 * 24 * 60) >= 60,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_for_format_and_length() {
        assert!(maintenance_window("sun:05:00-sun:06:00"));
        assert!(maintenance_window("sat:23:30-sun:00:30"));
        assert!(!maintenance_window("sun:05:00-sun:05:30"));
        assert!(!maintenance_window("sunday:05:00-sun:06:00"));
        assert!(time_window("03:00-04:00"));
        assert!(time_window("23:30-00:30"));
        assert!(!time_window("03:00-03:30"));
        assert!(!time_window("3:00-04:00"));
    }
}
