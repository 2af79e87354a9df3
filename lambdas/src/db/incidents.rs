//! Incidents in PostgreSQL: creation with the claim of the nearest available vendor,
//! idempotency keys, and the matcher that batches the claims of concurrent requests.
//!
//! # One claim, one statement
//!
//! An incident is inserted and its vendor claimed by one statement (a CTE): the nearest
//! available vendor with the capability within the radius is locked with
//! `FOR UPDATE SKIP LOCKED` (a vendor another transaction is claiming is skipped, never
//! waited for), marked busy with the incident, and the incident is inserted already
//! matched. The cache's candidates, when given, are tried first by primary key; when
//! none of them is still free the same statement claims from the whole table (the index
//! is never trusted to say that nobody is there).
//!
//! # Many claims, one transaction
//!
//! Under a burst, one transaction per incident means one commit (one WAL flush) and one
//! round trip per incident. [`IncidentMatcher`] instead takes every request that arrived
//! while its transactions were busy and creates them all in one transaction: the claim
//! statements are pipelined on one connection (one round trip) and run in arrival order,
//! so each sees the vendors the earlier ones made busy and takes the next nearest; no
//! vendor can be claimed twice, by this batch (it sees its own writes) or by another
//! process (row locks).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use aurora::tokio_postgres::Row;
use aurora::tokio_postgres::types::ToSql;
use aurora::{AuroraError, AuroraPool, Transaction};
use tokio::sync::{Semaphore, mpsc, oneshot};
use vendors::Vendor;

use super::geo::{self, GeoPath, Nearby, NearbySql};
use super::vendors::{V_COLUMNS, vendor_from_row_at};
use super::{RFC3339_UTC, haversine_miles, idempotency, miles_to_m};
use crate::model::{IncidentCreated, IncidentView, Location, MatchView, ValidIncident};

const COLUMNS: &str =
    "id, driver_id, incident_type, lat, lon, description, status, matched_vendor_id";

/// Columns of [`COLUMNS`] plus `created_at`: where a joined vendor's columns start.
const INCIDENT_COLUMN_COUNT: usize = 9;

/// The most incidents one batch creates by default (a bound on one transaction's size and
/// on the wait of the first request in it).
pub const MAX_BATCH: usize = 1000;

fn incident_from_row(row: &Row) -> Result<IncidentView, AuroraError> {
    let status: String = row.try_get(6)?;
    Ok(IncidentView {
        incident_id: row.try_get(0)?,
        driver_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        location: Location {
            lat: row.try_get(3)?,
            lon: row.try_get(4)?,
        },
        description: row.try_get(5)?,
        // `pending` in the table is what clients know as `unmatched`.
        status: if status == "pending" {
            "unmatched".to_owned()
        } else {
            status
        },
        vendor_id: row.try_get(7)?,
        created_at: row.try_get(8)?,
    })
}

/// One incident, if `caller` owns it (created it; an incident from before callers were
/// recorded belongs to its driver). Someone else's incident is `None`, as a missing one.
pub async fn get(
    pool: &AuroraPool,
    id: &str,
    caller: &str,
) -> Result<Option<IncidentView>, AuroraError> {
    let sql = format!(
        "SELECT {COLUMNS}, {RFC3339_UTC} FROM incidents \
         WHERE id = $1 AND COALESCE(caller, driver_id) = $2"
    );
    pool.query_opt(&sql, &[&id, &caller])
        .await?
        .as_ref()
        .map(incident_from_row)
        .transpose()
}

/// A client's idempotency key with the hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The `Idempotency-Key` header (scoped to the caller).
    pub key: String,
    /// SHA-256 of the canonical request.
    pub request_hash: String,
}

/// An incident to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    /// Its id (used only when it is new).
    pub id: String,
    /// Who asks (owns the incident; scopes the idempotency key).
    pub caller: String,
    /// What the client asked for.
    pub incident: ValidIncident,
    /// Match radius in miles.
    pub radius_miles: f64,
    /// Vendor ids the geo index found, nearest first; tried before the table.
    pub candidates: Vec<String>,
    /// The client's idempotency key, if it sent one.
    pub idempotency: Option<IdempotencyKey>,
}

