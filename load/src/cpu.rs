//! CPU time used by the generator, for the calibration's cost per request.
//!
//! Latency on a shared machine moves with everything else that runs; CPU time per
//! request does not (much), so it is the figure to compare across runs and machines.
//! Read with `getrusage`, which the kernel keeps in nanoseconds of scheduler time
//! (`/proc/PID/stat` has the same counters in 10 ms ticks).

use std::time::Duration;

/// User plus system CPU time of the whole process (every thread, ended ones too).
pub fn process_time() -> Option<Duration> {
    usage(Who::Process)
}

/// User plus system CPU time of the calling thread.
pub fn thread_time() -> Option<Duration> {
    usage(Who::Thread)
}

#[derive(Clone, Copy)]
enum Who {
    Process,
    Thread,
}

#[cfg(target_os = "linux")]
fn usage(who: Who) -> Option<Duration> {
    let who = match who {
        Who::Process => libc::RUSAGE_SELF,
        Who::Thread => libc::RUSAGE_THREAD,
    };
    // SAFETY: `getrusage` only writes into the `rusage` we own; all-zero bytes are a
    // valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a pointer to a live, writable `rusage`.
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    if rc != 0 {
        return None;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).ok()?)
            .checked_add(Duration::from_micros(u64::try_from(t.tv_usec).ok()?))
    };
    time(usage.ru_utime)?.checked_add(time(usage.ru_stime)?)
}

#[cfg(not(target_os = "linux"))]
fn usage(_who: Who) -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_as_cpu_time() {
        let before = thread_time().unwrap();
        let process_before = process_time().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = thread_time().unwrap() - before;
        // A 30 ms spin is at least some CPU time, and never more than the process's.
        assert!(used > Duration::ZERO, "{used:?}");
        assert!(process_time().unwrap() - process_before >= used);
    }
}
