//! The unmeasured set-up before a run: vendors created around the metros so that
//! searches and incident matching find someone.

use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::Url;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::exchange::{self, Answer};
use crate::requests::{self, endpoint_url};
use crate::scenario::Endpoint;
use crate::stats::{Bucket, Outcome};
use crate::testdata::Metros;

/// Set-up requests in flight at once: enough to be quick, few enough not to be a
/// load test of their own.
const SETUP_CONCURRENCY: usize = 8;

/// Creates `count` vendors with `POST /vendors`; the bucket says how that went.
pub async fn create_vendors(
    client: &reqwest::Client,
    base: &Url,
    metros: &Metros,
    count: u32,
    seed: u64,
) -> Bucket {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e7u64);
    let mut bucket = Bucket::default();
    let mut tasks = JoinSet::new();
    let record =
        |bucket: &mut Bucket, answer: Answer| bucket.record(answer.latency, &answer.outcome);
    for n in 0..count {
        if tasks.len() >= SETUP_CONCURRENCY
            && let Some(Ok(answer)) = tasks.join_next().await
        {
            record(&mut bucket, answer);
        }
        let Some(url) = endpoint_url(base, &["vendors"]) else {
            bucket.record(None, &Outcome::Error("request".into()));
            continue;
        };
        let at = metros.sample(&mut rng);
        let request = client
            .post(url)
            .json(&requests::vendor_body(n, at, &mut rng));
        tasks.spawn(exchange::send(
            request,
            Endpoint::CreateVendor,
            Instant::now(),
        ));
    }
    while let Some(result) = tasks.join_next().await {
        if let Ok(answer) = result {
            record(&mut bucket, answer);
        }
    }
    bucket
}

/// Opens about `count` keep-alive connections to `base` before the run, so that a
/// burst measures the server answering `count` requests at once rather than `count`
/// TCP handshakes queueing in its accept loop (the generator alone needed about
/// 200 ms to connect 1,000 times on a 2-core machine). `count` `GET /health`
/// requests go out together; each one that finds no idle connection opens one, and
/// every connection stays in the pool afterwards. Any HTTP answer counts (the
/// connection is what is wanted); returns how many requests got one.
pub async fn open_connections(client: &reqwest::Client, base: &Url, count: usize) -> usize {
    let Some(url) = endpoint_url(base, &["health"]) else {
        return 0;
    };
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let request = client.get(url.clone());
        tasks.spawn(async move {
            match request.send().await {
                // Read to the end, or hyper cannot put the connection back in the pool.
                Ok(response) => response.bytes().await.is_ok(),
                Err(_) => false,
            }
        });
    }
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        if matches!(result, Ok(true)) {
            answered += 1;
        }
    }
    answered
}