/// What creating an incident did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// A new incident, with the vendor claimed for it as now stored (busy, new version).
    New {
        /// The answer.
        body: IncidentCreated,
        /// The claimed vendor's row, for the cache.
        vendor: Option<Vendor>,
    },
    /// The key was used before by this caller with the same request: the first answer.
    Replayed(IncidentCreated),
    /// The key was used before by this caller with another request.
    KeyReused,
}

/// The stored answer of a used idempotency key could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("the incident idempotency record has no readable stored answer")]
pub struct StoredAnswerMissing;

/// The statement that inserts one incident and claims its vendor. Parameters: `$1` id,
/// `$2` driver, `$3` type, `$4`/`$5` lat/lon, `$6` description, `$7` candidate ids, `$8`
/// caller, then the [`Nearby`] parameters from `$9`.
pub(crate) fn claim_sql(path: GeoPath) -> String {
    let NearbySql {
        narrow,
        order,
        distance,
        within,
    } = NearbySql::new(path, 9);
    // COALESCE evaluates its second argument only when the first is NULL: the table is
    // searched (and a row locked there) only when no listed candidate is free.
    //
    // The candidates are read by primary key alone. Their availability is tested as
    // `(...) IS TRUE` (the same for a NOT NULL column) so that the planner cannot prove the
    // partial indexes' predicate from it: without statistics (the minute after a bulk
    // load) the generic plan otherwise ANDs the primary key with a bitmap of the whole
    // partial index of available vendors, every vendor of the fleet read per claim.
    format!(
        "WITH candidate AS (SELECT COALESCE( \
             (SELECT id FROM vendors \
              WHERE id = ANY($7::text[]) AND (availability = 'available') IS TRUE \
                AND $3::text = ANY(capabilities) AND {within} \
              ORDER BY {distance}, id LIMIT 1 FOR UPDATE SKIP LOCKED), \
             (SELECT id FROM (SELECT id, lat, lon FROM vendors \
                              WHERE {narrow} AND availability = 'available' \
                                AND $3::text = ANY(capabilities) \
                              ORDER BY {order} LIMIT 1 FOR UPDATE SKIP LOCKED) AS nearest \
              WHERE {within})) AS id), \
         claim AS (UPDATE vendors v SET availability = 'busy', current_incident_id = $1 \
                   FROM candidate c WHERE v.id = c.id RETURNING {V_COLUMNS}), \
         ins AS (INSERT INTO incidents (id, driver_id, incident_type, lat, lon, description, status, matched_vendor_id, caller) \
                 SELECT $1, $2, $3, $4, $5, $6, CASE WHEN c.id IS NULL THEN 'pending' ELSE 'matched' END, c.id, $8 \
                 FROM (SELECT 1) AS one LEFT JOIN claim c ON true \
                 RETURNING {COLUMNS}, {RFC3339_UTC}) \
         SELECT ins.*, claim.* FROM ins LEFT JOIN claim ON true"
    )
}

/// The answer for a created incident row (with the claimed vendor's columns after it).
fn created_from_row(row: &Row, incident: &ValidIncident) -> Result<Created, AuroraError> {
    let view = incident_from_row(row)?;
    let vendor = match row.try_get::<_, Option<String>>(INCIDENT_COLUMN_COUNT)? {
        Some(_) => Some(vendor_from_row_at(row, INCIDENT_COLUMN_COUNT)?),
        None => None,
    };
    let matched = vendor.as_ref().map(|v| MatchView {
        vendor_id: v.id.clone(),
        business_name: v.business_name.clone(),
        distance_miles: (haversine_miles(incident.location, v.location) * 100.0).round() / 100.0,
    });
    Ok(Created::New {
        body: IncidentCreated {
            incident_id: view.incident_id.clone(),
            incident: view,
            matched,
        },
        vendor,
    })
}

/// Creates one incident (a batch of one); see [`create_batch`].
pub async fn create(pool: &AuroraPool, incident: &NewIncident) -> Result<Created, AuroraError> {
    let mut out = create_batch(pool, std::slice::from_ref(incident)).await?;
    out.pop()
        .ok_or_else(|| AuroraError::application(StoredAnswerMissing))
}

