//! The `resellerbot` binary's maintenance commands, run as an operator would.

use crate::support::{ADMIN, TestApp};
use std::process::Command;

const ALICE: i64 = 2_001;

fn resellerbot(database_url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_resellerbot"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env(
            "CREDENTIALS_KEY",
            reseller_core::CredentialCipher::generate_key(),
        )
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_verify_passes_on_real_activity_and_reports_tampering() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let card = app
        .say_expecting(ALICE, "/new 30 verify.me", "Create")
        .await;
    app.press(ALICE, &card, "Confirm").await;
    let card = app
        .say_expecting(ADMIN, "/deduct alice 10 test", "Deduct")
        .await;
    app.press(ADMIN, &card, "Confirm").await;

    let (code, out) = resellerbot(app.database_url(), &["ledger", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ledger OK: 1 resellers, 3 transactions"),
        "{out}"
    );

    app.core.corrupt_balance_for_tests("alice").await;
    let (code, out) = resellerbot(app.database_url(), &["ledger", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("reseller 1 (alice): balance 67 is not the sum of its transactions 60"),
        "{out}"
    );
}

#[test]
fn serve_without_a_token_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_resellerbot"))
        .arg("serve")
        .env_remove("BOT_TOKEN")
        .env("DATABASE_URL", "sqlite://target/never-created.db")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BOT_TOKEN is not set"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_running_sqlite_database_and_never_overwrites() {
    let app = TestApp::spawn().await;
    let dest = std::env::temp_dir().join("resellerbot-tests").join(format!(
        "backup-{}.db",
        reseller_core::CredentialCipher::generate_key()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
    ));
    let dest_arg = dest.to_str().expect("a UTF-8 temp path");
    if app.core.db().backend() == reseller_core::Backend::Postgres {
        let (code, out) = resellerbot(app.database_url(), &["backup", dest_arg]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("pg_dump --format=custom"), "{out}");
        assert!(!dest.exists());
        return;
    }
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let card = app
        .say_expecting(ALICE, "/new 30 kept.line", "Create")
        .await;
    app.press(ALICE, &card, "Confirm").await;

    // The bot is still running while the copy is taken.
    let (code, out) = resellerbot(app.database_url(), &["backup", dest_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("backed up the database to"), "{out}");

    let copy = reseller_core::Db::connect(&format!("sqlite://{dest_arg}"), 2)
        .await
        .expect("the backup opens");
    let original = reseller_core::ledger::verify(app.core.db())
        .await
        .expect("verify runs");
    let copied = reseller_core::ledger::verify(&copy)
        .await
        .expect("verify runs on the copy");
    assert!(copied.violations.is_empty(), "{:?}", copied.violations);
    assert_eq!(
        (copied.resellers, copied.transactions),
        (original.resellers, original.transactions)
    );
    assert_eq!(copied.transactions, 2, "the grant and the creation");
    let alice = app
        .core
        .identify(reseller_core::domain::TelegramId(ALICE))
        .await
        .expect("identify")
        .expect("alice");
    let kept = reseller_core::domain::Username::parse("kept.line").expect("valid");
    let live = app.core.subscriber(&alice, &kept).await.expect("live");
    let restored = reseller_core::Core::new(
        copy,
        reseller_core::CredentialCipher::from_base64(app.credentials_key().expect("the test key"))
            .expect("valid key"),
        reseller_core::Policy::default(),
    );
    let saved = restored
        .subscriber(&alice, &kept)
        .await
        .expect("in the copy");
    assert_eq!(
        (saved.expires_at, saved.active, saved.reseller_id),
        (live.expires_at, live.active, live.reseller_id)
    );
    assert_eq!(
        restored
            .credentials(&alice, &kept)
            .await
            .expect("readable with the key kept with it")
            .password,
        app.core
            .credentials(&alice, &kept)
            .await
            .expect("live")
            .password
    );

    let (code, out) = resellerbot(app.database_url(), &["backup", dest_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("already exists; backup never overwrites"),
        "{out}"
    );
    restored.db().close().await;
    let _ = std::fs::remove_file(&dest);
}
