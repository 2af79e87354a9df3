//! Following a stack operation through its events until the stack reaches a terminal
//! state, with a line per event and a running count of finished resources.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackEvent;

use crate::deploy::DeployError;
use crate::deploy::error::{ResourceFailure, from_sdk};
use crate::deploy::outputs::describe_stack;

/// Longest we follow one operation; CloudFormation's own timeouts end any real one sooner
/// (a CloudFront distribution takes minutes, a replication group up to an hour).
const MAX_FOLLOW: Duration = Duration::from_secs(4 * 3600);

/// One stack event, as plain strings (the SDK makes every field optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventView {
    /// Unique id of the event.
    pub id: String,
    /// Logical id of the resource, or the stack name for stack-level events.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Status, e.g. `CREATE_IN_PROGRESS`.
    pub status: String,
    /// Reason, when CloudFormation gives one.
    pub reason: String,
}

impl From<&StackEvent> for EventView {
    fn from(event: &StackEvent) -> Self {
        Self {
            id: event.event_id().unwrap_or_default().to_owned(),
            logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
            resource_type: event.resource_type().unwrap_or_default().to_owned(),
            status: event
                .resource_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            reason: event
                .resource_status_reason()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

impl EventView {
    /// Whether this event reports a failure.
    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }

    /// Whether this is an event of the stack itself rather than of a resource.
    pub fn is_stack_event(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// Runs one stack operation and follows it to its end: starts following `stack_id`'s
/// events (so none of the operation's are missed), awaits `start` (the call that begins
/// the operation, such as ExecuteChangeSet or DeleteStack), then follows the events
/// until the stack is in a terminal state. A terminal state other than success is a
/// [`DeployError::StackFailed`] naming `stack_name` and the resources that failed.
pub async fn run_operation(
    client: &Client,
    stack_name: &str,
    stack_id: &str,
    total_resources: usize,
    poll: Duration,
    out: &mut dyn Write,
    start: impl Future<Output = Result<(), DeployError>>,
) -> Result<(), DeployError> {
    let follower = Follower::start(client, stack_id, total_resources).await?;
    start.await?;
    let outcome = follower.follow(client, stack_id, poll, out).await?;
    if is_success(&outcome.status) {
        Ok(())
    } else {
        Err(DeployError::StackFailed {
            stack: stack_name.to_owned(),
            status: outcome.status,
            failures: outcome.failures,
        })
    }
}

/// Whether a stack status ends an operation.
pub fn is_terminal(status: &str) -> bool {
    !status.is_empty() && !status.ends_with("_IN_PROGRESS")
}

/// Whether a terminal stack status means the operation did what was asked.
pub fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

/// Formats an event as one line: elapsed time, progress, status, type, id, reason.
pub fn format_event(event: &EventView, elapsed: Duration, done: usize, total: usize) -> String {
    let seconds = elapsed.as_secs();
    let mut line = format!(
        "{:>3}:{:02} [{done:>2}/{total}] {:<28} {:<36} {}",
        seconds / 60,
        seconds % 60,
        event.status,
        event.resource_type,
        event.logical_id
    );
    if !event.reason.is_empty() {
        line.push_str(" (");
        line.push_str(&event.reason);
        line.push(')');
    }
    line.trim_end().to_owned()
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The stack's final status (`DELETE_COMPLETE` once a deleted stack is gone).
    pub status: String,
    /// Failed resources seen while following, oldest first.
    pub failures: Vec<ResourceFailure>,
}

/// Follows a stack from the events already seen to a terminal state.
#[derive(Debug)]
pub struct Follower {
    seen: HashSet<String>,
    finished: HashSet<String>,
    total_resources: usize,
    started: Instant,
    failures: Vec<ResourceFailure>,
}

impl Follower {
    /// Records the events that exist now, so only the operation's own are shown.
    /// `total_resources` is the number of resources the template holds (for progress).
    pub async fn start(
        client: &Client,
        stack: &str,
        total_resources: usize,
    ) -> Result<Self, DeployError> {
        let mut follower = Self::empty(total_resources);
        let existing = match recent_events(client, stack).await {
            Ok(events) => events,
            // A stack about to be created has no events yet.
            Err(DeployError::StackNotFound(_)) => Vec::new(),
            Err(other) => return Err(other),
        };
        for event in existing {
            follower.seen.insert(event.id);
        }
        Ok(follower)
    }

    /// A follower that has seen nothing yet.
    pub fn empty(total_resources: usize) -> Self {
        Self {
            seen: HashSet::new(),
            finished: HashSet::new(),
            total_resources,
            started: Instant::now(),
            failures: Vec::new(),
        }
    }

    /// Takes in a batch of events (newest first, as the API returns them) and returns
    /// the lines of those not seen before, oldest first.
    pub fn absorb(&mut self, newest_first: Vec<EventView>) -> Vec<String> {
        let mut lines = Vec::new();
        for event in newest_first.into_iter().rev() {
            if event.id.is_empty() || !self.seen.insert(event.id.clone()) {
                continue;
            }
            if !event.is_stack_event() && event.status.ends_with("_COMPLETE") {
                self.finished.insert(event.logical_id.clone());
            }
            if event.is_failure() && !event.reason.is_empty() {
                self.failures.push(ResourceFailure {
                    logical_id: event.logical_id.clone(),
                    resource_type: event.resource_type.clone(),
                    status: event.status.clone(),
                    reason: event.reason.clone(),
                });
            }
            lines.push(format_event(
                &event,
                self.started.elapsed(),
                self.finished.len().min(self.total_resources),
                self.total_resources,
            ));
        }
        lines
    }

    /// Polls events and status until the stack is in a terminal state, writing each new
    /// event to `out`. `stack` should be the stack id (ARN), which still describes a
    /// deleted stack; a stack that is gone counts as `DELETE_COMPLETE`.
    pub async fn follow(
        mut self,
        client: &Client,
        stack: &str,
        poll: Duration,
        out: &mut dyn Write,
    ) -> Result<Outcome, DeployError> {
        loop {
            let events = match recent_events(client, stack).await {
                Ok(events) => events,
                Err(DeployError::StackNotFound(_)) => Vec::new(),
                Err(other) => return Err(other),
            };
            for line in self.absorb(events) {
                // Progress output is best effort: a closed pipe must not fail the deploy.
                let _ = writeln!(out, "  {line}");
            }
            let _ = out.flush();
            let status = match describe_stack(client, stack).await? {
                Some(found) => found.status,
                None => "DELETE_COMPLETE".to_owned(),
            };
            if is_terminal(&status) {
                if !is_success(&status)
                    && self.failures.is_empty()
                    && let Some(reason) = stack_reason(client, stack).await
                {
                    self.failures.push(ResourceFailure {
                        logical_id: String::new(),
                        resource_type: "AWS::CloudFormation::Stack".to_owned(),
                        status: status.clone(),
                        reason,
                    });
                }
                return Ok(Outcome {
                    status,
                    failures: self.failures,
                });
            }
            if self.started.elapsed() > MAX_FOLLOW {
                return Err(DeployError::Timeout(format!(
                    "stack {stack} (last status {status})"
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// The stack's status reason, when it has one.
async fn stack_reason(client: &Client, stack: &str) -> Option<String> {
    describe_stack(client, stack)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.status_reason)
        .filter(|r| !r.is_empty())
}

/// The most recent page of events (newest first).
pub async fn recent_events(client: &Client, stack: &str) -> Result<Vec<EventView>, DeployError> {
    let page = client
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeStackEvents", stack, e))?;
    Ok(page.stack_events().iter().map(EventView::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, logical: &str, kind: &str, status: &str, reason: &str) -> EventView {
        EventView {
            id: id.into(),
            logical_id: logical.into(),
            resource_type: kind.into(),
            status: status.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn formats_one_line_per_event() {
        let line = format_event(
            &event(
                "1",
                "WarmerFunction",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                "No such bucket",
            ),
            Duration::from_secs(75),
            2,
            7,
        );
        assert_eq!(
            line,
            "  1:15 [ 2/7] CREATE_FAILED                AWS::Lambda::Function                WarmerFunction (No such bucket)"
        );
    }

    #[test]
    fn terminal_and_success_states() {
        for status in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"] {
            assert!(is_terminal(status) && is_success(status), "{status}");
        }
        for status in [
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
            "DELETE_FAILED",
            "CREATE_FAILED",
        ] {
            assert!(is_terminal(status) && !is_success(status), "{status}");
        }
        for status in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "",
        ] {
            assert!(!is_terminal(status), "{status}");
        }
    }

    #[test]
    fn absorbs_new_events_oldest_first_and_collects_failures() {
        let mut follower = Follower {
            seen: HashSet::from(["old".to_owned()]),
            finished: HashSet::new(),
            total_resources: 2,
            started: Instant::now(),
            failures: Vec::new(),
        };
        let lines = follower.absorb(vec![
            event(
                "3",
                "Fn",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                "bucket missing",
            ),
            event("2", "Logs", "AWS::Logs::LogGroup", "CREATE_COMPLETE", ""),
            event(
                "old",
                "s",
                "AWS::CloudFormation::Stack",
                "CREATE_COMPLETE",
                "",
            ),
        ]);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("[ 1/2] CREATE_COMPLETE"), "{}", lines[0]);
        assert!(lines[1].ends_with("Fn (bucket missing)"), "{}", lines[1]);
        assert_eq!(follower.failures.len(), 1);
        assert_eq!(follower.failures[0].logical_id, "Fn");
        // The same batch again shows nothing new.
        assert!(
            follower
                .absorb(vec![event("3", "Fn", "", "CREATE_FAILED", "x")])
                .is_empty()
        );
    }
}
