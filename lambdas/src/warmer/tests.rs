use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use super::*;

/// Answers like a function with at most `cap` environments, handing them out in turn.
enum Behaviour {
    Environments(u32),
    Missing,
    Crashes,
}

struct FakeInvoker {
    functions: HashMap<&'static str, Behaviour>,
    calls: Mutex<HashMap<String, u32>>,
}

impl FakeInvoker {
    fn new(functions: impl IntoIterator<Item = (&'static str, Behaviour)>) -> Self {
        Self {
            functions: functions.into_iter().collect(),
            calls: Mutex::default(),
        }
    }

    fn calls(&self, function: &str) -> u32 {
        self.calls
            .lock()
            .unwrap()
            .get(function)
            .copied()
            .unwrap_or(0)
    }
}

impl Invoker for FakeInvoker {
    async fn invoke(
        &self,
        function: &str,
        _qualifier: Option<&str>,
        payload: Vec<u8>,
    ) -> Result<InvokeOutput, InvokeError> {
        // The ping is the warmer's own payload, never an HTTP event.
        serde_json::from_slice::<super::ping::PingRequest>(&payload).unwrap();
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(function.to_owned()).or_default();
            *n += 1;
            *n
        };
        match self.functions.get(function) {
            Some(Behaviour::Environments(cap)) => {
                let env = (n - 1) % cap;
                let response = json!({"warmed": true, "environmentId": format!("{function}-{env}"), "coldStart": n <= *cap});
                Ok(InvokeOutput {
                    status_code: 200,
                    function_error: None,
                    payload: response.to_string().into_bytes(),
                })
            }
            Some(Behaviour::Crashes) => Ok(InvokeOutput {
                status_code: 200,
                function_error: Some("Unhandled".to_owned()),
                payload: br#"{"errorType":"Runtime.ExitError","errorMessage":"boom"}"#.to_vec(),
            }),
            Some(Behaviour::Missing) | None => Err(InvokeError {
                code: Some("ResourceNotFoundException".to_owned()),
                message: format!("ResourceNotFoundException: Function not found: {function}"),
            }),
        }
    }
}

fn target(function: &str, concurrency: u32) -> Target {
    Target {
        function: function.to_owned(),
        qualifier: None,
        concurrency,
    }
}

fn quiet() -> WarmerConfig {
    WarmerConfig {
        stage: "test".to_owned(),
        hold: Some(Duration::from_millis(1)),
        emit_emf: false,
    }
}

#[tokio::test]
async fn reaching_every_environment_needs_no_retry() {
    let warmer = Warmer::new(
        FakeInvoker::new([("a", Behaviour::Environments(10))]),
        quiet(),
    );
    let report = warmer.warm(&target("a", 3)).await;
    assert_eq!(
        (
            report.wanted,
            report.reached,
            report.retried,
            report.invocations
        ),
        (3, 3, false, 3)
    );
    assert_eq!(report.cold_starts, 3);
    assert!(report.complete() && report.errors.is_empty());
    assert_eq!(warmer.invoker.calls("a"), 3);
}

#[tokio::test]
async fn a_shortfall_is_retried_once_with_only_the_missing_pings() {
    let warmer = Warmer::new(
        FakeInvoker::new([("a", Behaviour::Environments(2))]),
        quiet(),
    );
    let report = warmer.warm(&target("a", 5)).await;
    assert_eq!(
        (report.reached_first_round, report.reached, report.retried),
        (2, 2, true)
    );
    assert_eq!(report.invocations, 5 + 3);
    assert_eq!(warmer.invoker.calls("a"), 8);
    assert!(!report.complete());
}

#[tokio::test]
async fn a_failing_target_fails_alone() {
    let invoker = FakeInvoker::new([
        ("ok", Behaviour::Environments(10)),
        ("gone", Behaviour::Missing),
        ("crash", Behaviour::Crashes),
    ]);
    let warmer = Warmer::new(invoker, quiet());
    let input = WarmerInput {
        targets: vec![target("ok", 2), target("gone", 2), target("crash", 1)],
    };
    let summary = warmer.run(&input).await;
    assert_eq!(
        (summary.wanted, summary.reached, summary.incomplete),
        (5, 2, 2)
    );
    let [ok, gone, crash] = &summary.targets[..] else {
        panic!("three reports")
    };
    assert!(ok.complete());
    assert_eq!(
        (gone.reached, gone.error_count, gone.invocations),
        (0, 4, 4)
    );
    assert!(
        gone.errors[0].contains("ResourceNotFoundException"),
        "{:?}",
        gone.errors
    );
    assert!(crash.errors[0].contains("Unhandled"), "{:?}", crash.errors);
    let response = serde_json::to_value(&summary).unwrap();
    assert_eq!(response["targets"][1]["reachedFirstRound"], 0);
}

#[test]
fn the_emf_line_has_both_metrics_per_stage_and_function() {
    let report = TargetReport {
        function: "f".to_owned(),
        qualifier: Some("live".to_owned()),
        wanted: 3,
        reached: 2,
        reached_first_round: 1,
        retried: true,
        invocations: 5,
        cold_starts: 0,
        error_count: 0,
        errors: vec![],
    };
    let line: serde_json::Value =
        serde_json::from_str(&emf_line("dev", "f:live", &report, 7)).unwrap();
    let metrics = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(metrics["Namespace"], "RoadcallPerf");
    assert_eq!(metrics["Dimensions"], json!([["Stage", "Function"]]));
    assert_eq!(
        metrics["Metrics"],
        json!([{"Name": "WarmerReached", "Unit": "Count"}, {"Name": "WarmerWanted", "Unit": "Count"}])
    );
    assert_eq!(
        (line["Stage"].as_str(), line["Function"].as_str()),
        (Some("dev"), Some("f:live"))
    );
    assert_eq!(
        (
            line["WarmerReached"].as_u64(),
            line["WarmerWanted"].as_u64()
        ),
        (Some(2), Some(3))
    );
}