/// Creates `batch` in one transaction, in order, each incident with its own claim; the
/// answers come back in the same order.
///
/// Idempotency keys are claimed first (in key order, so two batches never wait on each
/// other in a cycle): a key already stored answers with its first answer (or
/// [`Created::KeyReused`]); a key being used by a concurrent transaction makes this one
/// wait until that one ends and then read its answer. A key that appears twice in the
/// batch is answered for the first request; the later ones replay it.
pub async fn create_batch(
    pool: &AuroraPool,
    batch: &[NewIncident],
) -> Result<Vec<Created>, AuroraError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let path = geo::path(pool).await?;
    // The transaction may run again (a retry after a deadlock or failover): it owns what
    // it sends.
    let batch: Arc<[NewIncident]> = batch.into();
    pool.transaction(|tx| {
        let batch = batch.clone();
        Box::pin(async move { create_in(tx, path, &batch).await })
    })
    .await
}

async fn create_in(
    tx: &Transaction<'_>,
    path: GeoPath,
    batch: &[NewIncident],
) -> Result<Vec<Created>, AuroraError> {
    // Which requests own a key in this batch, and which repeat an earlier one.
    let mut first_with_key: HashMap<(&str, &str), usize> = HashMap::new();
    // Whether a request creates its own incident (else it replays its key's answer).
    let mut creates = vec![true; batch.len()];
    for (i, request) in batch.iter().enumerate() {
        if let Some(k) = &request.idempotency {
            let scope = (request.caller.as_str(), k.key.as_str());
            match first_with_key.get(&scope) {
                Some(_) => creates[i] = false,
                None => {
                    first_with_key.insert(scope, i);
                }
            }
        }
    }
    // The stored answers: (request hash, answer) per key used before.
    let mut stored: HashMap<(String, String), (String, Option<IncidentCreated>)> = HashMap::new();
    if !first_with_key.is_empty() {
        let mut owners: Vec<usize> = first_with_key.values().copied().collect();
        owners.sort_by_key(|&i| {
            let r = &batch[i];
            (&r.caller, r.idempotency.as_ref().map(|k| &k.key))
        });
        let column = |f: &dyn Fn(&NewIncident, &IdempotencyKey) -> String| -> Vec<String> {
            owners
                .iter()
                .filter_map(|&i| batch[i].idempotency.as_ref().map(|k| f(&batch[i], k)))
                .collect()
        };
        let callers = column(&|r, _| r.caller.clone());
        let drivers = column(&|r, _| r.incident.driver_id.clone());
        let keys = column(&|_, k| k.key.clone());
        let hashes = column(&|_, k| k.request_hash.clone());
        let ids = column(&|r, _| r.id.clone());
        let fresh: Vec<(String, String)> = tx
            .query(
                "INSERT INTO incident_idempotency_keys (caller, driver_id, key, request_hash, incident_id) \
                 SELECT caller, driver_id, key, request_hash, incident_id \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY \
                     AS t(caller, driver_id, key, request_hash, incident_id, n) ORDER BY n \
                 ON CONFLICT (caller, key) DO NOTHING RETURNING caller, key",
                &[&callers, &drivers, &keys, &hashes, &ids],
            )
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, AuroraError>>()?;
        if fresh.len() < owners.len() {
            let rows = tx
                .query(
                    "SELECT k.caller, k.key, k.request_hash, k.response \
                     FROM incident_idempotency_keys k \
                     JOIN unnest($1::text[], $2::text[]) AS t(caller, key) \
                       ON k.caller = t.caller AND k.key = t.key",
                    &[&callers, &keys],
                )
                .await?;
            for row in rows {
                let scope: (String, String) = (row.try_get(0)?, row.try_get(1)?);
                if fresh.contains(&scope) {
                    continue;
                }
                let response: Option<serde_json::Value> = row.try_get(3)?;
                let answer = response.and_then(|r| serde_json::from_value(r).ok());
                stored.insert(scope, (row.try_get(2)?, answer));
            }
        }
        for &i in &owners {
            let r = &batch[i];
            let key = r
                .idempotency
                .as_ref()
                .map(|k| k.key.clone())
                .unwrap_or_default();
            if stored.contains_key(&(r.caller.clone(), key)) {
                creates[i] = false;
            }
        }
    }

    // The claims, pipelined: all sent at once, run by the server in this order.
    let to_create: Vec<usize> = (0..batch.len()).filter(|&i| creates[i]).collect();
    // The claim's plan does not depend on its values (an index-ordered scan from a point,
    // primary-key lookups): planning it once per connection instead of once per incident
    // halves its cost.
    let statement = tx.prepare_cached(&claim_sql(path)).await?;
    // The index's candidates were found before this batch: incidents close to each other
    // share them. Each claim is offered the candidates that no earlier claim of the batch is
    // expected to take (an earlier one takes its first offered candidate when it is still
    // free), so that a later claim does not look up vendors the batch has just made busy.
    // A wrong guess only sends a claim to the table search, which decides anyway.
    let mut expected_taken: HashSet<&str> = HashSet::new();
    let owned: Vec<ClaimParams<'_>> = to_create
        .iter()
        .map(|&i| {
            let offered: Vec<String> = batch[i]
                .candidates
                .iter()
                .filter(|c| !expected_taken.contains(c.as_str()))
                .cloned()
                .collect();
            if let Some(first) = batch[i]
                .candidates
                .iter()
                .find(|c| !expected_taken.contains(c.as_str()))
            {
                expected_taken.insert(first);
            }
            ClaimParams::new(&batch[i], path, offered)
        })
        .collect();
    let params: Vec<Vec<&(dyn ToSql + Sync)>> = owned.iter().map(ClaimParams::refs).collect();
    // The setting goes out in the same round trip as the claims, ahead of them (requests
    // are sent in the order they are first polled): a burst's server is busy, and every
    // round trip of a batch waits for its turn on the runtime.
    let generic = tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan");
    let claims = futures::future::try_join_all(params.iter().map(|p| tx.query_one(&statement, p)));
    let ((), rows) = futures::future::try_join(generic, claims).await?;
    let mut answers: Vec<Option<Created>> = vec![None; batch.len()];
    for (&i, row) in to_create.iter().zip(&rows) {
        answers[i] = Some(created_from_row(row, &batch[i].incident)?);
    }

    // Answers for the keys this batch used first, stored for retries.
    let mut store = (Vec::new(), Vec::new(), Vec::new());
    for &i in &to_create {
        if let (Some(k), Some(Created::New { body, .. })) = (&batch[i].idempotency, &answers[i]) {
            store.0.push(batch[i].caller.clone());
            store.1.push(k.key.clone());
            store
                .2
                .push(serde_json::to_value(body).map_err(AuroraError::application)?);
            stored.insert(
                (batch[i].caller.clone(), k.key.clone()),
                (k.request_hash.clone(), Some(body.clone())),
            );
        }
    }
    if !store.0.is_empty() {
        tx.execute(
            "UPDATE incident_idempotency_keys k SET response = t.response \
             FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS t(caller, key, response) \
             WHERE k.caller = t.caller AND k.key = t.key",
            &[&store.0, &store.1, &store.2],
        )
        .await?;
    }

    // Every other request replays the answer stored under its key, if it sent the same
    // request; `stored` now holds this batch's new answers too.
    for (request, answer) in batch.iter().zip(answers.iter_mut()) {
        let (Some(k), None) = (&request.idempotency, &answer) else {
            continue;
        };
        let scope = (request.caller.clone(), k.key.clone());
        *answer = Some(match stored.get(&scope) {
            Some((hash, _)) if *hash != k.request_hash => Created::KeyReused,
            Some((_, Some(body))) => Created::Replayed(body.clone()),
            _ => return Err(AuroraError::application(StoredAnswerMissing)),
        });
    }
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| AuroraError::application(StoredAnswerMissing)))
        .collect()
}

