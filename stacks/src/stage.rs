//! What every construct needs to know about the stage it builds for: names, exports, tags.

use cfn::{Expr, Json, Output, Template};

use crate::config::StageConfig;

/// The product name used in stack, resource and export names.
pub const PRODUCT: &str = "roadcall-perf";

/// One stack of a stage, by lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The stage's customer managed KMS key.
    Keys,
    /// Security groups, and the VPC and subnets as exports.
    Network,
    /// ElastiCache for Redis.
    Redis,
    /// SNS alarm topic, alarms on Redis and the runtime metrics, dashboard.
    Monitoring,
    /// DynamoDB Accelerator (and its hit-rate alarm).
    Dax,
    /// The HTTP API and the vendor, incidents and payments functions.
    Services,
    /// CloudFront with its buckets and policies.
    Cdn,
    /// AppSync API cache.
    AppSyncCache,
    /// The scheduled Lambda warmer.
    Warmer,
}

impl Part {
    /// Every part, in deployment (dependency) order.
    pub const ALL: [Part; 9] = [
        Part::Keys,
        Part::Network,
        Part::Redis,
        Part::Monitoring,
        Part::Dax,
        Part::Services,
        Part::Cdn,
        Part::AppSyncCache,
        Part::Warmer,
    ];

    /// The part whose slug is `slug`.
    pub fn from_slug(slug: &str) -> Option<Part> {
        Part::ALL.iter().copied().find(|p| p.slug() == slug)
    }

    /// The part's name in stack names and exports.
    pub fn slug(self) -> &'static str {
        match self {
            Part::Keys => "keys",
            Part::Network => "network",
            Part::Redis => "redis",
            Part::Monitoring => "monitoring",
            Part::Dax => "dax",
            Part::Services => "services",
            Part::Cdn => "cdn",
            Part::AppSyncCache => "appsync-cache",
            Part::Warmer => "warmer",
        }
    }

    /// The parts whose exports this part imports.
    pub fn depends_on(self) -> &'static [Part] {
        match self {
            Part::Keys | Part::Network | Part::Cdn | Part::AppSyncCache => &[],
            Part::Redis => &[Part::Keys, Part::Network],
            Part::Monitoring => &[Part::Keys, Part::Redis],
            Part::Warmer => &[Part::Keys],
            Part::Dax => &[Part::Network, Part::Monitoring],
            Part::Services => &[Part::Keys, Part::Network, Part::Redis, Part::Monitoring],
        }
    }
}

/// Names and exports of one stage.
#[derive(Clone, Debug)]
pub struct Stage<'a> {
    /// The stage's configuration.
    pub config: &'a StageConfig,
}

impl<'a> Stage<'a> {
    /// A stage context over its configuration.
    pub fn new(config: &'a StageConfig) -> Self {
        Self { config }
    }

    /// The stage name.
    pub fn name(&self) -> &str {
        &self.config.stage
    }

    /// `roadcall-perf-<stage>-<part>`.
    pub fn stack_name(&self, part: Part) -> String {
        format!("{PRODUCT}-{}-{}", self.name(), part.slug())
    }

    /// A physical name for a resource: `roadcall-perf-<stage>-<what>`.
    pub fn resource_name(&self, what: &str) -> String {
        format!("{PRODUCT}-{}-{what}", self.name())
    }

    /// An export name: `<service>-<what>-<stage>`.
    pub fn export_name(&self, service: &str, what: &str) -> String {
        format!("{service}-{what}-{}", self.name())
    }

    /// `Fn::ImportValue` of `<service>-<what>-<stage>`.
    pub fn import(&self, service: &str, what: &str) -> Expr {
        Expr::import_value(self.export_name(service, what))
    }

    /// The stage key's ARN, imported from the keys stack.
    pub fn key_arn(&self) -> Expr {
        self.import("keys", "key-arn")
    }

    /// The private subnets, imported from the network stack as a list.
    pub fn private_subnets(&self) -> Expr {
        Expr::split(",", self.import("network", "private-subnet-ids"))
    }

    /// An empty template for `part`, tagged `Stack`, `Environment` and `Service`.
    pub fn template(&self, part: Part, description: &str) -> Template {
        let mut template = Template::new(format!(
            "roadcall-perf {} ({}): {description}",
            part.slug(),
            self.name()
        ));
        template.tag("Stack", self.stack_name(part));
        template.tag("Environment", self.name());
        template.tag("Service", PRODUCT);
        // Stage-dependent rules of `stacks check` read the stage from here.
        template.metadata.insert(
            "RoadcallPerf".to_owned(),
            serde_json::json!({"Stage": self.name(), "Stack": part.slug()}),
        );
        template
    }

    /// Adds an output exported as `<service>-<what>-<stage>`.
    pub fn export(
        &self,
        template: &mut Template,
        id: &str,
        description: &str,
        value: impl Into<Json>,
        service: &str,
        what: &str,
    ) -> Result<(), cfn::TemplateError> {
        template.add_output(
            id,
            Output::new(description, value).export(self.export_name(service, what)),
        )
    }
}

/// Serializes a typed property value for places that take free-form JSON (`Fn::If`
/// branches, policy documents).
pub fn to_json<T: serde::Serialize>(value: &T) -> Json {
    // Generated property types serialize infallibly: strings, numbers, maps and sequences.
    serde_json::to_value(value).unwrap_or(Json::Null)
}
