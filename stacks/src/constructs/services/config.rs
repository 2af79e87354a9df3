//! `[services]` of a stage file: the HTTP API in front of the vendor, incidents and
//! payments functions, who may call it, the database the functions use, and each
//! function's code, size and concurrency.
//!
//! The section is optional: a stage file without it deploys the caches only (no services
//! stack, and the warmer warms only the targets the file lists). When it is present every
//! key in it is required, as elsewhere in the stage file.

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::{Checker, domain_name};
use crate::constructs::warmer::config::bucket_name;

/// `[services]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// Default of the `ServicesCodeBucket` parameter: the bucket of the three zips.
    pub code_bucket: String,
    /// Timeout of every function (API Gateway gives up after 30 s, so at most 29).
    pub timeout_seconds: u32,
    /// Days the functions' and the API's log groups keep entries.
    pub log_retention_days: u32,
    /// One of [`AUTHORIZATIONS`]: a JWT authorizer, or IAM (SigV4-signed callers).
    pub authorization: String,
    /// Default of the `JwtIssuer` parameter (for example a Cognito user pool's URL).
    pub jwt_issuer: String,
    /// Default of the `JwtAudience` parameter: the accepted `aud` (or Cognito `client_id`).
    pub jwt_audience: Vec<String>,
    /// Steady-state requests per second the API stage admits.
    pub throttle_rate_per_second: u32,
    /// Burst the API stage admits above the rate.
    pub throttle_burst: u32,
    /// Default of the `HttpsEgressCidr` parameter: where the functions reach AWS APIs
    /// (Secrets Manager, X-Ray) on 443, normally the VPC's CIDR with interface VPC
    /// endpoints in it. Never `0.0.0.0/0`.
    pub https_egress_cidr: String,
    /// The PostgreSQL database the functions use.
    pub database: DatabaseConfig,
    /// The vendor function.
    pub vendor: FunctionConfig,
    /// The incidents function.
    pub incidents: FunctionConfig,
    /// The payments function.
    pub payments: FunctionConfig,
}

/// The values `services.authorization` may take.
pub const AUTHORIZATIONS: &[&str] = &["jwt", "iam"];

/// `[services.database]`: defaults of the `Database*` parameters.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Writer endpoint host name.
    pub host: String,
    /// TCP port.
    pub port: u32,
    /// Database name.
    pub name: String,
    /// The database user the functions connect as.
    pub user: String,
    /// One of [`DATABASE_AUTHS`]: an RDS IAM token for `user`, or the password in a
    /// Secrets Manager secret.
    pub auth: String,
    /// The secret's ARN when `auth = "secret"`; empty otherwise.
    pub secret_arn: String,
    /// The cluster's resource id (`cluster-...`) when `auth = "iam"`: `rds-db:connect`
    /// names it. Empty otherwise.
    pub resource_id: String,
    /// The database's security group: the functions' group may reach it on `port`, and it
    /// admits the functions' group.
    pub security_group_id: String,
}

/// The values `services.database.auth` may take.
pub const DATABASE_AUTHS: &[&str] = &["iam", "secret"];

/// `[services.vendor]`, `[services.incidents]`, `[services.payments]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    /// Default of the function's `<Name>CodeKey` parameter.
    pub code_key: String,
    /// Memory (and so CPU).
    pub memory_mb: u32,
    /// Reserved concurrency; 0 reserves none (the account's unreserved pool).
    pub reserved_concurrency: u32,
    /// Provisioned concurrency on the `live` alias; 0 provisions none.
    pub provisioned_concurrency: u32,
    /// Environments the warmer keeps warm; 0 leaves the function out of the warmer.
    pub warm_concurrency: u32,
}

impl ServicesConfig {
    /// Refuses values API Gateway, Lambda or the database would refuse, and
    /// combinations that cannot work (IAM auth without a resource id, a secret without
    /// its ARN, provisioned beyond reserved concurrency).
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "services.code_bucket",
            &self.code_bucket,
            bucket_name(&self.code_bucket),
            "expected an S3 bucket name (3-63 of a-z 0-9 . -)",
        )?;
        c.range("services.timeout_seconds", self.timeout_seconds, 1, 29)?;
        c.retention("services.log_retention_days", self.log_retention_days)?;
        c.one_of(
            "services.authorization",
            &self.authorization,
            AUTHORIZATIONS,
        )?;
        c.pattern(
            "services.jwt_issuer",
            &self.jwt_issuer,
            https_url(&self.jwt_issuer),
            "expected an https:// issuer URL such as https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
        )?;
        if self.jwt_audience.is_empty() {
            return Err(c.invalid(
                "services.jwt_audience",
                &self.jwt_audience,
                "expected at least one audience (a Cognito app client id, for example)",
            ));
        }
        for (i, audience) in self.jwt_audience.iter().enumerate() {
            c.pattern(
                &format!("services.jwt_audience[{i}]"),
                audience,
                !audience.is_empty()
                    && audience.len() <= 256
                    && !audience.contains(',')
                    && audience.chars().all(|ch| ch.is_ascii_graphic()),
                "expected 1-256 printable characters without a comma",
            )?;
        }
        c.range(
            "services.throttle_rate_per_second",
            self.throttle_rate_per_second,
            1,
            10_000,
        )?;
        c.range("services.throttle_burst", self.throttle_burst, 1, 5_000)?;
        c.pattern(
            "services.https_egress_cidr",
            &self.https_egress_cidr,
            private_cidr(&self.https_egress_cidr),
            "expected an IPv4 CIDR of the VPC such as 10.0.0.0/16 (never 0.0.0.0/0: the functions \
             reach AWS APIs through VPC endpoints)",
        )?;
        self.database.check(c)?;
        for (name, function) in self.functions() {
            function.check(c, &format!("services.{name}"))?;
        }
        Ok(())
    }

    /// The three functions' settings with their stage-file table names.
    pub fn functions(&self) -> [(&'static str, &FunctionConfig); 3] {
        [
            ("vendor", &self.vendor),
            ("incidents", &self.incidents),
            ("payments", &self.payments),
        ]
    }
}

