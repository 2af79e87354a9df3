//! Measures a burst of simultaneous `POST /incidents` against a running server (issue 15:
//! 1,000 at once, p95 under 300 ms, every matched vendor distinct).
//!
//! ```text
//! cargo run --release -p lambdas --bin local -- --seed 5000     # in one shell
//! cargo run --release -p lambdas --example incident_burst -- 127.0.0.1:3000 1000
//! ```
//!
//! Every connection is opened (and its request written but for the last byte) before the
//! burst, so the figures are the server's: connection set-up is not in them. Then all
//! last bytes go out at once, and each latency runs from that instant to the last byte of
//! its answer. Incidents are placed like the seed's vendors (around US metros, weighted by
//! population), with a random type.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer: latency, status, matched vendor.
struct Answer {
    latency: Duration,
    status: u16,
    vendor: Option<String>,
}

/// A `POST /incidents` on behalf of `caller` (the local server takes the authenticated
/// caller from its `x-roadcall-caller` header).
fn request(host: &str, caller: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /incidents HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         {}: {caller}\r\nContent-Length: {}\r\n\r\n{body}",
        lambdas::identity::LOCAL_CALLER_HEADER,
        body.len()
    )
    .into_bytes()
}

/// Reads one HTTP/1.1 response with a `Content-Length` body: (status, body).
async fn read_response(stream: &mut TcpStream) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).context("header bytes")?;
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .context("status line")?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .context("content-length")?;
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("connection closed in the body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((status, buf[end + 4..end + 4 + length].to_vec()));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed before the answer");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let count: usize = args
        .next()
        .map_or(Ok(1000), |c| c.parse())
        .context("count")?;
    let seed: u64 = args.next().map_or(Ok(1), |c| c.parse()).context("seed")?;
    let metros = lambdas::seed::metros();
    let total: u64 = metros.iter().map(|m| m.population).sum();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut streams = Vec::with_capacity(count);
    for i in 0..count {
        let metro = lambdas::seed::pick_metro(&mut rng, &metros, total);
        let at = lambdas::seed::scatter(&mut rng, metro.center, 20.0);
        let kind = vendors::Capability::ALL[rng.random_range(0..vendors::Capability::ALL.len())];
        let driver = format!("burst-{seed}-{i}");
        let body = serde_json::json!({
            "driverId": driver,
            "type": kind.as_str(),
            "location": {"lat": at.lat, "lon": at.lon},
        })
        .to_string();
        let mut stream = TcpStream::connect(&addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let bytes = request(&addr, &driver, &body);
        let (head, last) = bytes.split_at(bytes.len() - 1);
        stream.write_all(head).await?;
        streams.push((stream, last.to_vec()));
    }
    let start = Arc::new(tokio::sync::Barrier::new(count + 1));
    let mut tasks = Vec::with_capacity(count);
    for (mut stream, last) in streams {
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let sent = Instant::now();
            stream.write_all(&last).await?;
            let (status, body) = read_response(&mut stream).await?;
            let latency = sent.elapsed();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let vendor = json["match"]["vendorId"].as_str().map(str::to_owned);
            anyhow::Ok(Answer {
                latency,
                status,
                vendor,
            })
        }));
    }
    let began = Instant::now();
    start.wait().await;
    let mut answers = Vec::with_capacity(count);
    let mut failed = 0;
    for task in tasks {
        match task.await? {
            Ok(answer) => answers.push(answer),
            Err(e) => {
                failed += 1;
                eprintln!("request failed: {e:#}");
            }
        }
    }
    let elapsed = began.elapsed();
    let errors = failed + answers.iter().filter(|a| a.status != 201).count();
    let vendors: Vec<&String> = answers.iter().filter_map(|a| a.vendor.as_ref()).collect();
    let distinct: BTreeSet<&String> = vendors.iter().copied().collect();
    let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    if latencies.is_empty() {
        bail!("no answers");
    }
    println!(
        "requests {count} | errors {errors} | matched {} (distinct vendors {}) | {:.0} /s | \
         p50 {:.1} ms | p95 {:.1} ms | p99 {:.1} ms | max {:.1} ms",
        vendors.len(),
        distinct.len(),
        count as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
    );
    if distinct.len() != vendors.len() {
        bail!("a vendor was matched twice");
    }
    Ok(())
}
