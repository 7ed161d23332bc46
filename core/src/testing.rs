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

    /// Renames a table, for tests of a database write that fails in the middle of a request.
    pub async fn rename_table_for_tests(&self, from: &str, to: &str) {
        let mut tx = self.db.begin_write().await.expect("begin");
        sqlx::query(&format!("ALTER TABLE {from} RENAME TO {to}"))
            .execute(&mut *tx)
            .await
            .expect("rename table");
        tx.commit().await.expect("commit");
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
