//! "Low credits", once per crossing: a flag on the reseller, set in the transaction of the
//! movement that took the balance below their threshold and cleared by the one that brings it
//! back to or above it. One conditional `UPDATE` decides both, on the row the movement has
//! just locked, so two debits racing across the line report it once.

use super::{Kind, to_reseller_as};
use crate::Result;
use crate::db::Tx;

/// Called after every balance change (`ledger::post`) and threshold change. A balance at or
/// above the threshold clears the flag; one below it after a fall (`fell`: a debit, or a new
/// threshold) sets it and queues the alert, unless it was set already. A grant that leaves the
/// balance still below does not alert: credits arriving are not news of running low.
pub(crate) async fn check_low_credit(tx: &mut Tx, reseller_id: i64, fell: bool) -> Result<()> {
    const WANTED: &str = "CASE WHEN balance >= low_credit_threshold THEN 0 \
                          WHEN $2 = 1 THEN 1 ELSE low_credit_notified END";
    let flipped: Option<(i64, i64, i64)> = sqlx::query_as(&format!(
        "UPDATE resellers SET low_credit_notified = {WANTED} \
         WHERE id = $1 AND low_credit_notified <> {WANTED} \
         RETURNING low_credit_notified, balance, low_credit_threshold"
    ))
    .bind(reseller_id)
    .bind(i64::from(fell))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((1, balance, threshold)) = flipped {
        to_reseller_as(
            tx,
            reseller_id,
            Kind::LowCredit,
            &format!(
                "⚠️ Low credits: your balance is {balance}, below your alert level of {threshold}. Top up with /buy. (Change the level with /settings lowcredit <credits>.)"
            ),
            &[],
        )
        .await?;
    }
    Ok(())
}
