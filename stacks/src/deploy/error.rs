//! What can go wrong talking to AWS, as values a caller can match.

use std::fmt;

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// One resource that failed, with CloudFormation's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceFailure {
    /// Logical id (empty for stack-level events).
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// The failed status, e.g. `CREATE_FAILED`.
    pub status: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for ResourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = if self.logical_id.is_empty() {
            "(stack)"
        } else {
            &self.logical_id
        };
        write!(
            f,
            "{id} {} {}: {}",
            self.resource_type, self.status, self.reason
        )
    }
}

/// An error of the deploy, diff, destroy, outputs, status or cache commands.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No credentials could be found or they were rejected.
    #[error(
        "no usable AWS credentials: {0}\n  (set AWS_PROFILE or --profile, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`)"
    )]
    Credentials(String),
    /// No region was configured.
    #[error("no AWS region: pass --region or set AWS_REGION (or a region in your profile)")]
    NoRegion,
    /// The stack does not exist.
    #[error("stack {0} does not exist (deploy it first)")]
    StackNotFound(String),
    /// The stack is in a state that allows no new operation.
    #[error("stack {stack} is {status}: {hint}")]
    StackBusy {
        /// Stack name.
        stack: String,
        /// Its current status.
        status: String,
        /// What to do about it.
        hint: String,
    },
    /// CloudFormation could not create the change set.
    #[error("change set for {stack} failed: {reason}")]
    ChangeSetFailed {
        /// Stack name.
        stack: String,
        /// CloudFormation's reason.
        reason: String,
    },
    /// The stack operation ended in a failed or rolled-back state.
    #[error("stack {stack} ended in {status}{}", failures_text(.failures))]
    StackFailed {
        /// Stack name.
        stack: String,
        /// Final status.
        status: String,
        /// The failed resources and their reasons, oldest first.
        failures: Vec<ResourceFailure>,
    },
    /// `stacks check` found unsuppressed errors.
    #[error("{0} unsuppressed error finding(s) from `stacks check`; fix them or pass --skip-check")]
    CheckBlocked(usize),
    /// The check rules could not run.
    #[error("running `stacks check`: {0}")]
    Check(#[from] crate::check::CheckError),
    /// A `--parameter` value is malformed or names nothing.
    #[error("--parameter {0}")]
    Parameter(String),
    /// `--stack` names no stack of the stage.
    #[error("no stack of stage {stage} is called {stack} (stacks: {available})")]
    UnknownStack {
        /// The stage.
        stage: String,
        /// What was asked for.
        stack: String,
        /// The stage's stacks.
        available: String,
    },
    /// A template could not be rendered as JSON.
    #[error("template of {stack}: cannot render")]
    Render {
        /// Stack name.
        stack: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// A template is larger than CloudFormation takes inline.
    #[error("template of {stack}: {bytes} bytes exceeds CloudFormation's inline limit of {limit}")]
    TemplateTooLarge {
        /// Stack name.
        stack: String,
        /// Its size.
        bytes: usize,
        /// The inline limit.
        limit: usize,
    },
    /// The change set would replace resources that have fixed physical names, which
    /// CloudFormation cannot do: it fails halfway and rolls back. Nothing was executed.
    #[error(
        "change set {change_set} of {stack} replaces custom-named resource(s), which CloudFormation refuses; \
         not executed:{}\n  (drop the name, or change the property in a new resource with another name)",
        replacements_text(.replacements)
    )]
    ReplacesNamedResources {
        /// Stack name.
        stack: String,
        /// The change set, left for review.
        change_set: String,
        /// What would be replaced, and why.
        replacements: Vec<crate::deploy::changeset::BlockedReplacement>,
    },
    /// A template could not be rendered or parsed.
    #[error("template of {stack}: {message}")]
    Template {
        /// Stack name.
        stack: String,
        /// What is wrong.
        message: String,
    },
    /// A Lambda zip could not be built or completed (`--build-lambdas`).
    #[error("{0}")]
    Package(String),
    /// A local file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The user did not confirm a destructive command.
    #[error("{0}")]
    Refused(String),
    /// A resource the command needs is not in the stage's deployed stacks.
    #[error("{0}")]
    NotDeployed(String),
    /// An operation did not reach its end state in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// Any other error AWS returned.
    #[error("{operation}: {code}: {message}")]
    Aws {
        /// The API call, e.g. `CreateChangeSet`.
        operation: &'static str,
        /// The AWS error code (or `Unknown`).
        code: String,
        /// The AWS message, or the transport error.
        message: String,
    },
}

fn replacements_text(replacements: &[crate::deploy::changeset::BlockedReplacement]) -> String {
    replacements.iter().map(|r| format!("\n  - {r}")).collect()
}

