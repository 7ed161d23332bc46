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
