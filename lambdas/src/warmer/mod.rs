//! The warmer: keeps a configured number of execution environments of each function warm.
//!
//! The EventBridge schedule invokes the `warmer` function with `{"targets": [{"function",
//! "qualifier"?, "concurrency"}]}` ([`WarmerInput`]). For each target the warmer fires
//! `concurrency` synchronous invocations at once, each a direct ping payload that no HTTP
//! event can imitate ([`ping::ping_event`]). A handler holds each ping for a short while, so
//! concurrent pings cannot be served one after the other by the same environment, and
//! answers with its environment id. The warmer counts the distinct ids, fires the shortfall
//! once more when it reached fewer than wanted, logs the result and prints one EMF line per
//! target (`WarmerReached`, `WarmerWanted`). A failing target never fails the run.
//!
//! ```no_run
//! # async fn run(client: aws_sdk_lambda::Client) -> Result<(), lambdas::warmer::WarmerError> {
//! use lambdas::warmer::{LambdaInvoker, Warmer, WarmerConfig, WarmerInput};
//! let warmer = Warmer::new(LambdaInvoker::new(client), WarmerConfig::default());
//! let input = WarmerInput::from_value(serde_json::json!({
//!     "targets": [{"function": "roadcall-vendor-dev", "qualifier": "live", "concurrency": 2}]
//! }))?;
//! let summary = warmer.run(&input).await;
//! println!("{} of {} environments warm", summary.reached, summary.wanted);
//! # Ok(()) }
//! ```

mod input;
mod invoker;
pub mod ping;

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use serde::Serialize;

pub use input::{MAX_CONCURRENCY, Target, WarmerInput};
pub use invoker::{InvokeError, InvokeOutput, Invoker, LambdaInvoker};

use crate::metrics::NAMESPACE;

/// Errors of the warmer itself (a target failing is not one: see [`TargetReport`]).
#[derive(Debug, thiserror::Error)]
pub enum WarmerError {
    /// The event is not a warmer input.
    #[error("bad warmer input at `{path}`: {message}")]
    BadInput {
        /// Where in the event (`targets[0].concurrency`).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Most error messages kept per target, so one broken function cannot bloat the response.
const MAX_ERRORS_KEPT: usize = 10;

/// How the warmer pings.
#[derive(Clone, Debug)]
pub struct WarmerConfig {
    /// Stage name, the EMF `Stage` dimension.
    pub stage: String,
    /// How long each ping holds its environment (`holdMs`); `None` leaves the handler's
    /// default (`WARMER_HOLD_MS`, 75 ms).
    pub hold: Option<Duration>,
    /// Print the EMF lines on stdout.
    pub emit_emf: bool,
}

impl Default for WarmerConfig {
    fn default() -> Self {
        Self {
            stage: "local".to_owned(),
            hold: None,
            emit_emf: true,
        }
    }
}

/// What happened to one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    /// Function name or ARN.
    pub function: String,
    /// Alias or version, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// Environments wanted (the target's concurrency).
    pub wanted: u32,
    /// Distinct environments that answered, over both rounds.
    pub reached: u32,
    /// Distinct environments that answered in the first round.
    pub reached_first_round: u32,
    /// Whether the shortfall was retried.
    pub retried: bool,
    /// Invocations fired, over both rounds.
    pub invocations: u32,
    /// Answers from an environment's first invocation (new environments).
    pub cold_starts: u32,
    /// Every failed invocation counted…
    pub error_count: u32,
    /// …and the first few messages.
    pub errors: Vec<String>,
}

impl TargetReport {
    /// Whether every wanted environment answered.
    pub fn complete(&self) -> bool {
        self.reached >= self.wanted
    }
}

/// The whole run: the warmer function's response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Stage name.
    pub stage: String,
    /// Sum of the targets' concurrency.
    pub wanted: u32,
    /// Sum of the environments reached.
    pub reached: u32,
    /// Targets that reached fewer environments than wanted.
    pub incomplete: u32,
    /// One report per target, in input order.
    pub targets: Vec<TargetReport>,
}

/// Pings every target through an [`Invoker`].
#[derive(Debug)]
pub struct Warmer<I> {
    invoker: I,
    config: WarmerConfig,
}

/// The outcome of one round of pings.
#[derive(Default)]
struct Round {
    environments: HashSet<String>,
    cold_starts: u32,
    errors: Vec<String>,
}

