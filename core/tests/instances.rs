//! Several instances on one database (issue 8): what must hold across them holds in the
//! database, whichever instance acts. Each `Core` here has its own pools, as a second
//! `resellerbot serve` would; on SQLite they share one file, on PostgreSQL one database.

use reseller_core::domain::{OperationId, TelegramId, Username};
use reseller_core::ratelimit::ActionBudget;
use reseller_core::{Actor, Core, CoreError, CredentialCipher, Db, KeyClaim, Policy, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

/// A new instance on the database at `url`, with its own pools and the given key.
async fn instance(url: &str, key: &str) -> Core {
    let db = Db::connect(url, 3).await.expect("database connects");
    db.migrate().await.expect("migrations apply");
    Core::new(
        db,
        CredentialCipher::from_base64(key).expect("valid key"),
        Policy::default(),
    )
}

async fn reseller(core: &Core, username: &str) -> reseller_core::domain::ResellerId {
    let name = Username::parse(username).expect("valid username");
    let r = core
        .create_reseller(&ADMIN, &name, None)
        .await
        .expect("reseller created");
    core.grant(
        &ADMIN,
        &OperationId::random(),
        &name,
        reseller_core::domain::Days::new(10).expect("valid"),
        None,
    )
    .await
    .expect("granted");
    r.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_action_budget_holds_across_instances_and_concurrent_callers() {
    let url = testing::fresh_database_url().await;
    let key = CredentialCipher::generate_key();
    let first = instance(&url, &key).await;
    let second = instance(&url, &key).await;
    let alice = reseller(&first, "alice").await;
    let bob = reseller(&first, "bob").await;
    let budget = ActionBudget {
        per_minute: 1.try_into().expect("non-zero"),
        burst: 3.try_into().expect("non-zero"),
    };

    // Twelve actions at once, half through each instance: the burst of 3 holds in all.
    let attempts = (0..12).map(|i| {
        let core = if i % 2 == 0 { &first } else { &second };
        core.spend_action(alice, budget)
    });
    let outcomes = futures::future::join_all(attempts).await;
    let allowed = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(allowed, 3, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        match refused {
            CoreError::TooFast {
                wait_secs,
                per_minute: 1,
                burst: 3,
            } => assert!(
                (1..=60).contains(wait_secs),
                "one token a minute: wait {wait_secs}"
            ),
            other => panic!("expected TooFast, got {other:?}"),
        }
    }
    // Three spent at once at one a minute: the next comes about a minute after the first.
    let Err(refused) = second.spend_action(alice, budget).await else {
        panic!("the budget is spent on the other instance too");
    };
    let text = refused.to_string();
    assert!(
        text.contains("at most 1 a minute, 3 in a row") && text.contains("wait"),
        "{text}"
    );
    match refused {
        CoreError::TooFast { wait_secs, .. } => {
            assert!((55..=60).contains(&wait_secs), "wait {wait_secs}")
        }
        other => panic!("expected TooFast, got {other:?}"),
    }
    // Another reseller's budget is their own.
    second
        .spend_action(bob, budget)
        .await
        .expect("bob has his whole budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_eight_instances_sync_the_admins_at_once() {
    let url = testing::fresh_database_url().await;
    let key = CredentialCipher::generate_key();
    let first = instance(&url, &key).await;
    // An admin configured before, and no longer.
    first
        .sync_admins(&[TelegramId(9)])
        .await
        .expect("first sync");
    let mut instances = vec![first];
    for _ in 1..28 {
        instances.push(instance(&url, &key).await);
    }
    let wanted = [TelegramId(3), TelegramId(1), TelegramId(2), TelegramId(1)];
    let syncs = instances.iter().map(|core| core.sync_admins(&wanted));
    for outcome in futures::future::join_all(syncs).await {
        outcome.expect("every instance records the admins");
    }
    assert_eq!(
        instances[5].admin_ids().await.expect("admins read"),
        vec![1, 2, 3]
    );
    for core in &instances {
        core.db().close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_credentials_key_is_recorded_and_another_is_refused() {
    let url = testing::fresh_database_url().await;
    let key = CredentialCipher::generate_key();
    let first = instance(&url, &key).await;
    let same = instance(&url, &key).await;
    let other = instance(&url, &CredentialCipher::generate_key()).await;

    assert_eq!(
        first.claim_credentials_key().await.unwrap(),
        KeyClaim::First
    );
    assert_eq!(same.claim_credentials_key().await.unwrap(), KeyClaim::Same);
    assert_eq!(
        other.claim_credentials_key().await.unwrap(),
        KeyClaim::Different {
            recorded: first.credentials_fingerprint().to_string()
        }
    );
    assert_ne!(
        first.credentials_fingerprint(),
        other.credentials_fingerprint()
    );
    // The record survives: the first key is still the one, whoever asks next.
    assert_eq!(first.claim_credentials_key().await.unwrap(), KeyClaim::Same);
}
