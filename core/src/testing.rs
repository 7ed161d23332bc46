//! Fresh databases for tests: a new SQLite file by default, or a new PostgreSQL database on the
//! server named by `TEST_DATABASE_URL`, so every test starts empty and tests run in parallel.

use crate::{Core, CredentialCipher, Db, Policy};

/// The URL of a new, empty, not yet migrated database.
pub async fn fresh_database_url() -> String {
    let name = format!(
        "rbt_{}",
        crate::secrets::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 16)
    );
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server)
                .await
                .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL server");
            sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("the TEST_DATABASE_URL role must be allowed to create databases");
            let (base, query) = match server.split_once('?') {
                Some((b, q)) => (b, format!("?{q}")),
                None => (server.as_str(), String::new()),
            };
            let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
            format!("{prefix}/{name}{query}")
        }
        _ => {
            let path = std::env::temp_dir()
                .join("resellerbot-tests")
                .join(format!("{name}.db"));
            format!("sqlite://{}", path.display())
        }
    }
}

/// A migrated [`Core`] on a fresh database, with default policy and a random key.
pub async fn core() -> Core {
    core_with(Policy::default()).await
}

pub async fn core_with(policy: Policy) -> Core {
    let db = Db::connect(&fresh_database_url().await, 10)
        .await
        .expect("test database connects");
    db.migrate().await.expect("migrations apply");
    let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key())
        .expect("fresh key is valid");
    Core::new(db, cipher, policy)
}

impl Core {
    /// Moves a subscriber's expiry, for tests of expired accounts.
    pub async fn set_expiry_for_tests(
        &self,
        username: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) {
        let mut tx = self.db.begin_write().await.expect("begin");
        sqlx::query("UPDATE subscribers SET expires_at = $1 WHERE username = $2")
            .bind(expires_at.timestamp())
            .bind(username)
            .execute(&mut *tx)
            .await
            .expect("update expiry");
        self.publish(&mut tx, &crate::bus::Event::Access(username.into()))
            .await
            .expect("publish");
        tx.commit().await.expect("commit");
        self.access.forget(username);
    }
}

impl Core {
    /// Makes every invite expired, for tests of refused links.
    pub async fn expire_invites_for_tests(&self) {
        self.exec_for_tests("UPDATE invites SET expires_at = 0", None)
            .await;
    }

    /// Changes a balance behind the ledger's back, for tests of `ledger verify`.
    pub async fn corrupt_balance_for_tests(&self, reseller: &str) {
        self.exec_for_tests(
            "UPDATE resellers SET balance = balance + 7 WHERE username = $1",
            Some(reseller),
        )
        .await;
    }

    /// Runs `sql` behind every rule's back, outside a transaction (so SQLite's
    /// `PRAGMA foreign_keys` can be switched): for tests that forge the damage `ledger verify`
    /// must find.
    pub async fn tamper_for_tests(&self, sql: &str) {
        sqlx::raw_sql(sql)
            .execute(self.db.writer())
            .await
            .expect("test statement runs");
    }

    /// Holds a write transaction for `how_long`, as a slow change does: on SQLite every other
    /// writer waits for it.
    pub async fn hold_write_for_tests(&self, how_long: std::time::Duration) {
        let tx = self.db.begin_write().await.expect("write transaction");
        tokio::time::sleep(how_long).await;
        tx.commit().await.expect("commits");
    }

    /// One integer read with `sql`, for tests that check figures against the tables themselves.
    pub async fn scalar_for_tests(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.db.read())
            .await
            .expect("test query runs")
    }

    /// Renames a table, for tests of a database write that fails in the middle of a request.
    pub async fn rename_table_for_tests(&self, from: &str, to: &str) {
        self.tamper_for_tests(&format!("ALTER TABLE {from} RENAME TO {to}"))
            .await;
    }

    async fn exec_for_tests(&self, sql: &'static str, arg: Option<&str>) {
        let mut tx = self.db.begin_write().await.expect("begin");
        let mut q = sqlx::query(sql);
        if let Some(a) = arg {
            q = q.bind(a);
        }
        q.execute(&mut *tx).await.expect("test statement runs");
        tx.commit().await.expect("commit");
    }
}

