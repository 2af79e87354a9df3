//! `[monitoring]` of a stage file: who is told, and the alarms' thresholds.

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::{Checker, domain_name};

/// `[monitoring]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Email subscribed to the alarm topic; empty for none.
    pub alarm_email: String,
    /// Redis engine CPU alarm threshold.
    pub redis_cpu_percent: u32,
    /// Redis hit-rate alarm threshold (alarm below).
    pub redis_hit_rate_percent: u32,
    /// Redis evictions per 5 minutes alarm threshold.
    pub redis_evictions_per_5min: u32,
    /// DAX item-cache hit-rate alarm threshold (alarm below).
    pub dax_hit_rate_percent: u32,
    /// Cold starts as a percentage of invocations (alarm above).
    pub cold_start_percent: u32,
    /// Pool exhaustion events per 5 minutes (alarm at or above).
    pub pool_exhausted_per_5min: u32,
}

/// Stages whose alarms must reach someone.
pub const ALARM_EMAIL_REQUIRED_STAGES: &[&str] = &["staging", "prod"];

impl MonitoringConfig {
    /// The checks that depend on the stage: staging and prod need an alarm email.
    pub fn check_stage(&self, c: &Checker, stage: &str) -> Result<(), ConfigError> {
        if ALARM_EMAIL_REQUIRED_STAGES.contains(&stage) && self.alarm_email.is_empty() {
            return Err(c.invalid(
                "monitoring.alarm_email",
                &self.alarm_email,
                format!("{stage} needs the address of whoever answers its alarms"),
            ));
        }
        Ok(())
    }

    /// Refuses a malformed email and thresholds that can never or always fire.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "monitoring.alarm_email",
            &self.alarm_email,
            self.alarm_email.is_empty() || email(&self.alarm_email),
            "expected empty or an email address",
        )?;
        c.range(
            "monitoring.redis_cpu_percent",
            self.redis_cpu_percent,
            1,
            100,
        )?;
        c.range(
            "monitoring.redis_hit_rate_percent",
            self.redis_hit_rate_percent,
            1,
            100,
        )?;
        c.range(
            "monitoring.redis_evictions_per_5min",
            self.redis_evictions_per_5min,
            1,
            u32::MAX,
        )?;
        c.range(
            "monitoring.dax_hit_rate_percent",
            self.dax_hit_rate_percent,
            1,
            100,
        )?;
        c.range(
            "monitoring.cold_start_percent",
            self.cold_start_percent,
            1,
            100,
        )?;
        c.range(
            "monitoring.pool_exhausted_per_5min",
            self.pool_exhausted_per_5min,
            1,
            u32::MAX,
        )
    }
}

fn email(value: &str) -> bool {
    let mut parts = value.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && local.len() <= 64 && !local.contains(char::is_whitespace) && domain_name(&domain.to_ascii_lowercase()))
}
