//! Payments in PostgreSQL: idempotent creation with line items and an audit row, all in
//! one transaction.

use aurora::{AuroraError, AuroraPool};

use super::RFC3339_UTC;
use crate::model::{LineItem, PaymentInput, PaymentView};

/// The foreign key from a payment to its vendor (schema V1).
pub const VENDOR_FK: &str = "payments_vendor_id_fkey";
/// The foreign key from a payment to its incident (schema V1).
pub const INCIDENT_FK: &str = "payments_incident_id_fkey";

/// What `create` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// A new payment.
    New(PaymentView),
    /// The key was used before with the same body: the first answer.
    Replayed(PaymentView),
    /// The key was used before with another body.
    KeyReused,
    /// The incident does not exist or belongs to someone else (the same answer for both,
    /// so a caller learns nothing of another's incidents).
    UnknownIncident,
}

/// Creates the payment for `caller` unless `caller` used `key` before. The incident must
/// be the caller's own.
///
/// The idempotency row is inserted first: a concurrent request with the same key waits
/// on that row's unique index until this transaction ends, then sees the stored answer.
pub async fn create(
    pool: &AuroraPool,
    caller: &str,
    key: &str,
    request_hash: &str,
    payment_id: &str,
    input: &PaymentInput,
) -> Result<Created, AuroraError> {
    pool.transaction(|tx| {
        let (caller, key, request_hash, payment_id, input) = (
            caller.to_owned(),
            key.to_owned(),
            request_hash.to_owned(),
            payment_id.to_owned(),
            input.clone(),
        );
        Box::pin(async move {
            // The caller pays for an incident of their own. Checked before the key is claimed:
            // a refused request leaves no key behind. The row stays locked against a
            // concurrent delete until the payment's foreign key holds it.
            let owned = tx
                .query_opt(
                    "SELECT 1 FROM incidents WHERE id = $1 AND COALESCE(caller, driver_id) = $2 FOR KEY SHARE",
                    &[&input.incident_id, &caller],
                )
                .await?;
            if owned.is_none() {
                return Ok(Created::UnknownIncident);
            }
            let fresh = tx
                .query_opt(
                    "INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3) \
                     ON CONFLICT (caller, key) DO NOTHING RETURNING key",
                    &[&caller, &key, &request_hash],
                )
                .await?;
            if fresh.is_none() {
                let row = tx
                    .query_one(
                        "SELECT request_hash, response FROM idempotency_keys WHERE caller = $1 AND key = $2",
                        &[&caller, &key],
                    )
                    .await?;
                let stored_hash: String = row.try_get(0)?;
                if stored_hash != request_hash {
                    return Ok(Created::KeyReused);
                }
                let response: Option<serde_json::Value> = row.try_get(1)?;
                let view = response
                    .and_then(|r| serde_json::from_value::<PaymentView>(r).ok())
                    .ok_or_else(|| AuroraError::application(StoredAnswerMissing))?;
                return Ok(Created::Replayed(view));
            }
            tx.execute(
                "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency, caller) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&payment_id, &input.incident_id, &input.vendor_id, &input.amount_cents, &input.currency, &caller],
            )
            .await?;
            let descriptions: Vec<&str> = input.line_items.iter().map(|i| i.description.trim()).collect();
            let amounts: Vec<i64> = input.line_items.iter().map(|i| i.amount_cents).collect();
            tx.execute(
                "INSERT INTO payment_line_items (payment_id, description, amount_cents) \
                 SELECT $1, d, a FROM unnest($2::text[], $3::int8[]) WITH ORDINALITY AS t(d, a, n) ORDER BY n",
                &[&payment_id, &descriptions, &amounts],
            )
            .await?;
            let detail = serde_json::json!({
                "amountCents": input.amount_cents,
                "currency": input.currency,
                "idempotencyKey": key,
                "lineItems": input.line_items.len(),
            });
            tx.execute(
                "INSERT INTO payment_audit_log (payment_id, event, detail) VALUES ($1, 'created', $2)",
                &[&payment_id, &detail],
            )
            .await?;
            let sql = format!("SELECT {RFC3339_UTC} FROM payments WHERE id = $1");
            let created_at: String = tx.query_one(&sql, &[&payment_id]).await?.try_get(0)?;
            let view = PaymentView {
                payment_id: payment_id.clone(),
                incident_id: input.incident_id.clone(),
                vendor_id: input.vendor_id.clone(),
                amount_cents: input.amount_cents,
                currency: input.currency.clone(),
                line_items: input.line_items.clone(),
                created_at,
            };
            let response = serde_json::to_value(&view).map_err(AuroraError::application)?;
            tx.execute(
                "UPDATE idempotency_keys SET payment_id = $3, response = $4 WHERE caller = $1 AND key = $2",
                &[&caller, &key, &payment_id, &response],
            )
            .await?;
            Ok(Created::New(view))
        })
    })
    .await
}

/// The stored answer of a used idempotency key could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("the idempotency record has no stored answer")]
pub struct StoredAnswerMissing;

/// One payment with its line items, if `caller` owns it (created it; a payment from
/// before callers were recorded belongs to its incident's owner). Someone else's payment
/// is `None`, as a missing one.
pub async fn get(
    pool: &AuroraPool,
    id: &str,
    caller: &str,
) -> Result<Option<PaymentView>, AuroraError> {
    let sql = format!(
        "SELECT p.id, p.incident_id, p.vendor_id, p.amount_cents, p.currency, {} \
         FROM payments p JOIN incidents i ON i.id = p.incident_id \
         WHERE p.id = $1 AND COALESCE(p.caller, i.caller, i.driver_id) = $2",
        super::rfc3339_utc!("p.created_at")
    );
    let Some(row) = pool.query_opt(&sql, &[&id, &caller]).await? else {
        return Ok(None);
    };
    let items = pool
        .query(
            "SELECT description, amount_cents FROM payment_line_items WHERE payment_id = $1 ORDER BY id",
            &[&id],
        )
        .await?;
    Ok(Some(PaymentView {
        payment_id: row.try_get(0)?,
        incident_id: row.try_get(1)?,
        vendor_id: row.try_get(2)?,
        amount_cents: row.try_get(3)?,
        currency: row.try_get(4)?,
        created_at: row.try_get(5)?,
        line_items: items
            .iter()
            .map(|r| {
                Ok(LineItem {
                    description: r.try_get(0)?,
                    amount_cents: r.try_get(1)?,
                })
            })
            .collect::<Result<_, AuroraError>>()?,
    }))
}
