//! Rebuilding the index from the database: once per fleet (a lease in Redis), in pages
//! under the rebuild's own deadline, into a fresh generation that live writes reach too,
//! verified before it goes live.

use std::time::{Duration, Instant};

use cache::{CacheConfig, CacheError, RedisClient};
use futures::{StreamExt, TryStreamExt};
use redis::Value;

use crate::index::GeoIndex;
use crate::scripts::scripts;
use crate::store::VendorStore;

/// What a finished rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// The generation now live.
    pub generation: String,
    /// Vendors read from the database.
    pub vendors: u64,
    /// Time from the lease to going live.
    pub took: Duration,
}

/// Why a rebuild did not finish.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Another environment holds the lease and is rebuilding.
    #[error("another environment is rebuilding the vendor index")]
    Busy,
    /// The database could not be read.
    #[error("reading vendors: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Redis failed.
    #[error("writing the vendor index: {0}")]
    Cache(#[from] CacheError),
    /// The written generation does not hold what was read (Redis lost part of it).
    #[error("the rebuilt index holds {indexed} vendors ({placed} placed) of {loaded} read")]
    Incomplete {
        /// Vendors read from the database.
        loaded: u64,
        /// Vendors in the generation's state hash.
        indexed: i64,
        /// Vendors in its geo sets and polar set.
        placed: i64,
    },
    /// The lease expired before the rebuild finished (`build_lease` too short).
    #[error("the rebuild outlived its lease")]
    LeaseLost,
}

/// A client for the rebuild's own calls: same Redis, the rebuild's timeout.
async fn bulk_client(config: &CacheConfig, timeout: Duration) -> Result<RedisClient, CacheError> {
    let mut config = config.clone();
    config.command_timeout = timeout;
    RedisClient::connect(&config).await
}

/// Rebuilds `index` from `store` unless another environment is doing it.
pub async fn rebuild<S: VendorStore>(
    index: &GeoIndex,
    store: &S,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let config = index.config().clone();
    let client = bulk_client(index.cache().config(), config.build_command_timeout).await?;
    let token = format!("{:032x}", rand::random::<u128>());
    let mut begin = scripts().begin_build.script.key(index.meta_key());
    begin
        .arg(index.tag())
        .arg(&token)
        .arg(cache::ttl_millis(config.build_lease));
    let reply: Value = client.invoke(&begin).await?;
    let Value::Array(parts) = reply else {
        return Err(CacheError::Command("begin_build reply".into()).into());
    };
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        _ => String::new(),
    };
    if parts.first().map(text).as_deref() != Some("1") {
        return Err(BuildError::Busy);
    }
    let generation = parts.get(1).map(text).unwrap_or_default();
    let abandoned = parts.get(2).map(text).unwrap_or_default();
    if !abandoned.is_empty() {
        let _ = unlink(&client, index.generation_keys(&abandoned)).await;
    }
    match fill(index, store, &client, &generation).await {
        Ok(loaded) => finish(index, &client, &token, &generation, loaded, started).await,
        Err(e) => {
            let mut abort = scripts().abort_build.script.key(index.meta_key());
            abort.arg(index.tag()).arg(&token).arg(&generation);
            let _ = client.invoke::<i64>(&abort).await;
            let _ = unlink(&client, index.generation_keys(&generation)).await;
            Err(e)
        }
    }
}

/// Reads the table page by page and writes it in chunks, a few script calls in flight.
async fn fill<S: VendorStore>(
    index: &GeoIndex,
    store: &S,
    client: &RedisClient,
    generation: &str,
) -> Result<u64, BuildError> {
    let config = index.config();
    let mut after: Option<String> = None;
    let mut loaded = 0u64;
    loop {
        let page = store
            .page(after.clone(), config.build_page.max(1))
            .await
            .map_err(|e| BuildError::Store(Box::new(e)))?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id.clone());
        loaded += page.len() as u64;
        let full = page.len() >= config.build_page.max(1);
        // Owned chunks: a stream over borrowed slices makes this future not `Send` for
        // every lifetime (a rustc limitation), and rebuilds run in spawned tasks.
        let chunks: Vec<Vec<crate::model::Vendor>> = page
            .chunks(config.build_chunk.max(1))
            .map(<[_]>::to_vec)
            .collect();
        futures::stream::iter(chunks)
            .map(|chunk| async move { index.apply_with(client, generation, &chunk).await })
            .buffer_unordered(config.build_parallelism.max(1))
            .try_for_each(|_| async { Ok(()) })
            .await?;
        if !full {
            break;
        }
    }
    Ok(loaded)
}

async fn finish(
    index: &GeoIndex,
    client: &RedisClient,
    token: &str,
    generation: &str,
    loaded: u64,
    started: Instant,
) -> Result<BuildReport, BuildError> {
    let took = started.elapsed();
    let mut finish = scripts().finish_build.script.key(index.meta_key());
    finish
        .arg(index.tag())
        .arg(token)
        .arg(generation)
        .arg(loaded)
        .arg(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
    let reply: Vec<Value> = client.invoke(&finish).await?;
    let int = |v: Option<&Value>| match v {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    match int(reply.first()) {
        1 => {
            if let Some(Value::BulkString(prev)) = reply.get(1)
                && !prev.is_empty()
            {
                let prev = String::from_utf8_lossy(prev).into_owned();
                let _ = unlink(client, index.generation_keys(&prev)).await;
            }
            Ok(BuildReport {
                generation: generation.to_owned(),
                vendors: loaded,
                took,
            })
        }
        0 => {
            let mut abort = scripts().abort_build.script.key(index.meta_key());
            abort.arg(index.tag()).arg(token).arg(generation);
            let _ = client.invoke::<i64>(&abort).await;
            let _ = unlink(client, index.generation_keys(generation)).await;
            Err(BuildError::Incomplete {
                loaded,
                indexed: int(reply.get(1)),
                placed: int(reply.get(2)),
            })
        }
        _ => {
            let _ = unlink(client, index.generation_keys(generation)).await;
            Err(BuildError::LeaseLost)
        }
    }
}

/// Deletes a generation's keys without blocking Redis (`UNLINK`, one slot).
async fn unlink(client: &RedisClient, keys: Vec<String>) -> Result<(), CacheError> {
    let mut cmd = redis::cmd("UNLINK");
    for k in keys {
        cmd.arg(k);
    }
    client.query::<()>(&cmd).await
}