/// The values one claim statement sends.
struct ClaimParams<'a> {
    request: &'a NewIncident,
    kind: &'static str,
    /// The request's candidates that this claim tries first.
    candidates: Vec<String>,
    nearby: Nearby,
}

impl<'a> ClaimParams<'a> {
    fn new(request: &'a NewIncident, path: GeoPath, candidates: Vec<String>) -> Self {
        let incident = &request.incident;
        Self {
            request,
            kind: incident.kind.as_str(),
            candidates,
            nearby: Nearby::new(path, incident.location, miles_to_m(request.radius_miles)),
        }
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        let i = &self.request.incident;
        let mut refs: Vec<&(dyn ToSql + Sync)> = vec![
            &self.request.id,
            &i.driver_id,
            &self.kind,
            &i.location.lat,
            &i.location.lon,
            &i.description,
            &self.candidates,
            &self.request.caller,
        ];
        refs.extend(self.nearby.params());
        refs
    }
}

type Reply = oneshot::Sender<Result<Created, AuroraError>>;

/// Creates incidents in batches: every request that arrives while a batch runs joins the
/// next one (see the module documentation). Cheap to clone; the worker task starts with
/// the first request (so the matcher can be built outside a runtime).
#[derive(Debug, Clone)]
pub struct IncidentMatcher {
    pool: AuroraPool,
    max_batch: usize,
    queue: Arc<OnceLock<mpsc::UnboundedSender<(NewIncident, Reply)>>>,
}

