//! Stage configuration: `stacks/stages/<stage>.toml`, every knob of a stage in one file.
//!
//! Every key is required (no silent defaults), unknown keys are rejected, and every value
//! is checked against what AWS accepts, with an error that names the file, the key and
//! the allowed values.
//!
//! This module finds, reads and parses the file and holds its top level; each section's
//! schema and checks live next to the construct that reads it (for example
//! [`crate::constructs::redis::config`]), built from the pieces in [`checker`]. Values
//! that CloudFormation enumerates are typed with the generated enums of the `cfn` crate,
//! so toml refuses anything else with the list of allowed values.

pub mod checker;
mod toml_error;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::check::suppressions::SuppressionConfig;
use crate::constructs::appsync::config::AppSyncConfig;
use crate::constructs::cdn::config::CdnConfig;
use crate::constructs::dax::config::DaxConfig;
use crate::constructs::monitoring::config::MonitoringConfig;
use crate::constructs::network::config::NetworkConfig;
use crate::constructs::redis::config::RedisConfig;
use crate::constructs::services::config::ServicesConfig;
use crate::constructs::warmer::config::WarmerConfig;
use checker::Checker;

/// The largest stage file accepted; a larger one is not a hand-written configuration.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Errors while finding, reading or checking a stage file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No `<stage>.toml` in the stages directory.
    #[error("unknown stage `{stage}`: no {path}; available stages: {}", available.join(", "))]
    UnknownStage {
        /// The stage asked for.
        stage: String,
        /// Where it was looked for.
        path: String,
        /// The stages that exist.
        available: Vec<String>,
    },
    /// No `stacks/stages` in the working directory or any of its parents.
    #[error(
        "no stages directory: looked for stacks/stages in {start} and each of its parents; \
         run from the workspace or pass --stages-dir DIR"
    )]
    NoStagesDir {
        /// Where the search started.
        start: String,
    },
    /// A stage name that cannot be used in resource names.
    #[error(
        "invalid stage name `{0}`: use 1 to 11 lowercase letters, digits or `-`, starting with a letter"
    )]
    InvalidStageName(String),
    /// The file or the stages directory could not be read.
    #[error("{path}: cannot read")]
    Read {
        /// The file or directory.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than a hand-written stage file can be.
    #[error("{path}: file is {size} bytes; a stage file may be at most {max}")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The largest size accepted.
        max: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not UTF-8 (byte {})", .source.valid_up_to())]
    NotUtf8 {
        /// The file.
        path: String,
        /// Where the first invalid byte is.
        #[source]
        source: std::str::Utf8Error,
    },
    /// The file is not valid TOML for the schema: syntax, unknown key or missing key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with the table the key is in.
        message: String,
    },
    /// A key holds a value AWS or this project does not accept: a wrong type, none of an
    /// enumeration's values, or a value a section's checks refuse.
    #[error("{path}: key `{key}` = {value}: {allowed}")]
    Invalid {
        /// The file.
        path: String,
        /// Dotted key, e.g. `redis.node_type`.
        key: String,
        /// The value found.
        value: String,
        /// What is allowed.
        allowed: String,
    },
}

/// A stage's whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The stage name (from the file name, not the file).
    #[serde(skip)]
    pub stage: String,
    /// The VPC the caches live in.
    pub network: NetworkConfig,
    /// ElastiCache for Redis.
    pub redis: RedisConfig,
    /// CloudFront distribution for static assets and `/api/*`.
    pub cdn: CdnConfig,
    /// DynamoDB Accelerator.
    pub dax: DaxConfig,
    /// AppSync API cache.
    pub appsync: AppSyncConfig,
    /// The HTTP API and the vendor, incidents and payments functions; absent: the stage
    /// deploys the caches only (no services stack).
    #[serde(default)]
    pub services: Option<ServicesConfig>,
    /// The scheduled Lambda warmer.
    pub warmer: WarmerConfig,
    /// Alarms and their thresholds.
    pub monitoring: MonitoringConfig,
    /// Rule suppressions, written into the named resources' `Metadata`.
    #[serde(default)]
    pub suppressions: Vec<SuppressionConfig>,
}

