//! CloudFormation template model: the L1 layer of roadcall-perf's infrastructure code.
//!
//! - [`Template`] with typed [`Parameter`]s, conditions, resources (with `DependsOn`,
//!   `Condition`, deletion policies and metadata) and [`Output`]s with exports.
//! - [`Expr`]: intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`,
//!   `Fn::Select`, `Fn::Split`, `Fn::If`, `Fn::ImportValue`, condition functions),
//!   [`Pseudo`] parameters and [`SecretsManagerRef`] dynamic references.
//! - [`aws`]: one typed struct per resource type, generated from the CloudFormation
//!   resource provider schemas shipped by cfn-lint (`cargo run -p cfn-codegen`), with
//!   required properties as constructor arguments, allowed values as enums (which
//!   serialize, deserialize, parse and print with their CloudFormation spelling) and typed
//!   `Fn::GetAtt` accessors on [`Handle`].
//! - [`render`]: deterministic JSON or YAML (sorted keys, byte-identical across runs).
//!
//! This crate knows nothing of the platform that uses it.
//!
//! ```
//! use cfn::aws::sns::Topic;
//! use cfn::{Expr, Format, Output, Template, render};
//!
//! let mut template = Template::new("Alarm topic");
//! template.tag("Environment", "dev");
//! let topic = template
//!     .add("AlarmTopic", Topic::new().topic_name("alarms-dev"))
//!     .unwrap();
//! template
//!     .add_output(
//!         "AlarmTopicArn",
//!         Output::new("Where alarms go", topic.ref_()).export("monitoring-alarm-topic-dev"),
//!     )
//!     .unwrap();
//! template.validate_references().unwrap();
//! let json = render(&template, Format::Json).unwrap();
//! assert!(json.starts_with("{\n  \"AWSTemplateFormatVersion\": \"2010-09-09\""));
//! assert!(json.contains("\"Type\": \"AWS::SNS::Topic\""));
//! assert!(json.contains("\"Key\": \"Environment\""));
//! assert_eq!(json, render(&template, Format::Json).unwrap());
//! # let _ = Expr::ref_("AlarmTopic");
//! ```

#![warn(missing_docs)]

mod allowed;
pub mod aws;
mod expr;
mod render;
mod template;

pub use allowed::{UnknownValue, parse_allowed};
pub use expr::{Expr, Json, Pseudo, SecretsManagerRef, Val};
pub use render::{Format, render};
pub use template::{
    Export, FORMAT_VERSION, Handle, Output, Parameter, ParameterType, Policy, Resource,
    ResourceEntry, ResourceOptions, Template, TemplateError,
};
