//! Reports straight against `Core`: revenue counts only orders still paid, per currency and
//! per reseller, in the month they were paid; resellers are ranked by credits bought; a
//! reseller sees only their own figures (SQLite, or PostgreSQL with TEST_DATABASE_URL).

use reseller_core::domain::{ResellerId, TelegramId};
use reseller_core::reports::{Money, Month};
use reseller_core::{Actor, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn money(currency: &str, minor: i64) -> Money {
    Money {
        currency: currency.into(),
        minor,
    }
}

#[tokio::test]
async fn revenue_is_paid_orders_per_currency_and_resellers_rank_by_credits_bought() {
    let core = testing::core().await;
    let first = core.seed_resellers_for_bench("shop", 2).await;
    let (one, two) = (first, first + 1);
    let now = chrono::Utc::now().timestamp();
    let last_month = Month::current().previous().start() + 86_400;
    let mut n = 0;
    for (reseller, amount, currency, status, paid_at) in [
        (one, 5_000, "USD", "paid", now),
        (one, 2_000, "EUR", "paid", now),
        (two, 9_000, "USD", "paid", now),
        (two, 7_000, "USD", "refunded", now),
        (one, 1_000, "USD", "paid", last_month),
    ] {
        n += 1;
        core.tamper_for_tests(&format!(
            "INSERT INTO orders (public_id, reseller_id, credits, amount_minor, currency, provider, status, created_at, paid_at) \
             VALUES ('o{n}', {reseller}, 100, {amount}, '{currency}', 'manual', '{status}', {paid_at}, {paid_at})"
        ))
        .await;
    }
    for (reseller, credits) in [(one, 300), (two, 900)] {
        core.tamper_for_tests(&format!(
            "INSERT INTO credit_transactions (reseller_id, amount, kind, balance_before, balance_after, actor, idempotency_key, created_at) \
             VALUES ({reseller}, {credits}, 'purchase', 0, {credits}, 'test', 'k{reseller}', {now})"
        ))
        .await;
        core.tamper_for_tests(&format!(
            "UPDATE resellers SET balance = {credits} WHERE id = {reseller}"
        ))
        .await;
    }

    let report = core.month_report(&ADMIN, Month::current()).await.unwrap();
    assert_eq!(report.revenue, [money("EUR", 2_000), money("USD", 14_000)]);
    assert_eq!(report.totals.bought, 1_200);
    assert_eq!(report.totals.left, 1_200);
    assert_eq!(report.previous.bought, 0);
    let ranked: Vec<&str> = report.ranking.iter().map(|l| l.username.as_str()).collect();
    assert_eq!(ranked, ["shop2", "shop1"]);
    assert_eq!(
        report.ranking[1].revenue,
        [money("EUR", 2_000), money("USD", 5_000)]
    );
    let kpis = report.kpis.expect("admins get KPIs");
    assert_eq!(kpis.purchase_volume, 1_200);
    assert_eq!(kpis.resellers, 2);
    assert_eq!(kpis.active_resellers, 0, "nobody created or extended");
    assert_eq!(kpis.sync_success, None, "no panel, no jobs");

    let series = core.revenue_series(&ADMIN).await.unwrap();
    let usd = &series
        .lines
        .iter()
        .find(|(c, _)| c == "USD")
        .expect("a USD line")
        .1;
    assert_eq!(usd.len(), 12);
    assert_eq!(usd[11].value, 140.0, "this month, in dollars");
    assert_eq!(usd[10].value, 10.0, "last month");

    let own = core
        .month_report(&Actor::Reseller(ResellerId(one)), Month::current())
        .await
        .unwrap();
    assert_eq!(own.totals.bought, 300);
    assert_eq!(own.revenue, [money("EUR", 2_000), money("USD", 5_000)]);
    assert!(own.ranking.is_empty() && own.kpis.is_none());
}
