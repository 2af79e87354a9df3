//! The generator's CPU priority: its threads ask the OS for `SCHED_FIFO`, so that
//! on a machine whose cores are busy with other work the tool is not what waits.
//!
//! A request costs the generator three or four thread wake-ups (the schedule thread
//! at the arrival, a runtime worker to send it, a worker to read the answer). On a
//! shared machine every wake-up of a normally scheduled thread waits for the CPU: on
//! the 2-core machine of docs/PERFORMANCE.md, with other builds running (load
//! average 6-8), a thread sleeping 2 ms woke 4-10 ms late at p95, and under
//! `SCHED_FIFO` 0.04 ms late at p95 (0.05-2.3 ms at p99). That delay is counted as
//! latency of the server under test, so it is taken out of the tool. The server
//! keeps its normal priority: its own waits are part of what it answers in.
//!
//! The generator's threads block almost all the time (about 60 µs of CPU per
//! request), and the kernel's real-time throttling leaves other tasks 5 % of every
//! second even if one spun, so a real-time generator cannot take the machine. Where
//! real-time priority is refused (no `CAP_SYS_NICE`, `RLIMIT_RTPRIO` 0, not Linux)
//! the threads stay as they are and the reports say so.

use std::sync::Mutex;

use serde::Serialize;

/// How the generator's threads are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduling {
    /// `SCHED_FIFO` at the lowest real-time priority (1), when the OS allows it.
    Fifo,
    /// The OS's normal time sharing, as every other process.
    Normal,
}

/// What the generator's threads actually got, for the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingReport {
    /// What was asked for: `fifo` or `normal`.
    pub requested: String,
    /// `SCHED_FIFO priority 1`, or `normal` (with the reason when FIFO was refused).
    pub granted: String,
}

/// The first refusal seen by any thread, and whether any thread asked at all.
static STATE: Mutex<State> = Mutex::new(State {
    requested: None,
    refused: None,
});

struct State {
    requested: Option<Scheduling>,
    refused: Option<String>,
}

/// The lowest real-time priority: enough to run before every normal task, and below
/// any real-time task the system itself may have.
const FIFO_PRIORITY: i32 = 1;

/// Applies `scheduling` to the calling thread; call it at the start of every thread
/// of the generator (the runtime's `on_thread_start`, the stub's thread). A refusal
/// is remembered for [`report`], not returned: the run goes on at normal priority.
pub fn enter(scheduling: Scheduling) {
    let outcome = match scheduling {
        Scheduling::Normal => Ok(()),
        Scheduling::Fifo => set_fifo(),
    };
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    state.requested = Some(scheduling);
    if let Err(e) = outcome
        && state.refused.is_none()
    {
        state.refused = Some(e.to_string());
    }
}

/// What the threads that called [`enter`] got; `None` when none did.
pub fn report() -> Option<SchedulingReport> {
    let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let requested = state.requested?;
    let granted = match (requested, &state.refused) {
        (Scheduling::Normal, _) => "normal".to_string(),
        (Scheduling::Fifo, None) => format!("SCHED_FIFO priority {FIFO_PRIORITY}"),
        (Scheduling::Fifo, Some(why)) => format!("normal (SCHED_FIFO refused: {why})"),
    };
    Some(SchedulingReport {
        requested: match requested {
            Scheduling::Fifo => "fifo",
            Scheduling::Normal => "normal",
        }
        .to_string(),
        granted,
    })
}

#[cfg(target_os = "linux")]
fn set_fifo() -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: FIFO_PRIORITY,
    };
    // SAFETY: `param` is a valid, initialised `sched_param` that outlives the call;
    // pid 0 names the calling thread, so no other thread's state is touched.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_fifo() -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "only implemented on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reports_what_it_got() {
        // Own thread: the test harness's threads must keep their scheduling.
        std::thread::spawn(|| enter(Scheduling::Fifo))
            .join()
            .unwrap();
        let report = report().unwrap();
        assert_eq!(report.requested, "fifo");
        // Either granted (root, CAP_SYS_NICE) or refused with the OS's reason.
        assert!(
            report.granted == "SCHED_FIFO priority 1"
                || report.granted.starts_with("normal (SCHED_FIFO refused: "),
            "{report:?}"
        );
    }
}
