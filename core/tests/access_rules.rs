//! Who may see what, straight against `Core`: permissions that hide figures, the dashboard's
//! audience, and linking races (SQLite, or PostgreSQL with TEST_DATABASE_URL).

use reseller_core::domain::{Days, OperationId, Permission, TelegramId, Username};
use reseller_core::ops::Command;
use reseller_core::{Actor, Core, CoreError, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

/// A reseller with `balance` credits, and the invite code made with it.
async fn reseller(core: &Core, username: &str, balance: i64) -> (Actor, String) {
    let r = core
        .create_reseller(&ADMIN, &name(username), None)
        .await
        .expect("reseller created");
    if balance > 0 {
        core.grant(
            &ADMIN,
            &OperationId::random(),
            &name(username),
            Days::new(balance).expect("valid days"),
            None,
        )
        .await
        .expect("granted");
    }
    (Actor::Reseller(r.id), r.invite.code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_account_redeeming_two_invites_at_once_is_linked_once() {
    let core = testing::core().await;
    for round in 0..20 {
        let (_, first) = reseller(&core, &format!("first{round}"), 0).await;
        let (_, second) = reseller(&core, &format!("second{round}"), 0).await;
        let phone = TelegramId(50_000 + round);
        let (a, b) = tokio::join!(
            core.redeem_invite(phone, &first),
            core.redeem_invite(phone, &second)
        );
        let (linked, refused) = match (a, b) {
            (Ok(r), Err(e)) | (Err(e), Ok(r)) => (r, e),
            other => panic!("round {round}: expected one link and one refusal, got {other:?}"),
        };
        match refused {
            CoreError::AlreadyLinked(to) => assert_eq!(to, linked.username, "round {round}"),
            e => panic!("round {round}: expected AlreadyLinked, got {e:?}"),
        }
        assert_eq!(
            core.identify(phone).await.expect("identify runs"),
            Some(Actor::Reseller(linked.id))
        );
    }
}

#[tokio::test]
async fn an_admin_asking_for_the_reseller_dashboard_is_told_it_is_for_resellers() {
    let core = testing::core().await;
    assert!(matches!(
        core.reseller_stats(&ADMIN).await,
        Err(CoreError::ResellersOnly)
    ));
}

#[tokio::test]
async fn without_view_connections_no_connection_figure_leaves_core() {
    let core = testing::core().await;
    let (alice, _) = reseller(&core, "alice", 30).await;
    core.create_subscriber(
        &alice,
        &OperationId::random(),
        &name("john"),
        Days::new(30).expect("valid days"),
    )
    .await
    .expect("created");
    let john = core.subscriber(&alice, &name("john")).await.expect("seen");
    assert_eq!(john.active_connections, Some(0));
    let stats = core.reseller_stats(&alice).await.expect("dashboard");
    assert_eq!(stats.counts.connections, Some(0));

    core.set_permission(
        &ADMIN,
        &name("alice"),
        Permission::CanViewConnections,
        false,
    )
    .await
    .expect("permission set");
    let john = core.subscriber(&alice, &name("john")).await.expect("seen");
    assert_eq!(john.active_connections, None);
    let page = core
        .subscribers(&alice, Default::default(), None, 0)
        .await
        .expect("listed");
    assert!(page.items.iter().all(|s| s.active_connections.is_none()));
    let stats = core.reseller_stats(&alice).await.expect("dashboard");
    assert_eq!(stats.counts.connections, None);
    // Admins see every figure.
    let john = core.subscriber(&ADMIN, &name("john")).await.expect("seen");
    assert_eq!(john.active_connections, Some(0));
}

#[tokio::test]
async fn a_creator_without_view_users_gets_the_credentials_only_through_their_operation() {
    let core = testing::core().await;
    let (alice, _) = reseller(&core, "alice", 30).await;
    let (bob, _) = reseller(&core, "bob", 0).await;
    core.set_permission(&ADMIN, &name("alice"), Permission::CanViewUsers, false)
        .await
        .expect("permission set");
    let create = Command::CreateSubscriber {
        username: name("john"),
        days: Days::new(30).expect("valid days"),
    };
    let (op, _) = core.propose(&alice, create).await.expect("proposed");
    assert!(
        core.issued_credentials(&alice, &op)
            .await
            .expect("runs")
            .is_none(),
        "nothing is issued before the confirmation"
    );
    core.confirm(&alice, &op).await.expect("confirmed");
    let issued = core
        .issued_credentials(&alice, &op)
        .await
        .expect("readable")
        .expect("a creation issues credentials");
    assert_eq!(issued.username, "john");
    assert!(!issued.password.is_empty());
    assert!(matches!(
        core.credentials(&alice, &name("john")).await,
        Err(CoreError::Forbidden(Permission::CanViewUsers))
    ));
    assert!(
        core.issued_credentials(&bob, &op)
            .await
            .expect("runs")
            .is_none(),
        "another actor gets nothing through Alice's operation id"
    );
}