impl StageConfig {
    /// Checks every section's values; the first bad one is the error.
    fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        self.network.check(c)?;
        self.redis.check(c)?;
        // The stage's own requirements first: they say what the stage needs, where the
        // generic checks would only say which two keys disagree.
        self.cdn.check_stage(c, &self.stage)?;
        self.cdn.check(c)?;
        self.dax.check(c)?;
        self.appsync.check(c)?;
        self.warmer.check(c)?;
        if let Some(services) = &self.services {
            services.check(c)?;
            // The services stack names its functions' warmer targets itself; a second
            // entry in the stage file would drift from it.
            let stage = crate::stage::Stage::new(self);
            let provided = crate::constructs::services::function_names(&stage);
            for (i, target) in self.warmer.targets.iter().enumerate() {
                if provided.contains(&target.function) {
                    return Err(c.invalid(
                        &format!("warmer.targets[{i}].function"),
                        &target.function,
                        "this function is deployed by the services stack, which adds it to the warmer: \
                         set its services.<function>.warm_concurrency instead, and list only other \
                         functions here",
                    ));
                }
            }
        }
        for (index, suppression) in self.suppressions.iter().enumerate() {
            suppression.check(index, c)?;
        }
        self.monitoring.check(c)?;
        self.monitoring.check_stage(c, &self.stage)
    }
}

/// Lists the stages in `dir` (the `*.toml` file stems), sorted.
pub fn list_stages(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut stages: Vec<String> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "toml" {
                return None;
            }
            Some(path.file_stem()?.to_str()?.to_owned())
        })
        .collect();
    stages.sort();
    Ok(stages)
}

/// Reads and checks `<dir>/<stage>.toml`.
pub fn load_stage(dir: &Path, stage: &str) -> Result<StageConfig, ConfigError> {
    if !valid_stage_name(stage) {
        return Err(ConfigError::InvalidStageName(stage.to_owned()));
    }
    let path = dir.join(format!("{stage}.toml"));
    if !path.is_file() {
        return Err(ConfigError::UnknownStage {
            stage: stage.to_owned(),
            path: path.display().to_string(),
            available: list_stages(dir).unwrap_or_default(),
        });
    }
    let display = path.display().to_string();
    let read_error = |source| ConfigError::Read {
        path: display.clone(),
        source,
    };
    let size = std::fs::metadata(&path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            path: display,
            size,
            max: MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(&path).map_err(read_error)?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::NotUtf8 {
        path: display.clone(),
        source: e.utf8_error(),
    })?;
    parse_stage(&path, stage, &text)
}

/// Parses and checks the text of a stage file. `path` is used in messages only.
pub fn parse_stage(path: &Path, stage: &str, text: &str) -> Result<StageConfig, ConfigError> {
    if !valid_stage_name(stage) {
        return Err(ConfigError::InvalidStageName(stage.to_owned()));
    }
    let display = path.display().to_string();
    let mut config: StageConfig =
        toml::from_str(text).map_err(|e| toml_error::parse_error(&display, text, &e))?;
    config.stage = stage.to_owned();
    config.check(&Checker::new(display))?;
    Ok(config)
}

/// Stage names become part of stack, resource and export names.
pub fn valid_stage_name(stage: &str) -> bool {
    let mut chars = stage.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        // DAX cluster names (`roadcall-<stage>`) are limited to 20 characters.
        && stage.len() <= 11
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !stage.ends_with('-')
}

/// The stages shipped in the source tree this crate was compiled from, for tests and
/// examples. The `stacks` command does not use it (an installed binary would point at
/// the build machine's checkout): it looks with [`find_stages_dir`].
pub fn default_stages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stages")
}

/// The stages directory for a command run in `start`: `stacks/stages` in `start` or the
/// nearest of its parents that has one (so it works anywhere in the workspace), or
/// `stages` when that folder is itself the `stacks` package.
pub fn find_stages_dir(start: &Path) -> Result<PathBuf, ConfigError> {
    for dir in start.ancestors() {
        let workspace = dir.join("stacks").join("stages");
        if workspace.is_dir() {
            return Ok(workspace);
        }
        let package = dir.join("stages");
        if dir.file_name().is_some_and(|name| name == "stacks") && package.is_dir() {
            return Ok(package);
        }
    }
    Err(ConfigError::NoStagesDir {
        start: start.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_are_safe_in_resource_names() {
        assert!(valid_stage_name("dev"));
        assert!(valid_stage_name("pr-42"));
        assert!(!valid_stage_name("Dev"));
        assert!(!valid_stage_name("../etc"));
        assert!(!valid_stage_name(""));
        assert!(!valid_stage_name("averyveryverylongstage"));
    }
}
