//! `[dax]` of a stage file: the cluster's size, the tables it fronts and its TTLs.

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::Checker;

/// `[dax]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DaxConfig {
    /// DAX node type.
    pub node_type: String,
    /// Nodes in the cluster (1 to 10; 3 or more for production availability).
    pub replication_factor: u32,
    /// Default of the `IncidentsTableName` parameter (empty drops the cluster).
    pub incidents_table: String,
    /// Default of the `VendorsTableName` parameter.
    pub vendors_table: String,
    /// Default of the `TrackingTableName` parameter.
    pub tracking_table: String,
    /// Grants DAX write access to the tables (write-through).
    pub allow_writes: bool,
    /// Item cache TTL.
    pub item_ttl_seconds: u32,
    /// Query cache TTL.
    pub query_ttl_seconds: u32,
}

/// DAX node types. The DAX schema types `NodeType` as a free string.
pub const DAX_NODE_TYPES: &[&str] = &[
    "dax.t3.small",
    "dax.t3.medium",
    "dax.r5.large",
    "dax.r5.xlarge",
    "dax.r5.2xlarge",
    "dax.r5.4xlarge",
];

impl DaxConfig {
    /// Refuses unknown node types, sizes DAX does not offer, malformed table names, a
    /// partial set of tables and TTLs beyond a day.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.one_of("dax.node_type", &self.node_type, DAX_NODE_TYPES)?;
        c.range("dax.replication_factor", self.replication_factor, 1, 10)?;
        let tables = [
            ("dax.incidents_table", &self.incidents_table),
            ("dax.vendors_table", &self.vendors_table),
            ("dax.tracking_table", &self.tracking_table),
        ];
        for (key, table) in tables {
            c.pattern(
                key,
                table,
                table.is_empty() || table_name(table),
                "expected empty or a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)",
            )?;
        }
        let empty = tables.iter().filter(|(_, t)| t.is_empty()).count();
        if empty != 0 && empty != tables.len() {
            return Err(c.invalid(
                "dax.incidents_table",
                &self.incidents_table,
                "set all three table names, or leave all three empty to drop the DAX cluster",
            ));
        }
        c.range("dax.item_ttl_seconds", self.item_ttl_seconds, 1, 86_400)?;
        c.range("dax.query_ttl_seconds", self.query_ttl_seconds, 1, 86_400)
    }
}

fn table_name(value: &str) -> bool {
    (3..=255).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