fn failures_text(failures: &[ResourceFailure]) -> String {
    failures.iter().map(|f| format!("\n  - {f}")).collect()
}

/// What an AWS error code and message mean to us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Missing, expired or rejected credentials.
    Credentials,
    /// `ValidationError: Stack with id X does not exist`.
    StackNotFound,
    /// `ValidationError: No updates are to be performed.`
    NoChanges,
    /// Anything else.
    Other,
}

/// Classifies an AWS error by code and message.
pub fn classify(code: &str, message: &str) -> ErrorKind {
    const CREDENTIAL_CODES: &[&str] = &[
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthFailure",
        "MissingAuthenticationToken",
    ];
    let lower = message.to_ascii_lowercase();
    if CREDENTIAL_CODES.contains(&code)
        || lower.contains("no credentials")
        || lower.contains("failed to load credentials")
        || lower.contains("failed to resolve identity")
        || lower.contains("credentials provider")
    {
        ErrorKind::Credentials
    } else if code == "ValidationError" && lower.contains("does not exist") {
        ErrorKind::StackNotFound
    } else if lower.contains("no updates are to be performed")
        || lower.contains("didn't contain changes")
        || lower.contains("submitted information didn't contain changes")
    {
        ErrorKind::NoChanges
    } else {
        ErrorKind::Other
    }
}

/// Turns an SDK error into a [`DeployError`] for `operation` on `stack` (empty when no
/// stack is involved).
pub fn from_sdk<E, R>(operation: &'static str, stack: &str, error: SdkError<E, R>) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().unwrap_or("Unknown").to_owned();
    let message = match error.message() {
        Some(message) => message.to_owned(),
        // Transport and signing failures carry their cause in the source chain.
        None => DisplayErrorContext(&error).to_string(),
    };
    from_parts(operation, stack, code, message)
}

/// Turns an error code and message into a [`DeployError`].
pub fn from_parts(
    operation: &'static str,
    stack: &str,
    code: String,
    message: String,
) -> DeployError {
    match classify(&code, &message) {
        ErrorKind::Credentials => DeployError::Credentials(message),
        ErrorKind::StackNotFound if !stack.is_empty() => {
            DeployError::StackNotFound(stack.to_owned())
        }
        _ => DeployError::Aws {
            operation,
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_codes_that_matter() {
        assert_eq!(
            classify(
                "ValidationError",
                "Stack with id roadcall-perf-dev-redis does not exist"
            ),
            ErrorKind::StackNotFound
        );
        assert_eq!(
            classify("ValidationError", "No updates are to be performed."),
            ErrorKind::NoChanges
        );
        assert_eq!(
            classify(
                "Unknown",
                "The submitted information didn't contain changes. Submit different information to create a change set."
            ),
            ErrorKind::NoChanges
        );
        assert_eq!(
            classify(
                "ExpiredToken",
                "The security token included in the request is expired"
            ),
            ErrorKind::Credentials
        );
        assert_eq!(
            classify(
                "Unknown",
                "dispatch failure: failed to resolve identity: no credentials in the chain"
            ),
            ErrorKind::Credentials
        );
        assert_eq!(
            classify("ValidationError", "Template format error"),
            ErrorKind::Other
        );
    }

    #[test]
    fn maps_a_missing_stack_to_its_own_variant() {
        let error = from_parts(
            "DescribeStacks",
            "roadcall-perf-dev-redis",
            "ValidationError".into(),
            "Stack with id roadcall-perf-dev-redis does not exist".into(),
        );
        assert!(
            matches!(error, DeployError::StackNotFound(name) if name == "roadcall-perf-dev-redis")
        );
        let other = from_parts(
            "CreateChangeSet",
            "s",
            "Throttling".into(),
            "Rate exceeded".into(),
        );
        assert_eq!(
            other.to_string(),
            "CreateChangeSet: Throttling: Rate exceeded"
        );
    }

    #[test]
    fn a_failed_stack_lists_its_failures() {
        let error = DeployError::StackFailed {
            stack: "s".into(),
            status: "ROLLBACK_COMPLETE".into(),
            failures: vec![ResourceFailure {
                logical_id: "WarmerFunction".into(),
                resource_type: "AWS::Lambda::Function".into(),
                status: "CREATE_FAILED".into(),
                reason: "bucket does not exist".into(),
            }],
        };
        assert_eq!(
            error.to_string(),
            "stack s ended in ROLLBACK_COMPLETE\n  - WarmerFunction AWS::Lambda::Function CREATE_FAILED: bucket does not exist"
        );
    }
}
