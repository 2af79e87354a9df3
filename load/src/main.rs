//! `load`: run a load profile against the API and report.
//!
//! Exit status: 0 when every threshold passed, 1 when one failed (the failures are
//! listed), 2 when the run could not start (bad option, profile file, target).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use load::calibrate::{self, CalibrationSummary};
use load::cli::{CalibrateArgs, Cli, Command};
use load::priority::{self, Scheduling};
use load::testdata::Metros;
use load::{report_html, report_json, runner};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The runtime every request goes through; each of its threads (workers, and the
/// blocking thread that walks the schedule) takes the generator's scheduling.
fn runtime(scheduling: Scheduling) -> anyhow::Result<tokio::runtime::Runtime> {
    // The thread that drives `block_on` too: it awaits the run and the drain.
    priority::enter(scheduling);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || priority::enter(scheduling))
        .build()
        .context("cannot start the async runtime")?;
    if let Some(report) = priority::report()
        && report.granted.starts_with("normal (")
    {
        eprintln!(
            "load: generator threads at normal priority ({}); on a busy machine their wake-ups are part of every figure",
            report.granted
        );
    }
    Ok(runtime)
}

fn run(cli: &Cli) -> anyhow::Result<bool> {
    if let Some(Command::Calibrate(args)) = &cli.command {
        return run_calibrate(args);
    }
    let mut config = cli.config()?;
    let calibration_length = cli.calibration_length()?;
    let runtime = runtime(cli.sched)?;
    if let Some(length) = calibration_length {
        let profile = calibrate::profile_for(&config.profile, length);
        eprintln!(
            "load: calibrating the generator against a stub: {} flows over {:.0} s",
            profile.schedule.arrival_count(),
            profile.schedule.duration().as_secs_f64()
        );
        let figures = runtime
            .block_on(calibrate::calibrate(
                profile,
                config.metros.clone(),
                cli.sched,
            ))
            .context("calibration")?;
        eprintln!(
            "load: generator alone ({}): p50 {:.2} p95 {:.2} p99 {:.2} max {:.2} ms",
            figures.arrivals,
            figures.overall.p50_ms,
            figures.overall.p95_ms,
            figures.overall.p99_ms,
            figures.overall.max_ms
        );
        config.calibration = Some(figures);
    }
    eprintln!(
        "load: profile `{}` against {}: {} flows over {:.0} s",
        config.profile.name,
        config.target,
        config.profile.schedule.arrival_count(),
        config.profile.schedule.duration().as_secs_f64()
    );
    let summary = runtime.block_on(runner::run(config))?;
    if let Some(path) = &cli.json {
        report_json::write(&summary, path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("load: JSON summary written to {}", path.display());
    }
    if let Some(path) = &cli.html {
        report_html::write(&summary, path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("load: HTML report written to {}", path.display());
    }
    print_summary(&summary);
    Ok(summary.passed)
}

/// `load calibrate`: one stub run per rate, a table on stdout.
fn run_calibrate(args: &CalibrateArgs) -> anyhow::Result<bool> {
    let profiles = args.profiles()?;
    let metros = Metros::embedded()?;
    let runtime = runtime(args.sched)?;
    let mut results: Vec<CalibrationSummary> = Vec::new();
    for profile in profiles {
        eprintln!(
            "load calibrate: {} requests over {:.0} s against the stub",
            profile.schedule.arrival_count(),
            profile.schedule.duration().as_secs_f64()
        );
        results.push(runtime.block_on(calibrate::calibrate(
            profile,
            metros.clone(),
            args.sched,
        ))?);
    }
    let scheduling = priority::report().map_or_else(|| "not set".to_string(), |r| r.granted);
    println!(
        "\ngenerator alone against a stub that answers at once (loopback, same machine; generator threads: {scheduling})\n\n{:<22} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "arrivals",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "late p99",
        "gen µs/rq",
        "stub µs/rq"
    );
    for r in &results {
        let o = &r.overall;
        let (generator_cpu, stub_cpu) = r.cpu.map_or((f64::NAN, f64::NAN), |c| {
            (c.generator_us_per_request, c.stub_us_per_request)
        });
        println!(
            "{:<22} {:>8} {:>8} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.0} {:>9.0}",
            r.arrivals,
            o.count,
            o.errors,
            r.throughput_per_sec,
            o.p50_ms,
            o.p95_ms,
            o.p99_ms,
            o.max_ms,
            r.starts.lateness_p99_ms,
            generator_cpu,
            stub_cpu
        );
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results).context("serialising the results")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("load calibrate: JSON written to {}", path.display());
    }
    Ok(results.iter().all(|r| r.overall.errors == 0))
}

fn print_summary(s: &report_json::RunSummary) {
    println!(
        "\n{:<18} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}  error kinds",
        "endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let row = |name: &str, e: &load::stats::LatencySummary| {
        let kinds: Vec<String> = e
            .error_kinds
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        println!(
            "{:<18} {:>8} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}",
            name,
            e.count,
            e.errors,
            e.throughput_per_sec,
            e.p50_ms,
            e.p95_ms,
            e.p99_ms,
            e.max_ms,
            kinds.join(" ")
        );
    };
    for (name, e) in &s.endpoints {
        row(name, e);
    }
    row("overall", &s.overall);
    if let Some(c) = &s.calibration {
        row("generator alone", &c.overall);
        println!(
            "  (the same generator against a stub that answers at once, {}: the tool's own share of every figure above)",
            c.arrivals
        );
    }
    if let Some(g) = &s.generator_scheduling {
        println!("  generator threads: {}", g.granted);
    }
    if let Some(p) = &s.probe {
        println!(
            "\nsequential probe (one request at a time on its own connection, every {:.0} ms):",
            p.interval_ms
        );
        for (name, e) in &p.endpoints {
            row(name, e);
        }
        println!("\nload p95 against probe p95 (flagged above 2x probe + 2 ms):");
        for c in &p.comparison {
            println!(
                "  {:<18} load {:>8.1} ms  probe {:>8.1} ms  limit {:>8.1} ms  {}",
                c.endpoint,
                c.load_p95_ms,
                c.probe_p95_ms,
                c.limit_ms,
                if c.within { "within" } else { "ABOVE" }
            );
        }
    }
    let m = &s.matches;
    if m.incidents > 0 {
        println!(
            "\nincidents: {} created, {} matched to {} distinct vendors, {} unmatched, {} vendors double-booked{}",
            m.incidents,
            m.matched,
            m.distinct_vendors,
            m.unmatched,
            m.double_booked_vendors,
            if m.double_booked_examples.is_empty() {
                String::new()
            } else {
                format!(" ({})", m.double_booked_examples.join(", "))
            }
        );
    }
    let st = &s.starts;
    println!(
        "\nflows: {} scheduled, {} started, {} dropped, {} late, {} unfinished{}",
        st.scheduled,
        st.started,
        st.dropped,
        st.late,
        s.unfinished,
        if s.interrupted { " (interrupted)" } else { "" }
    );
    let skipped: u64 = s.endpoints.values().map(|e| e.skipped).sum();
    if skipped > 0 {
        println!("skipped steps (nothing captured to use): {skipped}");
    }
    println!("\nthresholds:");
    for t in &s.thresholds {
        println!("  {}", t.message);
    }
    if s.passed {
        println!("\nPASS");
    } else {
        println!("\nFAIL: {} check(s) failed:", s.failures().len());
        for f in s.failures() {
            println!("  {f}");
        }
    }
}