impl<I: Invoker> Warmer<I> {
    /// A warmer invoking through `invoker`.
    pub fn new(invoker: I, config: WarmerConfig) -> Self {
        Self { invoker, config }
    }

    /// The configuration.
    pub fn config(&self) -> &WarmerConfig {
        &self.config
    }

    /// Warms every target concurrently; never fails: failures are in the reports.
    pub async fn run(&self, input: &WarmerInput) -> RunSummary {
        let targets = join_all(input.targets.iter().map(|t| self.warm(t))).await;
        let summary = RunSummary {
            stage: self.config.stage.clone(),
            wanted: targets.iter().map(|t| t.wanted).sum(),
            reached: targets.iter().map(|t| t.reached).sum(),
            incomplete: targets.iter().filter(|t| !t.complete()).count() as u32,
            targets,
        };
        tracing::info!(
            targets = summary.targets.len(),
            wanted = summary.wanted,
            reached = summary.reached,
            incomplete = summary.incomplete,
            "warmer run done"
        );
        summary
    }

    /// Warms one target: a round of `concurrency` pings, then one round for the shortfall.
    pub async fn warm(&self, target: &Target) -> TargetReport {
        let label = target.label();
        let wanted = target.concurrency;
        let first = self.round(target, wanted).await;
        let reached_first_round = first.environments.len() as u32;
        let mut invocations = wanted;
        let mut all = first;
        let retried = reached_first_round < wanted;
        if retried {
            let shortfall = wanted - reached_first_round;
            tracing::info!(function = %label, wanted, reached = reached_first_round, shortfall, "retrying the shortfall");
            invocations += shortfall;
            let second = self.round(target, shortfall).await;
            all.environments.extend(second.environments);
            all.cold_starts += second.cold_starts;
            all.errors.extend(second.errors);
        }
        let reached = all.environments.len() as u32;
        let error_count = all.errors.len() as u32;
        all.errors.truncate(MAX_ERRORS_KEPT);
        let report = TargetReport {
            function: target.function.clone(),
            qualifier: target.qualifier.clone(),
            wanted,
            reached,
            reached_first_round,
            retried,
            invocations,
            cold_starts: all.cold_starts,
            error_count,
            errors: all.errors,
        };
        if report.complete() {
            tracing::info!(function = %label, wanted, reached, cold_starts = report.cold_starts, retried, "target warm");
        } else {
            tracing::warn!(
                function = %label, wanted, reached, errors = error_count,
                first_error = report.errors.first().map(String::as_str).unwrap_or(""),
                "target not fully warm"
            );
        }
        if self.config.emit_emf {
            println!(
                "{}",
                emf_line(&self.config.stage, &label, &report, now_ms())
            );
        }
        report
    }

    async fn round(&self, target: &Target, pings: u32) -> Round {
        let payload = |_| ping::ping_event(self.config.hold).to_string().into_bytes();
        let calls = (0..pings).map(payload).map(|body| self.ping(target, body));
        let mut round = Round::default();
        for outcome in join_all(calls).await {
            match outcome {
                Ok(answer) => {
                    round.cold_starts += u32::from(answer.cold_start);
                    round.environments.insert(answer.environment_id);
                }
                Err(message) => round.errors.push(message),
            }
        }
        round
    }

    async fn ping(&self, target: &Target, payload: Vec<u8>) -> Result<ping::PingAnswer, String> {
        let output = self
            .invoker
            .invoke(&target.function, target.qualifier.as_deref(), payload)
            .await
            .map_err(|e| e.message)?;
        if let Some(kind) = &output.function_error {
            return Err(format!(
                "function error ({kind}): {}",
                ping::snippet(&output.payload)
            ));
        }
        if !(200..300).contains(&output.status_code) {
            return Err(format!("invoke status {}", output.status_code));
        }
        ping::parse_answer(&output.payload).map_err(|e| e.to_string())
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// The EMF document for one target: `WarmerReached` and `WarmerWanted` in `RoadcallPerf`
/// with the dimensions `Stage` and `Function` (`function[:qualifier]`).
pub fn emf_line(stage: &str, function: &str, report: &TargetReport, timestamp_ms: u128) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stage", "Function"]],
                "Metrics": [
                    {"Name": "WarmerReached", "Unit": "Count"},
                    {"Name": "WarmerWanted", "Unit": "Count"}
                ]
            }]
        },
        "Stage": stage,
        "Function": function,
        "WarmerReached": report.reached,
        "WarmerWanted": report.wanted,
    })
    .to_string()
}

#[cfg(test)]
mod tests;
