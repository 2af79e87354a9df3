//! `load`: run a load profile against the API and report.
//!
//! Exit status: 0 when every threshold passed, 1 when one failed (the failures are
//! listed), 2 when the run could not start (bad option, profile file, target).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use load::cli::Cli;
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

fn run(cli: &Cli) -> anyhow::Result<bool> {
    let config = cli.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
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
        println!("\nFAIL: {} threshold(s) failed:", s.failures().len());
        for f in s.failures() {
            println!("  {f}");
        }
    }
}
