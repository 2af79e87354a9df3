//! `[network]` of a stage file: the VPC and subnets the caches live in.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::Checker;

/// `[network]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Default of the `VpcId` parameter.
    pub vpc_id: String,
    /// Default of the `PrivateSubnetIds` parameter (two or more, in distinct AZs).
    pub private_subnet_ids: Vec<String>,
}

impl NetworkConfig {
    /// Refuses ids that are not VPC or subnet ids, fewer than two subnets and repeats.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "network.vpc_id",
            &self.vpc_id,
            aws_id(&self.vpc_id, "vpc-"),
            "expected a VPC id like vpc-0123456789abcdef0",
        )?;
        if self.private_subnet_ids.len() < 2 {
            return Err(c.invalid(
                "network.private_subnet_ids",
                &self.private_subnet_ids,
                "expected at least two subnets in distinct availability zones",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, subnet) in self.private_subnet_ids.iter().enumerate() {
            let key = format!("network.private_subnet_ids[{i}]");
            c.pattern(
                &key,
                subnet,
                aws_id(subnet, "subnet-"),
                "expected a subnet id like subnet-0123456789abcdef0",
            )?;
            if !seen.insert(subnet) {
                return Err(c.invalid(&key, subnet, "each subnet may appear once"));
            }
        }
        Ok(())
    }
}

/// `<prefix>` followed by 8 or 17 lowercase hex digits, as EC2 spells its ids.
fn aws_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}