/// Why [`IncidentMatcher::create`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The database refused or failed.
    #[error(transparent)]
    Database(#[from] AuroraError),
    /// The worker task is gone (the runtime is shutting down).
    #[error("the incident matcher stopped")]
    Stopped,
}

impl IncidentMatcher {
    /// A matcher on `pool` that puts at most `max_batch` incidents (at least 1) in one
    /// transaction.
    pub fn new(pool: AuroraPool, max_batch: usize) -> Self {
        Self {
            pool,
            max_batch: max_batch.max(1),
            queue: Arc::new(OnceLock::new()),
        }
    }

    /// Creates the incident in the next batch and returns its answer. The request is
    /// handed to the worker task: dropping this future does not stop it.
    pub async fn create(&self, incident: NewIncident) -> Result<Created, MatchError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(run(self.pool.clone(), self.max_batch, receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send((incident, reply))
            .map_err(|_| MatchError::Stopped)?;
        answer
            .await
            .map_err(|_| MatchError::Stopped)?
            .map_err(MatchError::from)
    }
}

/// The worker: every request queued when a transaction is free makes the next batch.
///
/// At most [`PARALLEL_PARTS`] transactions run at once, and a new batch starts as soon as
/// one of them ends, not when the whole previous batch has: a slow small batch (the first
/// request of a burst, alone) does not hold up the rest. A large batch is split over
/// [`SPLIT_PARTS`] transactions, each on its own connection (one PostgreSQL backend, one
/// core each). Row locks keep concurrent transactions apart: a vendor one is claiming is
/// skipped by the others.
async fn run(
    pool: AuroraPool,
    max_batch: usize,
    mut queue: mpsc::UnboundedReceiver<(NewIncident, Reply)>,
) {
    let free = Arc::new(Semaphore::new(PARALLEL_PARTS));
    let mut jobs = Vec::new();
    while queue.recv_many(&mut jobs, max_batch).await > 0 {
        let Ok(first) = free.clone().acquire_owned().await else {
            return;
        };
        // A batch worth splitting waits for a second transaction (the small batches that
        // hold the others end soon); what arrives meanwhile joins it.
        let queued = (jobs.len() + queue.len()).min(max_batch);
        let wanted = queued.div_ceil(MIN_PARALLEL_PART).clamp(1, SPLIT_PARTS);
        let mut slots = vec![first];
        while slots.len() < wanted {
            let Ok(slot) = free.clone().acquire_owned().await else {
                return;
            };
            slots.push(slot);
        }
        while jobs.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (batch, replies): (Vec<NewIncident>, Vec<Reply>) = jobs.drain(..).unzip();
        let size = batch.len().div_ceil(slots.len());
        let mut replies = replies.into_iter();
        for (part, slot) in batch.chunks(size).zip(slots) {
            let part = part.to_vec();
            let replies: Vec<Reply> = replies.by_ref().take(part.len()).collect();
            let pool = pool.clone();
            tokio::spawn(async move {
                answer_part(&pool, &part, replies).await;
                drop(slot);
            });
        }
        idempotency::prune_now_and_then(&pool);
    }
}

/// Transactions of the matcher running at once at most.
const PARALLEL_PARTS: usize = 3;
/// Transactions one batch is split into at most (about one per core of the database).
const SPLIT_PARTS: usize = 2;
/// The least incidents worth a transaction of their own.
const MIN_PARALLEL_PART: usize = 64;

/// Creates `part` in one transaction and answers each request.
async fn answer_part(pool: &AuroraPool, part: &[NewIncident], replies: Vec<Reply>) {
    let started = std::time::Instant::now();
    let result = create_batch(pool, part).await;
    tracing::debug!(
        size = part.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        ok = result.is_ok(),
        "incident batch"
    );
    match result {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(error) if part.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(error));
            }
        }
        // One bad request (text PostgreSQL cannot store, say) fails the whole
        // transaction: each request then runs alone and gets its own answer.
        Err(error) => {
            tracing::warn!(error = %error, size = part.len(), "incident batch failed; retrying one by one");
            for (request, reply) in part.iter().zip(replies) {
                let _ = reply.send(create(pool, request).await);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::geo::BoundingBox;
    use cache::GeoPoint;

    /// The claim's generic plan right after a bulk load (no statistics yet): free
    /// candidates are read by primary key, never through a bitmap of the whole partial
    /// index of available vendors.
    #[tokio::test]
    async fn candidates_are_claimed_by_primary_key_without_statistics() {
        let server = testkit::postgres::PostgresServer::start();
        let mut config = aurora::AuroraConfig::from_url(&server.url()).expect("url");
        config.max_size = 2;
        let pool = AuroraPool::connect(config).await.expect("connect");
        pool.migrate().await.expect("migrate");
        pool.execute("ALTER TABLE vendors SET (autovacuum_enabled = off)", &[])
            .await
            .expect("no autovacuum");
        pool.execute(
            "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability) \
             SELECT 'v' || g, 'v' || g, ARRAY['tow'], 34 + (g % 100) * 0.01, \
                    -118 + (g / 100) * 0.01, 'available' \
             FROM generate_series(1, 20000) AS g",
            &[],
        )
        .await
        .expect("bulk load");
        let path = geo::path(&pool).await.expect("path");
        let center = GeoPoint::new(34.0, -118.0);
        let radius_m = miles_to_m(25.0);
        let mut values = vec![center.lat, center.lon, radius_m];
        if path == GeoPath::BoundingBox {
            let b = BoundingBox::around(center, radius_m);
            values.extend([
                b.lat_min, b.lat_max, b.lon[0].0, b.lon[0].1, b.lon[1].0, b.lon[1].1,
            ]);
        }
        let types = [
            "text", "text", "text", "float8", "float8", "text", "text[]", "text",
        ]
        .into_iter()
        .chain(std::iter::repeat_n("float8", values.len()))
        .collect::<Vec<_>>()
        .join(", ");
        let args = values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = claim_sql(path);
        let plan: Vec<String> = pool
            .transaction(move |tx| {
                let (types, args, sql) = (types.clone(), args.clone(), sql.clone());
                Box::pin(async move {
                    tx.batch_execute(&format!(
                        "SET LOCAL plan_cache_mode = force_generic_plan; \
                         PREPARE claim({types}) AS {sql}"
                    ))
                    .await?;
                    let rows = tx
                        .query(
                            &format!(
                                "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE claim('inc-1', 'd', 'tow', \
                                 34.0, -118.0, '', ARRAY['v1', 'v101', 'v2'], 'c', {args})"
                            ),
                            &[],
                        )
                        .await?;
                    tx.batch_execute("DEALLOCATE claim").await?;
                    rows.iter()
                        .map(|r| r.try_get::<_, String>(0).map_err(AuroraError::from))
                        .collect::<Result<Vec<String>, _>>()
                })
            })
            .await
            .expect("explain");
        let plan = plan.join("\n");
        assert!(plan.contains("vendors_pkey"), "{plan}");
        assert!(
            !plan.contains("BitmapAnd") && !plan.contains("Bitmap Index Scan on vendors_available"),
            "the candidates' lookup reads the partial index:\n{plan}"
        );
    }
}
