//! The self-contained HTML report (`--html PATH`).
//!
//! Charts are inline SVG drawn here, with no script and no external reference, so
//! the file opens offline, survives being attached to a CI run, and cannot leak
//! the target's name to a CDN.

use std::fmt::Write as _;
use std::path::Path;

use crate::report_json::RunSummary;
use crate::stats::LatencySummary;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 70.0;
const MARGIN_RIGHT: f64 = 20.0;
const MARGIN_TOP: f64 = 20.0;
const MARGIN_BOTTOM: f64 = 45.0;
const COLORS: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf",
];

/// Writes the HTML report.
pub fn write(summary: &RunSummary, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, render(summary))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Reads one figure of a timeline point.
type PointValue = fn(&crate::stats::TimePoint) -> f64;

/// One line of a chart.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// A vertical marker (phase boundary).
struct Marker {
    x: f64,
    label: String,
}

/// How the x axis maps values and labels ticks.
#[derive(Clone, Copy)]
enum XAxis {
    /// Seconds, linear.
    Seconds,
    /// Percentiles on a "nines" scale: 0, 90, 99, 99.9, 99.99 evenly spaced.
    Nines,
}

fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-4);
    -rest.log10()
}

fn nice_step(range: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e12 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn line_chart(
    title: &str,
    y_label: &str,
    axis: XAxis,
    series: &[Series],
    markers: &[Marker],
) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{}">"#,
        escape(title),
        escape(title)
    );
    let map_x = |x: f64| match axis {
        XAxis::Seconds => x,
        XAxis::Nines => nines(x),
    };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(x, y)| (map_x(x), y)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if all.is_empty() {
        svg.push_str(r#"<text x="20" y="40">no data</text></svg></figure>"#);
        return svg;
    }
    let (x_min, mut x_max) = match axis {
        XAxis::Seconds => (0.0, all.iter().map(|p| p.0).fold(0.0, f64::max)),
        XAxis::Nines => (0.0, 4.0),
    };
    if x_max <= x_min {
        x_max = x_min + 1.0;
    }
    let y_top = all.iter().map(|p| p.1).fold(0.0, f64::max);
    let y_step = nice_step(y_top.max(1e-3));
    let y_max = (y_top / y_step).ceil().max(1.0) * y_step;
    let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let px = |x: f64| MARGIN_LEFT + (x - x_min) / (x_max - x_min) * plot_w;
    let py = |y: f64| MARGIN_TOP + plot_h - y / y_max * plot_h;

    // Grid and y ticks.
    let mut y = 0.0;
    while y <= y_max + y_step * 0.01 {
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            MARGIN_LEFT,
            py(y),
            WIDTH - MARGIN_RIGHT,
            py(y),
            MARGIN_LEFT - 6.0,
            py(y) + 4.0,
            fmt_num(y)
        );
        y += y_step;
    }
    // X ticks.
    let ticks: Vec<(f64, String)> = match axis {
        XAxis::Seconds => {
            let step = nice_step(x_max - x_min);
            let mut out = Vec::new();
            let mut x = x_min;
            while x <= x_max + step * 0.01 {
                out.push((x, format!("{}s", fmt_num(x))));
                x += step;
            }
            out
        }
        XAxis::Nines => vec![
            (0.0, "p0".into()),
            (1.0, "p90".into()),
            (2.0, "p99".into()),
            (3.0, "p99.9".into()),
            (4.0, "p99.99".into()),
        ],
    };
    for (x, label) in ticks {
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#eee"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle" font-size="11">{4}</text>"##,
            px(x),
            MARGIN_TOP,
            MARGIN_TOP + plot_h,
            MARGIN_TOP + plot_h + 16.0,
            escape(&label)
        );
    }
    for m in markers {
        if m.x < x_min || m.x > x_max {
            continue;
        }
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#999" stroke-dasharray="4 3"/><text x="{3:.1}" y="{4:.1}" font-size="10" fill="#666">{5}</text>"##,
            px(m.x),
            MARGIN_TOP,
            MARGIN_TOP + plot_h,
            px(m.x) + 3.0,
            MARGIN_TOP + 10.0,
            escape(&m.label)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="14" y="{:.1}" font-size="11" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"#,
        MARGIN_TOP + plot_h / 2.0,
        MARGIN_TOP + plot_h / 2.0,
        escape(y_label)
    );
    // Lines and legend.
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| (map_x(x), y))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        if points.len() == 1 {
            let _ = write!(
                svg,
                r#"<circle cx="{}" r="3" fill="{color}"/>"#,
                points[0].replace(',', r#"" cy=""#)
            );
        } else if !points.is_empty() {
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/>"#,
                points.join(" ")
            );
        }
        let lx = MARGIN_LEFT + 10.0 + (i as f64) * 130.0;
        let ly = HEIGHT - 8.0;
        let _ = write!(
            svg,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="4" fill="{color}"/><text x="{:.1}" y="{ly:.1}" font-size="11">{}</text>"#,
            ly - 5.0,
            lx + 16.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

fn kinds(s: &LatencySummary) -> String {
    if s.error_kinds.is_empty() {
        return "&ndash;".into();
    }
    s.error_kinds
        .iter()
        .map(|(k, n)| format!("{} &times;{n}", escape(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn latency_row(name: &str, s: &LatencySummary) -> String {
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{:.2} %</td><td>{}</td><td>{:.1}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(name),
        s.count,
        s.ok,
        if s.errors > 0 { "bad" } else { "" },
        s.errors,
        s.error_rate * 100.0,
        kinds(s),
        s.throughput_per_sec,
        ms(s.p50_ms),
        ms(s.p95_ms),
        ms(s.p99_ms),
        ms(s.max_ms),
        s.skipped,
    )
}

const LATENCY_HEAD: &str = "<tr><th>name</th><th>requests</th><th>ok</th><th>errors</th><th>error rate</th>\
    <th>error kinds</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>skipped</th></tr>";

/// The generator's own latency (a run against a stub that answers at once) next to
/// the measured overall figures.
fn calibration_section(s: &RunSummary) -> String {
    let Some(c) = &s.calibration else {
        return "<h2>The tool's own share</h2><p>No calibration was run (<code>--calibrate-s 0</code>).</p>".into();
    };
    let o = &c.overall;
    let m = &s.overall;
    let scheduling = s
        .generator_scheduling
        .as_ref()
        .map_or_else(|| "not set".to_string(), |g| g.granted.clone());
    let cpu = c.cpu.map_or_else(String::new, |cpu| {
        format!(
            " CPU per request: generator {:.0} µs, stub {:.0} µs.",
            cpu.generator_us_per_request, cpu.stub_us_per_request
        )
    });
    format!(
        "<h2>The tool's own share</h2><p>Before the run the same generator, with the same scenarios, ran against a stub \
         that answers at once ({}). What it measured there is latency the tool adds to every figure in this report. \
         Generator threads: {}.{}</p>\
         <table><tr><th>measured by</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>\
         <tr><td>generator alone (calibration)</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\
         <tr><td>this run, all endpoints</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        escape(&c.arrivals),
        escape(&scheduling),
        escape(&cpu),
        o.count,
        ms2(o.p50_ms),
        ms2(o.p95_ms),
        ms2(o.p99_ms),
        ms2(o.max_ms),
        m.count,
        ms2(m.p50_ms),
        ms2(m.p95_ms),
        ms2(m.p99_ms),
        ms2(m.max_ms),
    )
}

/// The sequential probe's latency per endpoint beside the load's.
fn probe_section(s: &RunSummary) -> String {
    let Some(p) = &s.probe else {
        return String::new();
    };
    let mut html = format!(
        "<h2>Sequential probe</h2><p>One request at a time on a connection of its own, every {:.0} ms, during the \
         whole run: the server's latency as a client that never queues behind itself sees it. A loaded endpoint whose \
         p95 is more than {} &times; the probe's + {} ms is flagged.</p><table><tr><th>endpoint</th><th>probe requests</th>\
         <th>probe p50 ms</th><th>probe p95 ms</th><th>load p95 ms</th><th>limit ms</th><th>result</th></tr>",
        p.interval_ms,
        fmt_num(crate::probe::P95_FACTOR),
        fmt_num(crate::probe::P95_SLACK_MS),
    );
    for c in &p.comparison {
        let probe = p.endpoints.get(&c.endpoint);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&c.endpoint),
            probe.map_or(0, |e| e.count),
            probe.map_or_else(|| "&ndash;".into(), |e| ms(e.p50_ms)),
            ms(c.probe_p95_ms),
            ms(c.load_p95_ms),
            ms(c.limit_ms),
            if c.within { "good" } else { "bad" },
            if c.within { "within" } else { "above" },
        );
    }
    html.push_str("</table>");
    html
}

/// Which vendors the incidents were matched to.
fn matches_section(s: &RunSummary) -> String {
    let m = &s.matches;
    if m.incidents == 0 {
        return String::new();
    }
    format!(
        "<h2>Incident matches</h2><p>{} incidents created: {} matched to {} distinct vendors, {} unmatched. \
         <span class=\"{}\">{} vendor(s) double-booked</span>{}.</p>",
        m.incidents,
        m.matched,
        m.distinct_vendors,
        m.unmatched,
        if m.all_distinct() { "good" } else { "bad" },
        m.double_booked_vendors,
        if m.double_booked_examples.is_empty() {
            String::new()
        } else {
            format!(" ({})", escape(&m.double_booked_examples.join(", ")))
        }
    )
}

fn ms2(v: f64) -> String {
    format!("{v:.2}")
}

/// Renders the report.
pub fn render(s: &RunSummary) -> String {
    let mut html = String::new();
    let verdict = if s.passed { "PASS" } else { "FAIL" };
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>load report: {} {}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}}\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}}\
         td:first-child,th:first-child{{text-align:left}}.bad{{color:#b00;font-weight:bold}}.good{{color:#070;font-weight:bold}}\
         .verdict{{font-size:1.4em;padding:0.3em 0.6em;display:inline-block;border-radius:4px}}\
         .PASS{{background:#dfd}}.FAIL{{background:#fdd}}figure{{margin:1em 0}}figcaption{{font-weight:bold}}\
         code{{background:#f4f4f4;padding:0 3px}}</style></head><body>",
        escape(&s.profile),
        verdict
    );
    let _ = write!(
        html,
        "<h1>Load report: <code>{}</code></h1><p class=\"verdict {verdict}\">{verdict}</p>\
         <p>Target <code>{}</code>, started {}, seed {}. Schedule {:.0} s, elapsed {:.1} s{}.</p>",
        escape(&s.profile),
        escape(&s.target),
        escape(&s.started_at),
        s.seed,
        s.schedule_seconds,
        s.elapsed_seconds,
        if s.interrupted { " (interrupted)" } else { "" }
    );
    let st = &s.starts;
    let _ = write!(
        html,
        "<p>Flows: {} scheduled, {} started, <span class=\"{}\">{} dropped</span> (in-flight limit), {} late \
         (more than {:.0} ms after their scheduled time; start lateness p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms), \
         {} unfinished at the end. Latencies count from the <em>scheduled</em> start of each flow's first request.</p>",
        st.scheduled,
        st.started,
        if st.dropped > 0 { "bad" } else { "" },
        st.dropped,
        st.late,
        st.late_limit_ms,
        st.lateness_p50_ms,
        st.lateness_p99_ms,
        st.lateness_max_ms,
        s.unfinished
    );

    html.push_str("<h2>Thresholds</h2><table><tr><th>scope</th><th>metric</th><th>limit</th><th>actual</th><th>result</th></tr>");
    for t in &s.thresholds {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>&lt; {}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&t.scope),
            escape(&t.metric),
            fmt_num(t.limit),
            t.actual.map_or_else(|| "no samples".to_string(), fmt_num),
            if t.passed { "good" } else { "bad" },
            if t.passed { "pass" } else { "FAIL" }
        );
    }
    html.push_str("</table>");

    let markers: Vec<Marker> = s
        .phases
        .iter()
        .map(|p| Marker {
            x: p.start_seconds,
            label: p.name.clone(),
        })
        .collect();
    let timeline = |f: PointValue| s.timeline.iter().map(|p| (p.t, f(p))).collect::<Vec<_>>();
    html.push_str(&calibration_section(s));
    html.push_str("<h2>Latency over time</h2><p>Per one-second window of completed requests, all endpoints.</p>");
    let percentiles: [(&str, PointValue); 4] = [
        ("p50", |p| p.p50_ms),
        ("p95", |p| p.p95_ms),
        ("p99", |p| p.p99_ms),
        ("max", |p| p.max_ms),
    ];
    let mut over_time: Vec<Series> = percentiles
        .into_iter()
        .map(|(name, value)| Series {
            name: name.into(),
            points: timeline(value),
        })
        .collect();
    if let (Some(c), Some(first), Some(last)) =
        (&s.calibration, s.timeline.first(), s.timeline.last())
    {
        over_time.push(Series {
            name: "generator p99".into(),
            points: vec![(first.t, c.overall.p99_ms), (last.t, c.overall.p99_ms)],
        });
    }
    html.push_str(&line_chart(
        "latency over time",
        "ms",
        XAxis::Seconds,
        &over_time,
        &markers,
    ));
    html.push_str(&line_chart(
        "throughput over time",
        "per second",
        XAxis::Seconds,
        &[
            Series {
                name: "flows started".into(),
                points: timeline(|p| p.started as f64),
            },
            Series {
                name: "requests done".into(),
                points: timeline(|p| p.completed as f64),
            },
            Series {
                name: "errors".into(),
                points: timeline(|p| p.errors as f64),
            },
            Series {
                name: "in flight".into(),
                points: timeline(|p| p.in_flight as f64),
            },
        ],
        &markers,
    ));

    html.push_str("<h2>Latency distribution</h2><p>Latency at each percentile, per endpoint, over the whole run.</p>");
    let mut dist = vec![Series {
        name: "overall".into(),
        points: s.overall.percentiles.iter().map(|p| (p[0], p[1])).collect(),
    }];
    for (name, e) in &s.endpoints {
        dist.push(Series {
            name: name.clone(),
            points: e.percentiles.iter().map(|p| (p[0], p[1])).collect(),
        });
    }
    if let Some(c) = &s.calibration {
        dist.push(Series {
            name: "generator alone".into(),
            points: c.overall.percentiles.iter().map(|p| (p[0], p[1])).collect(),
        });
    }
    html.push_str(&line_chart(
        "percentile distribution",
        "ms",
        XAxis::Nines,
        &dist,
        &[],
    ));

    let _ = write!(html, "<h2>Endpoints</h2><table>{LATENCY_HEAD}");
    html.push_str(&latency_row("overall", &s.overall));
    for (name, e) in &s.endpoints {
        html.push_str(&latency_row(name, e));
    }
    if let Some(c) = &s.calibration {
        html.push_str(&latency_row("generator alone (calibration)", &c.overall));
    }
    html.push_str("</table>");
    html.push_str(&probe_section(s));
    html.push_str(&matches_section(s));

    html.push_str("<h2>Phases</h2><table><tr><th>phase</th><th>start s</th><th>duration s</th><th>arrivals</th><th>scheduled</th><th>started</th><th>dropped</th><th>late</th><th>lateness p99 ms</th></tr>");
    for p in &s.phases {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&p.name),
            p.start_seconds,
            p.duration_seconds,
            escape(&p.arrivals),
            p.starts.scheduled,
            p.starts.started,
            if p.starts.dropped > 0 { "bad" } else { "" },
            p.starts.dropped,
            p.starts.late,
            p.starts.lateness_p99_ms
        );
    }
    html.push_str("</table>");
    for p in &s.phases {
        let _ = write!(
            html,
            "<h3>Phase <code>{}</code></h3><table>{LATENCY_HEAD}",
            escape(&p.name)
        );
        html.push_str(&latency_row("all endpoints", &p.overall));
        for (name, e) in &p.endpoints {
            html.push_str(&latency_row(name, e));
        }
        html.push_str("</table>");
    }

    html.push_str("<h2>Scenarios</h2><table><tr><th>scenario</th><th>flows started</th></tr>");
    for (name, n) in &s.scenarios {
        let _ = write!(html, "<tr><td>{}</td><td>{n}</td></tr>", escape(name));
    }
    html.push_str("</table>");
    if let Some(setup) = &s.setup {
        let _ = write!(
            html,
            "<h2>Set-up</h2><p>Unmeasured <code>POST /vendors</code> before the run: {} sent, {} ok, errors: {}.</p>",
            setup.count,
            setup.ok,
            kinds(setup)
        );
    }
    html.push_str(
        "<h2>Reading this report</h2><p><em>skipped</em> counts steps not sent because an earlier answer had \
         nothing to capture (for example a search that found no vendor). Error kinds: <code>http_NNN</code> \
         (status), <code>timeout</code>, <code>connect</code>, <code>body</code>, <code>invalid_json</code> and \
         <code>unexpected_body</code> (a 2xx answer without the captured field).</p></body></html>\n",
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report_json::tests::sample;

    #[test]
    fn report_is_self_contained() {
        let html = render(&sample());
        let lower = html.to_lowercase();
        assert!(lower.starts_with("<!doctype html>"));
        assert!(!lower.contains("<script"), "no script at all");
        assert!(!lower.contains("<link"), "no external stylesheet");
        assert!(!lower.contains("src=\"http"), "no remote resource");
        assert!(!lower.contains("href=\"http"), "no remote link");
        assert!(!lower.contains("url(http"), "no remote css resource");
        // The only URLs are the SVG namespace (an identifier, never fetched) and the target.
        let urls = lower.matches("http://").count() + lower.matches("https://").count();
        let allowed = lower.matches("http://www.w3.org/2000/svg").count()
            + lower.matches("http://127.0.0.1:3000").count();
        assert_eq!(urls, allowed);
    }

    #[test]
    fn report_has_charts_tables_and_verdict() {
        let html = render(&sample());
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("<polyline"));
        assert!(html.contains("FAIL"));
        assert!(html.contains("get_vendor"));
        assert!(html.contains("http_500 &times;1"));
        assert!(html.contains("generator alone (calibration)"));
        assert!(html.contains("Sequential probe"));
        assert!(html.contains("generator p99"));
        assert!(html.contains("Generator threads: SCHED_FIFO priority 1."));
        assert!(html.contains("CPU per request: generator 61 µs, stub 40 µs."));
    }

    #[test]
    fn text_is_escaped() {
        let html = render(&sample());
        assert!(html.contains("smoke &lt;test&gt;"));
        assert!(!html.contains("smoke <test>"));
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_step(100.0), 20.0);
        assert_eq!(nice_step(7.0), 2.0);
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert!((nines(100.0) - 4.0).abs() < 1e-9);
    }
}
