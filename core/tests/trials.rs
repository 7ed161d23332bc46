//! Trials straight against `Core`: the quota holds under concurrency and says when the next
//! trial is possible, lengths are bounded, a priced trial moves credits through the ledger, and
//! extending a trial converts it to a paid subscriber from now (SQLite, or PostgreSQL with
//! TEST_DATABASE_URL).

use reseller_core::domain::{Days, OperationId, TelegramId, TemplateName, Username};
use reseller_core::{Actor, Core, CoreError, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

async fn reseller_on(core: &Core, username: &str, template: &str, credits: i64) -> Actor {
    let r = core
        .create_reseller_on(
            &ADMIN,
            &name(username),
            None,
            &TemplateName::parse(template).unwrap(),
        )
        .await
        .expect("reseller created");
    if credits > 0 {
        core.grant(
            &ADMIN,
            &OperationId::random(),
            &name(username),
            Days::parse(&credits.to_string()).unwrap(),
            Some("seed"),
        )
        .await
        .expect("granted");
    }
    Actor::Reseller(r.id)
}

async fn trial(core: &Core, actor: &Actor, who: &str, hours: Option<i64>) -> Result<(), CoreError> {
    core.create_trial(actor, &OperationId::random(), &name(who), hours)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_trials_never_exceed_the_quota() {
    let core = testing::core().await;
    // Basic's quota is 5 a day since migration 0020.
    let alice = reseller_on(&core, "alice", "basic", 0).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let core = core.clone();
        tasks.push(tokio::spawn(async move {
            trial(&core, &alice, &format!("trial{i}"), None).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.expect("joins") {
            Ok(()) => created += 1,
            Err(CoreError::TrialQuotaReached { used, quota, .. }) => {
                assert_eq!((used, quota), (5, 5));
            }
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM subscribers WHERE is_trial = 1")
            .await,
        5
    );
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM trials").await,
        5
    );
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM credit_transactions WHERE kind = 'debit'")
            .await,
        0,
        "a trial costs nothing by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_quota_the_refusal_says_when_the_next_trial_is_possible() {
    let core = testing::core().await;
    let alice = reseller_on(&core, "alice", "basic", 0).await;
    for i in 0..5 {
        trial(&core, &alice, &format!("trial{i}"), Some(2))
            .await
            .expect("within quota");
    }
    // Deleting a trial does not give its slot back.
    core.tamper_for_tests("DELETE FROM subscribers WHERE username = 'trial4'")
        .await;
    // Spread over the last hours, so that exactly one leaves the window below.
    core.tamper_for_tests("UPDATE trials SET created_at = created_at - 600 * id")
        .await;
    let first = core
        .scalar_for_tests("SELECT MIN(created_at) FROM trials")
        .await;
    let next = chrono::DateTime::from_timestamp((first + 86_400 + 59) / 60 * 60, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    let err = trial(&core, &alice, "trial5", None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "You have used 5 of your 5 trials in the last 24 hours; the next is possible at {next}."
        )
    );
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM subscribers WHERE username = 'trial5'")
            .await,
        0
    );
    // Once the oldest trial is a day old, one more is possible.
    core.tamper_for_tests(&format!(
        "UPDATE trials SET created_at = created_at - 86400 WHERE created_at = {first}"
    ))
    .await;
    trial(&core, &alice, "trial5", None)
        .await
        .expect("a slot freed");
    assert!(matches!(
        trial(&core, &alice, "trial6", None).await,
        Err(CoreError::TrialQuotaReached {
            used: 5,
            quota: 5,
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trial_lengths_are_bounded_and_default_to_the_policy() {
    let core = testing::core().await;
    let alice = reseller_on(&core, "alice", "basic", 0).await;
    for hours in [0, 73, -1] {
        let err = trial(&core, &alice, "trial", Some(hours))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("A trial lasts 1 to 72 hours; you asked for {hours}.")
        );
    }
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM trials").await,
        0
    );
    let done = core
        .create_trial(&alice, &OperationId::random(), &name("trial"), None)
        .await
        .expect("created");
    let expected = chrono::Utc::now().timestamp() + 24 * 3600;
    assert!((done.value.expires_at.timestamp() - expected).abs() < 60);
    assert!(done.value.trial);
    assert_eq!(done.value.charged, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priced_trial_is_debited_and_a_trial_template_reseller_cannot_create_paid_lines() {
    let core = testing::core().await;
    core.tamper_for_tests(
        "UPDATE permission_templates SET trial_cost_credits = 2 WHERE name = 'trial'",
    )
    .await;
    let tina = reseller_on(&core, "tina", "trial", 3).await;
    let done = core
        .create_trial(&tina, &OperationId::random(), &name("trial1"), Some(48))
        .await
        .expect("created");
    assert_eq!((done.value.charged, done.value.balance), (2, Some(1)));
    let err = trial(&core, &tina, "trial2", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::InsufficientCredits {
                needed: 2,
                balance: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = core
        .create_subscriber(
            &tina,
            &OperationId::random(),
            &name("paid"),
            Days::parse("30").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Forbidden(_)), "{err}");
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM subscribers")
            .await,
        1
    );
    let report = core.verify_ledger().await.expect("verify runs");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_a_trial_charges_full_days_from_now_and_clears_it() {
    let core = testing::core().await;
    let alice = reseller_on(&core, "alice", "basic", 40).await;
    trial(&core, &alice, "trial", Some(72))
        .await
        .expect("created");
    let done = core
        .extend(
            &alice,
            &OperationId::random(),
            &name("trial"),
            Days::parse("30").unwrap(),
        )
        .await
        .expect("extended");
    let expected = chrono::Utc::now().timestamp() + 30 * 86_400;
    assert!(
        (done.value.expires_at.timestamp() - expected).abs() < 60,
        "counted from now, not from the trial's end"
    );
    assert_eq!((done.value.charged, done.value.balance), (30, Some(10)));
    assert_eq!(
        core.scalar_for_tests("SELECT is_trial FROM subscribers WHERE username = 'trial'")
            .await,
        0
    );
    // A paid line's early renewal keeps its remaining days again.
    let again = core
        .extend(
            &alice,
            &OperationId::random(),
            &name("trial"),
            Days::parse("5").unwrap(),
        )
        .await
        .expect("extended");
    assert_eq!(
        again.value.expires_at.timestamp(),
        done.value.expires_at.timestamp() + 5 * 86_400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trials_racing_the_same_resellers_paid_creates_all_go_through() {
    let core = testing::core().await;
    let alice = reseller_on(&core, "alice", "basic", 100).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let core = core.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                trial(&core, &alice, &format!("trial{i}"), None).await
            } else {
                core.create_subscriber(
                    &alice,
                    &OperationId::random(),
                    &name(&format!("paid{i}")),
                    Days::parse("10").unwrap(),
                )
                .await
                .map(|_| ())
            }
        }));
    }
    for t in tasks {
        // A deadlock between the trial's row lock and a create's insert would surface here as
        // an internal error.
        t.await
            .expect("joins")
            .expect("every trial and create succeeds");
    }
    assert_eq!(
        core.me(match alice {
            Actor::Reseller(id) => id,
            Actor::Admin(_) => unreachable!(),
        })
        .await
        .expect("reseller")
        .balance,
        50
    );
    assert!(
        core.verify_ledger()
            .await
            .expect("runs")
            .violations
            .is_empty()
    );
}