impl DatabaseConfig {
    fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "services.database.host",
            &self.host,
            domain_name(&self.host),
            "expected a lowercase host name such as roadcall.cluster-abc.us-east-1.rds.amazonaws.com",
        )?;
        c.range("services.database.port", self.port, 1150, 65_535)?;
        c.pattern(
            "services.database.name",
            &self.name,
            identifier(&self.name),
            "expected a PostgreSQL name (1-63 of a-z 0-9 _, starting with a letter)",
        )?;
        c.pattern(
            "services.database.user",
            &self.user,
            identifier(&self.user),
            "expected a PostgreSQL user name (1-63 of a-z 0-9 _, starting with a letter)",
        )?;
        c.one_of("services.database.auth", &self.auth, DATABASE_AUTHS)?;
        if self.auth == "secret" {
            c.pattern(
                "services.database.secret_arn",
                &self.secret_arn,
                self.secret_arn.starts_with("arn:aws")
                    && self.secret_arn.contains(":secretsmanager:")
                    && self.secret_arn.contains(":secret:"),
                "expected a Secrets Manager secret ARN (auth = \"secret\")",
            )?;
        } else if !self.secret_arn.is_empty() {
            return Err(c.invalid(
                "services.database.secret_arn",
                &self.secret_arn,
                "expected empty with auth = \"iam\" (set auth = \"secret\" to use it)",
            ));
        }
        if self.auth == "iam" {
            c.pattern(
                "services.database.resource_id",
                &self.resource_id,
                resource_id(&self.resource_id),
                "expected the cluster's resource id, cluster-ABC123... or db-ABC123... (auth = \"iam\")",
            )?;
        }
        c.pattern(
            "services.database.security_group_id",
            &self.security_group_id,
            self.security_group_id.starts_with("sg-")
                && self.security_group_id.len() > 3
                && self.security_group_id[3..]
                    .chars()
                    .all(|ch| ch.is_ascii_hexdigit()),
            "expected a security group id such as sg-0123456789abcdef0",
        )
    }
}

impl FunctionConfig {
    fn check(&self, c: &Checker, key: &str) -> Result<(), ConfigError> {
        c.pattern(
            &format!("{key}.code_key"),
            &self.code_key,
            !self.code_key.is_empty()
                && self.code_key.len() <= 1024
                && !self.code_key.starts_with('/'),
            "expected an S3 object key such as lambdas/vendor.zip",
        )?;
        c.range(&format!("{key}.memory_mb"), self.memory_mb, 128, 10_240)?;
        c.range(
            &format!("{key}.reserved_concurrency"),
            self.reserved_concurrency,
            0,
            10_000,
        )?;
        c.range(
            &format!("{key}.provisioned_concurrency"),
            self.provisioned_concurrency,
            0,
            10_000,
        )?;
        if self.reserved_concurrency > 0 && self.provisioned_concurrency > self.reserved_concurrency
        {
            return Err(c.invalid(
                &format!("{key}.provisioned_concurrency"),
                self.provisioned_concurrency,
                format!(
                    "expected at most reserved_concurrency ({}): Lambda refuses more",
                    self.reserved_concurrency
                ),
            ));
        }
        c.range(
            &format!("{key}.warm_concurrency"),
            self.warm_concurrency,
            0,
            50,
        )
    }
}

fn https_url(value: &str) -> bool {
    value
        .strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(domain_name)
        && value.len() <= 2048
        && value.chars().all(|ch| ch.is_ascii_graphic())
}

fn private_cidr(value: &str) -> bool {
    let Some((address, bits)) = value.split_once('/') else {
        return false;
    };
    let octets: Vec<Option<u8>> = address.split('.').map(|o| o.parse().ok()).collect();
    octets.len() == 4
        && octets.iter().all(Option::is_some)
        && bits.parse::<u8>().is_ok_and(|b| (8..=28).contains(&b))
}

fn identifier(value: &str) -> bool {
    (1..=63).contains(&value.len())
        && value.starts_with(|ch: char| ch.is_ascii_lowercase())
        && value
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

fn resource_id(value: &str) -> bool {
    let body = value
        .strip_prefix("cluster-")
        .or_else(|| value.strip_prefix("db-"));
    body.is_some_and(|b| {
        !b.is_empty() && b.len() <= 64 && b.chars().all(|ch| ch.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_and_resource_ids_have_their_aws_shapes() {
        assert!(https_url(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
        ));
        assert!(!https_url("http://cognito-idp.us-east-1.amazonaws.com/x"));
        assert!(!https_url("https://"));
        assert!(resource_id("cluster-ABCDEF1234"));
        assert!(resource_id("db-ABC"));
        assert!(!resource_id("cluster-"));
        assert!(!resource_id("ABC"));
        assert!(identifier("roadcall_app"));
        assert!(!identifier("Roadcall"));
    }
}
