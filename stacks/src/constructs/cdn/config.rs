//! `[cdn]` of a stage file: the distribution's origins, certificate, caching and limits.

use cfn::aws::cloudfront::distribution::PriceClass;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::{Checker, deserialize_one_of, domain_name};

/// `[cdn]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CdnConfig {
    /// Default of the `ApiDomainName` parameter; empty drops the `/api/*` behavior.
    pub api_domain_name: String,
    /// Default of the `CertificateArn` parameter (ACM, us-east-1); empty uses the
    /// CloudFront default certificate.
    pub certificate_arn: String,
    /// Alternate domain names, used only with a certificate.
    pub aliases: Vec<String>,
    /// One of [`PRICE_CLASSES`].
    #[serde(deserialize_with = "price_class")]
    pub price_class: PriceClass,
    /// `/api/*` cache policy default TTL.
    pub api_default_ttl_seconds: u32,
    /// `/api/*` cache policy maximum TTL.
    pub api_max_ttl_seconds: u32,
    /// Days before access logs expire from the log bucket (also the WAF log retention).
    pub log_expiration_days: u32,
    /// Requests per client IP per 5 minutes before the WAF rate rule blocks it.
    pub rate_limit_per_5min: u32,
    /// Whether the distribution may fall back to CloudFront's default certificate (and
    /// its TLSv1 viewer minimum) when no certificate is set: refused in staging and prod;
    /// elsewhere `stacks check` reports the default certificate as a suppressed finding
    /// with it, and as an error (which blocks `deploy`) without it. Absent means false.
    #[serde(default)]
    pub allow_default_certificate: bool,
}

/// Stages whose distribution must have its own certificate and aliases.
pub const CERTIFICATE_REQUIRED_STAGES: &[&str] = &["staging", "prod"];

/// The price classes a stage may choose: the schema also allows `None`, which names no
/// edge locations at all.
pub const PRICE_CLASSES: &[PriceClass] = &[
    PriceClass::PriceClass100,
    PriceClass::PriceClass200,
    PriceClass::PriceClassAll,
];

fn price_class<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<PriceClass, D::Error> {
    deserialize_one_of(deserializer, PRICE_CLASSES)
}

impl CdnConfig {
    /// Whether `stage` must have its own certificate (no conditional default one).
    pub fn certificate_required(stage: &str) -> bool {
        CERTIFICATE_REQUIRED_STAGES.contains(&stage)
    }

    /// The checks that depend on the stage: staging and prod need a certificate and at
    /// least one alias, and may not opt into the default certificate. Elsewhere an empty
    /// certificate without the opt-in still synthesizes, and `stacks check` refuses it.
    pub fn check_stage(&self, c: &Checker, stage: &str) -> Result<(), ConfigError> {
        let required = CERTIFICATE_REQUIRED_STAGES.contains(&stage);
        if required && self.allow_default_certificate {
            return Err(c.invalid(
                "cdn.allow_default_certificate",
                self.allow_default_certificate,
                format!(
                    "expected false in {stage}: CloudFront's default certificate lets viewers use TLSv1"
                ),
            ));
        }
        if required && self.certificate_arn.is_empty() {
            return Err(c.invalid(
                "cdn.certificate_arn",
                &self.certificate_arn,
                format!(
                    "{stage} needs an ACM certificate ARN in us-east-1 (viewers get TLSv1.2_2021 only with a certificate of its own)"
                ),
            ));
        }
        if required && self.aliases.is_empty() {
            return Err(c.invalid(
                "cdn.aliases",
                &self.aliases,
                format!("{stage} needs at least one alias for its certificate"),
            ));
        }
        Ok(())
    }

    /// Refuses malformed domains and certificates, aliases without a certificate (and the
    /// reverse) and
    /// limits CloudFront or WAF would refuse.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "cdn.api_domain_name",
            &self.api_domain_name,
            self.api_domain_name.is_empty() || domain_name(&self.api_domain_name),
            "expected empty or a domain name like abc123.execute-api.us-east-1.amazonaws.com",
        )?;
        c.pattern(
            "cdn.certificate_arn",
            &self.certificate_arn,
            self.certificate_arn.is_empty()
                || self.certificate_arn.starts_with("arn:aws:acm:us-east-1:"),
            "expected empty or an ACM certificate ARN in us-east-1 (CloudFront reads certificates only there)",
        )?;
        for (i, alias) in self.aliases.iter().enumerate() {
            c.pattern(
                &format!("cdn.aliases[{i}]"),
                alias,
                domain_name(alias),
                "expected a domain name",
            )?;
        }
        if !self.aliases.is_empty() && self.certificate_arn.is_empty() {
            return Err(c.invalid(
                "cdn.aliases",
                &self.aliases,
                "aliases need cdn.certificate_arn to be set",
            ));
        }
        if self.aliases.is_empty() && !self.certificate_arn.is_empty() {
            return Err(c.invalid(
                "cdn.aliases",
                &self.aliases,
                "a certificate needs at least one alias (CloudFront refuses the empty alias)",
            ));
        }
        c.range(
            "cdn.api_max_ttl_seconds",
            self.api_max_ttl_seconds,
            0,
            31_536_000,
        )?;
        c.range(
            "cdn.api_default_ttl_seconds",
            self.api_default_ttl_seconds,
            0,
            self.api_max_ttl_seconds,
        )?;
        c.retention("cdn.log_expiration_days", self.log_expiration_days)?;
        c.range(
            "cdn.rate_limit_per_5min",
            self.rate_limit_per_5min,
            10,
            2_000_000_000,
        )
    }
}
