//! Bodies of the payment routes.

use serde::{Deserialize, Serialize};

use super::check_id;
use crate::error::ApiError;

/// One line item of a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineItem {
    /// What it is for.
    pub description: String,
    /// Amount in integer cents (> 0).
    pub amount_cents: i64,
}

/// Body of `POST /payments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentInput {
    /// The incident paid for.
    pub incident_id: String,
    /// The vendor paid.
    pub vendor_id: String,
    /// Total in integer cents (> 0).
    pub amount_cents: i64,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// Items summing to the total.
    pub line_items: Vec<LineItem>,
}

/// Most line items in one payment.
pub const MAX_LINE_ITEMS: usize = 100;

impl PaymentInput {
    /// Checks every field and that the items sum to the total.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_id(&self.incident_id, "incidentId")?;
        check_id(&self.vendor_id, "vendorId")?;
        if self.amount_cents <= 0 {
            return Err(ApiError::invalid(
                "amountCents",
                "must be a positive integer number of cents",
            ));
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ApiError::invalid(
                "currency",
                "must be an ISO 4217 code such as USD",
            ));
        }
        if self.line_items.is_empty() || self.line_items.len() > MAX_LINE_ITEMS {
            return Err(ApiError::invalid(
                "lineItems",
                format!("give 1 to {MAX_LINE_ITEMS} line items"),
            ));
        }
        let mut total: i64 = 0;
        for (i, item) in self.line_items.iter().enumerate() {
            let name = item.description.trim();
            if name.is_empty() || name.chars().count() > 500 {
                return Err(ApiError::invalid(
                    format!("lineItems[{i}].description"),
                    "must be 1 to 500 characters",
                ));
            }
            if item.amount_cents <= 0 {
                return Err(ApiError::invalid(
                    format!("lineItems[{i}].amountCents"),
                    "must be a positive integer number of cents",
                ));
            }
            total = total
                .checked_add(item.amount_cents)
                .ok_or_else(|| ApiError::invalid("lineItems", "the line items overflow"))?;
        }
        if total != self.amount_cents {
            return Err(ApiError::invalid(
                "lineItems",
                format!(
                    "line items sum to {total} cents but amountCents is {}",
                    self.amount_cents
                ),
            ));
        }
        Ok(())
    }
}

/// A payment as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// Payment id.
    pub payment_id: String,
    /// The incident paid for.
    pub incident_id: String,
    /// The vendor paid.
    pub vendor_id: String,
    /// Total in cents.
    pub amount_cents: i64,
    /// Currency.
    pub currency: String,
    /// Items.
    pub line_items: Vec<LineItem>,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
}
