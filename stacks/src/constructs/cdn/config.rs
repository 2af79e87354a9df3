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
}

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
