//! Invoking a function: the trait the warmer needs and its `aws-sdk-lambda` implementation.

use std::future::Future;

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// What a synchronous invocation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeOutput {
    /// Lambda's status code (200 for a synchronous invocation that ran).
    pub status_code: i32,
    /// `Handled`/`Unhandled` when the function itself failed.
    pub function_error: Option<String>,
    /// The function's response payload.
    pub payload: Vec<u8>,
}

/// Why an invocation did not run.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct InvokeError {
    /// The service's error code, e.g. `ResourceNotFoundException`, `TooManyRequestsException`.
    pub code: Option<String>,
    /// The whole error chain.
    pub message: String,
}

/// Synchronous invocation of a function; the seam that lets tests count calls.
pub trait Invoker: Send + Sync {
    /// Invokes `function` (at `qualifier`) with `payload` and waits for the answer.
    fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<InvokeOutput, InvokeError>> + Send;
}

/// [`Invoker`] over the real Lambda API (`Invoke`, `RequestResponse`).
#[derive(Clone, Debug)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    /// Wraps a client (build it once per execution environment and reuse it).
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }
}

impl Invoker for LambdaInvoker {
    async fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        payload: Vec<u8>,
    ) -> Result<InvokeOutput, InvokeError> {
        let output = self
            .client
            .invoke()
            .function_name(function)
            .set_qualifier(qualifier.map(str::to_owned))
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| InvokeError {
                code: e.code().map(str::to_owned),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(InvokeOutput {
            status_code: output.status_code(),
            function_error: output.function_error().map(str::to_owned),
            payload: output
                .payload()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
        })
    }
}