impl Core {
    /// Inserts `n` admin-owned subscribers `{prefix}{i}`, all with `password`, in one
    /// transaction: for benchmarks that need a realistic table, fast.
    pub async fn bulk_subscribers_for_bench(&self, prefix: &str, n: usize, password: &str) {
        let mut tx = self.db.begin_write().await.expect("begin");
        let now = crate::core::now();
        for i in 0..n {
            let username = format!("{prefix}{i}");
            let token = format!("token-{username}");
            sqlx::query(
                "INSERT INTO subscribers (username, password_enc, token_enc, token_hash, expires_at, max_connections, \
                 created_by_admin, created_at) VALUES ($1, $2, $3, $4, $5, 3, 1, $6)",
            )
            .bind(&username)
            .bind(self.cipher.encrypt(&username, password))
            .bind(self.cipher.encrypt(&username, &token))
            .bind(crate::secrets::sha256_hex(&token))
            .bind(now + 30 * 86_400)
            .bind(now)
            .execute(&mut *tx)
            .await
            .expect("insert subscriber");
        }
        self.publish(&mut tx, &crate::bus::Event::AccessAll)
            .await
            .expect("publish");
        tx.commit().await.expect("commit");
        self.access.clear();
    }
}

/// A [`Core`] on an existing database (already migrated or not), with a given key: for tests
/// that share a database with a separately running `resellerbot`.
pub async fn core_at(url: &str, key: &str, policy: Policy) -> Core {
    let db = Db::connect(url, 5).await.expect("test database connects");
    db.migrate().await.expect("migrations apply");
    Core::new(
        db,
        CredentialCipher::from_base64(key).expect("valid key"),
        policy,
    )
}

impl Core {
    /// Reverses `credits` of a reseller's balance the way a charged-back payment does (a
    /// `refund` row, allowed below zero), for tests of balances in debt.
    pub async fn charge_back_for_tests(&self, reseller: &str, credits: i64) {
        let mut tx = self.db.begin_write().await.expect("begin");
        let id: i64 = sqlx::query_scalar("SELECT id FROM resellers WHERE username = $1")
            .bind(reseller)
            .fetch_one(&mut *tx)
            .await
            .expect("reseller exists");
        crate::ledger::post(
            &mut tx,
            crate::ledger::Posting {
                reseller: crate::domain::ResellerId(id),
                amount: -credits,
                kind: crate::ledger::Kind::Refund,
                actor: "payment:test".into(),
                subscriber: None,
                note: Some("chargeback"),
                key: format!("test-chargeback:{}", crate::domain::OperationId::random()),
            },
            true,
        )
        .await
        .expect("posting runs")
        .expect("an unconditional posting applies");
        tx.commit().await.expect("commit");
    }
}

impl Core {
    /// Inserts `count` resellers `{prefix}{n}` in one statement; returns the first one's id
    /// (the others follow it). For benchmarks at operator scale.
    pub async fn seed_resellers_for_bench(&self, prefix: &str, count: i64) -> i64 {
        let mut tx = self.db.begin_write().await.expect("begin");
        sqlx::query(
            "WITH RECURSIVE seq(n) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < $1) \
             INSERT INTO resellers (username, display_name, balance, created_at) \
             SELECT $2 || CAST(n AS TEXT), 'Shop ' || CAST(n AS TEXT), 0, $3 FROM seq",
        )
        .bind(count)
        .bind(prefix)
        .bind(crate::core::now())
        .execute(&mut *tx)
        .await
        .expect("seed resellers");
        sqlx::query(
            "INSERT INTO reseller_overrides (reseller_id, max_users) \
             SELECT id, 10000000 FROM resellers WHERE username LIKE $1",
        )
        .bind(format!("{prefix}%"))
        .execute(&mut *tx)
        .await
        .expect("seed overrides");
        let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM resellers WHERE username LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_one(&mut *tx)
            .await
            .expect("first id");
        tx.commit().await.expect("commit");
        first
    }

