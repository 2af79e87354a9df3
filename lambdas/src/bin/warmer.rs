//! The `warmer` Lambda function: invoked by the EventBridge schedule with
//! `{"targets": [...]}`, pings every target and answers with the run's summary.
//!
//! Configuration: `STAGE` (EMF dimension, default `local`), `WARMER_HOLD_MS` (the hold each
//! ping asks for; default: the handlers' own), and the usual AWS SDK variables
//! (`AWS_REGION`, `AWS_ENDPOINT_URL` for a local endpoint, `AWS_MAX_ATTEMPTS`, ...).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lambda_runtime::{LambdaEvent, service_fn};
use lambdas::warmer::{LambdaInvoker, RunSummary, Warmer, WarmerConfig, WarmerInput};
use serde_json::Value;

fn config_from_env() -> anyhow::Result<WarmerConfig> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let hold = match get("WARMER_HOLD_MS") {
        None => None,
        Some(v) => Some(Duration::from_millis(
            v.parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 10_000)
                .with_context(|| {
                    format!("WARMER_HOLD_MS: `{v}` is not a number of milliseconds in [0, 10000]")
                })?,
        )),
    };
    Ok(WarmerConfig {
        stage: get("STAGE").unwrap_or_else(|| "local".to_owned()),
        hold,
        emit_emf: true,
    })
}

async fn handle(
    warmer: &Warmer<LambdaInvoker>,
    event: LambdaEvent<Value>,
) -> anyhow::Result<RunSummary> {
    let input = WarmerInput::from_value(event.payload)?;
    Ok(warmer.run(&input).await)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambdas::host::init_tracing(true);
    let config = config_from_env().map_err(|e| format!("configuration: {e:#}"))?;
    // Loaded once per execution environment: credentials and connections are reused by
    // every scheduled run.
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let warmer = Arc::new(Warmer::new(
        LambdaInvoker::new(aws_sdk_lambda::Client::new(&aws)),
        config,
    ));
    lambda_runtime::run(service_fn(move |event| {
        let warmer = Arc::clone(&warmer);
        async move {
            handle(&warmer, event)
                .await
                .map_err(|e| lambda_runtime::Error::from(format!("{e:#}")))
        }
    }))
    .await
}