    /// Inserts `count` subscribers `{prefix}{n}`, spread round-robin over the `resellers`
    /// resellers from id `first`, in one statement: expiries spread from 180 days ago to a year
    /// ahead, 3% disabled, 1% watching, creations over the past year. The credentials are not
    /// valid ciphertext: for dashboards and counters, not logins.
    pub async fn seed_subscribers_for_bench(
        &self,
        prefix: &str,
        count: i64,
        first: i64,
        resellers: i64,
    ) {
        let now = crate::core::now();
        let postgres = self.db.backend() == crate::Backend::Postgres;
        let mut tx = self.db.begin_write().await.expect("begin");
        if postgres {
            // Row triggers updating the same few counter rows 100,000 times in one transaction
            // pile up row versions; the counters are recounted in one pass below instead.
            sqlx::query("ALTER TABLE subscribers DISABLE TRIGGER USER")
                .execute(&mut *tx)
                .await
                .expect("triggers off");
        }
        sqlx::query(
            "WITH RECURSIVE seq(n) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < $1) \
             INSERT INTO subscribers (username, password_enc, token_enc, token_hash, expires_at, max_connections, \
             active, reseller_id, active_connections, created_at) \
             SELECT $2 || CAST(n AS TEXT), 'x', 'x', $2 || CAST(n AS TEXT), \
             $3 - 15552000 + ((n * 7919) % 545) * 86400 + (n % 86400), 3, \
             CASE WHEN n % 33 = 0 THEN 0 ELSE 1 END, $4 + (n % $5), CASE WHEN n % 100 = 0 THEN 1 ELSE 0 END, \
             $3 - ((n * 104729) % 365) * 86400 FROM seq",
        )
        .bind(count)
        .bind(prefix)
        .bind(now)
        .bind(first)
        .bind(resellers)
        .execute(&mut *tx)
        .await
        .expect("seed subscribers");
        if postgres {
            let last = first + resellers - 1;
            for sql in [
                "ALTER TABLE subscribers ENABLE TRIGGER USER",
                "UPDATE resellers SET subscriber_count = (SELECT COUNT(*) FROM subscribers s \
                 WHERE s.reseller_id = resellers.id) WHERE id BETWEEN $1 AND $2",
                "DELETE FROM expiry_buckets WHERE owner BETWEEN $1 AND $2",
                "INSERT INTO expiry_buckets (owner, bucket, enabled) SELECT reseller_id, expires_at / 2592000, COUNT(*) \
                 FROM subscribers WHERE active = 1 AND reseller_id BETWEEN $1 AND $2 \
                 GROUP BY reseller_id, expires_at / 2592000",
            ] {
                let q = sqlx::query(sql);
                let q = if sql.contains("$1") {
                    q.bind(first).bind(last)
                } else {
                    q
                };
                q.execute(&mut *tx).await.expect("recount");
            }
        }
        tx.commit().await.expect("commit");
    }
}

impl Core {
    /// Inserts `count` rows of history for the resellers from id `first`: per row `n`, a
    /// 1-credit debit and a `subscriber.extend` audit row spread over the past 120 days, and a
    /// paid 50.00 USD order for every 100th. For the report benchmark: balances are not
    /// chained, so `ledger verify` would object.
    pub async fn seed_activity_for_bench(
        &self,
        prefix: &str,
        count: i64,
        first: i64,
        resellers: i64,
    ) {
        let now = crate::core::now();
        let seq = "WITH RECURSIVE seq(n) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < $1)";
        let mut tx = self.db.begin_write().await.expect("begin");
        for sql in [
            "INSERT INTO credit_transactions (reseller_id, amount, kind, balance_before, balance_after, actor, note, \
             idempotency_key, created_at) SELECT $2 + n % $3, -1, 'debit', 1, 0, 'bench', 'extension', $4 || CAST(n AS TEXT), \
             $5 - n % 10368000 FROM seq",
            "INSERT INTO audit_log (actor, action, reseller_id, target, details, created_at) \
             SELECT 'bench', 'subscriber.extend', $2 + n % $3, $4 || CAST(n AS TEXT), '{}', $5 - n % 10368000 FROM seq",
            "INSERT INTO orders (public_id, reseller_id, credits, amount_minor, currency, provider, status, created_at, paid_at) \
             SELECT $4 || CAST(n AS TEXT), $2 + n % $3, 900, 5000, 'USD', 'bench', 'paid', $5 - n % 10368000, $5 - n % 10368000 \
             FROM seq WHERE n % 100 = 0",
        ] {
            sqlx::query(&format!("{seq} {sql}"))
                .bind(count)
                .bind(first)
                .bind(resellers)
                .bind(prefix)
                .bind(now)
                .execute(&mut *tx)
                .await
                .expect("seed activity");
        }
        tx.commit().await.expect("commit");
    }
}
