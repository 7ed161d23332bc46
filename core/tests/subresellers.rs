//! Sub-resellers and credit transfers, straight against `Core` on a fresh database (SQLite, or
//! PostgreSQL with TEST_DATABASE_URL): who may create and manage them, transfers both ways
//! under replay and under concurrent spending, suspension of a whole subtree, and permissions
//! that never exceed the parent's.

use futures::future::join_all;
use reseller_core::domain::{
    Days, Limit, OperationId, Permission, TelegramId, TemplateName, Username,
};
use reseller_core::{Actor, Core, CoreError, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn days(n: i64) -> Days {
    Days::new(n).expect("valid days")
}

/// A top-level reseller on the Premium template (sub-resellers one level deep) with `balance`.
async fn premium(core: &Core, username: &str, balance: i64) -> Actor {
    let r = core
        .create_reseller(&ADMIN, &name(username), None)
        .await
        .expect("reseller created");
    core.apply_template(
        &ADMIN,
        &name(username),
        &TemplateName::parse("premium").expect("name"),
        false,
    )
    .await
    .expect("premium");
    if balance > 0 {
        core.grant(
            &ADMIN,
            &OperationId::random(),
            &name(username),
            days(balance),
            None,
        )
        .await
        .expect("granted");
    }
    Actor::Reseller(r.id)
}

/// A sub-reseller of `parent`, created by the parent.
async fn sub(core: &Core, parent: &Actor, username: &str) -> Actor {
    let r = core
        .create_reseller(parent, &name(username), None)
        .await
        .expect("sub-reseller created");
    Actor::Reseller(r.id)
}

async fn balance(core: &Core, actor: &Actor) -> i64 {
    let Actor::Reseller(id) = actor else {
        panic!("not a reseller")
    };
    core.me(*id).await.expect("reseller exists").balance
}

async fn assert_sound(core: &Core) {
    let report = core.verify_ledger().await.expect("verify runs");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn transfers_move_credits_both_ways_once_and_pair_up() {
    let core = testing::core().await;
    let alice = premium(&core, "alice", 100).await;
    let bob = sub(&core, &alice, "bob").await;

    let op = OperationId::random();
    let given = core
        .transfer(&alice, &op, &name("bob"), days(30), false)
        .await
        .expect("transfer");
    assert_eq!(
        (given.value.balance, given.value.subreseller_balance),
        (70, 30)
    );
    // A replay (double tap) gives the stored outcome and moves nothing again.
    let again = core
        .transfer(&alice, &op, &name("bob"), days(30), false)
        .await
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(
        (balance(&core, &alice).await, balance(&core, &bob).await),
        (70, 30)
    );

    let back = core
        .transfer(&alice, &OperationId::random(), &name("bob"), days(10), true)
        .await
        .expect("taken back");
    assert_eq!(
        (back.value.balance, back.value.subreseller_balance),
        (80, 20)
    );

    // Never more than the child has, never more than the parent has; nothing changes.
    let too_much_back = core
        .transfer(&alice, &OperationId::random(), &name("bob"), days(21), true)
        .await;
    assert!(
        matches!(
            too_much_back,
            Err(CoreError::DeductBelowZero {
                amount: 21,
                balance: 20,
                ..
            })
        ),
        "{too_much_back:?}"
    );
    let too_much = core
        .transfer(
            &alice,
            &OperationId::random(),
            &name("bob"),
            days(81),
            false,
        )
        .await;
    assert!(
        matches!(
            too_much,
            Err(CoreError::InsufficientCredits {
                needed: 81,
                balance: 80,
                ..
            })
        ),
        "{too_much:?}"
    );
    assert_eq!(
        (balance(&core, &alice).await, balance(&core, &bob).await),
        (80, 20)
    );

    // Transfers go from a parent to their own sub-reseller only.
    let upward = core
        .transfer(&bob, &OperationId::random(), &name("alice"), days(1), false)
        .await;
    assert!(
        matches!(
            upward,
            Err(CoreError::NotFound {
                kind: "sub-reseller",
                ..
            })
        ),
        "{upward:?}"
    );
    let carol = premium(&core, "carol", 10).await;
    let foreign = core
        .transfer(&carol, &OperationId::random(), &name("bob"), days(1), false)
        .await;
    assert!(
        matches!(
            foreign,
            Err(CoreError::NotFound {
                kind: "sub-reseller",
                ..
            })
        ),
        "{foreign:?}"
    );
    let admin = core
        .transfer(&ADMIN, &OperationId::random(), &name("bob"), days(1), false)
        .await;
    assert!(matches!(admin, Err(CoreError::ResellersOnly)), "{admin:?}");

    // Two transfers, four rows, each pair linked.
    let rows = core
        .scalar_for_tests(
            "SELECT COUNT(*) FROM credit_transactions WHERE kind IN ('transfer_out', 'transfer_in') \
             AND transfer_id IS NOT NULL",
        )
        .await;
    assert_eq!(rows, 4);
    assert_sound(&core).await;

    // Verify catches a transfer whose other half was tampered with.
    core.tamper_for_tests(
        "UPDATE credit_transactions SET transfer_id = NULL WHERE kind = 'transfer_in'",
    )
    .await;
    let report = core.verify_ledger().await.expect("verify runs");
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.contains("0 transfer_in rows, not one of each")),
        "{:?}",
        report.violations
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taking_credits_back_while_the_child_spends_never_goes_below_zero() {
    let core = testing::core().await;
    let alice = premium(&core, "alice", 100).await;
    let bob = sub(&core, &alice, "bob").await;
    core.transfer(
        &alice,
        &OperationId::random(),
        &name("bob"),
        days(100),
        false,
    )
    .await
    .expect("transfer");
    // Bob spends 10 at a time while Alice takes 20 back at a time, all at once: 100 credits
    // cannot cover both, and whichever comes second is refused.
    let spending = (0..8).map(|i| {
        let core = core.clone();
        async move {
            core.create_subscriber(
                &bob,
                &OperationId::random(),
                &name(&format!("line{i}")),
                days(10),
            )
            .await
            .map(|_| 10)
        }
    });
    let taking = (0..4).map(|_| {
        let core = core.clone();
        async move {
            core.transfer(&alice, &OperationId::random(), &name("bob"), days(20), true)
                .await
                .map(|_| 20)
        }
    });
    let (spent, taken) = futures::join!(join_all(spending), join_all(taking));
    for r in spent.iter().chain(taken.iter()) {
        if let Err(e) = r {
            assert!(
                matches!(
                    e,
                    CoreError::InsufficientCredits { .. } | CoreError::DeductBelowZero { .. }
                ),
                "{e:?}"
            );
        }
    }
    let spent: i64 = spent.iter().flatten().sum();
    let taken: i64 = taken.iter().flatten().sum();
    let left = balance(&core, &bob).await;
    assert!(left >= 0, "bob's balance went to {left}");
    assert_eq!(spent + taken + left, 100, "spent {spent}, taken {taken}");
    assert_eq!(balance(&core, &alice).await, taken);
    assert_sound(&core).await;
}

#[tokio::test]
async fn a_suspended_parent_suspends_the_whole_subtree() {
    let core = testing::core().await;
    let alice = premium(&core, "alice", 100).await;
    // Two levels below Alice: Bob may create sub-resellers of his own.
    let depth = |n: &str| Limit::SubresellerDepth.value(n).expect("depth");
    core.set_limit(&ADMIN, &name("alice"), Limit::SubresellerDepth, depth("2"))
        .await
        .expect("depth 2");
    let bob = sub(&core, &alice, "bob").await;
    core.set_permission(
        &alice,
        &name("bob"),
        Permission::CanCreateSubresellers,
        true,
    )
    .await
    .expect("parent passes on a permission it holds");
    // Bob's own depth (Basic: 0) still stops him until the admin raises it.
    let refused = core.create_reseller(&bob, &name("carl"), None).await;
    assert!(
        matches!(refused, Err(CoreError::SubresellerDepth { depth: 0 })),
        "{refused:?}"
    );
    core.set_limit(&ADMIN, &name("bob"), Limit::SubresellerDepth, depth("5"))
        .await
        .expect("depth");
    // Effective depth is min(5, Alice's 2 less one level) = 1.
    let Actor::Reseller(bob_id) = bob else {
        unreachable!()
    };
    assert_eq!(core.me(bob_id).await.expect("me").subreseller_depth, 1);
    let carl = sub(&core, &bob, "carl").await;
    let Actor::Reseller(carl_id) = carl else {
        unreachable!()
    };
    assert_eq!(core.me(carl_id).await.expect("me").subreseller_depth, 0);
    let refused = core.create_reseller(&carl, &name("dora"), None).await;
    assert!(refused.is_err(), "{refused:?}");
    core.transfer(
        &alice,
        &OperationId::random(),
        &name("bob"),
        days(50),
        false,
    )
    .await
    .expect("to bob");
    core.transfer(&bob, &OperationId::random(), &name("carl"), days(20), false)
        .await
        .expect("to carl");

    core.set_reseller_active(&ADMIN, &name("alice"), false)
        .await
        .expect("suspend alice");
    let me = core.me(carl_id).await.expect("me");
    assert!(!me.active && me.own_active, "{me:?}");
    let blocked = core
        .create_subscriber(&carl, &OperationId::random(), &name("line1"), days(5))
        .await;
    assert!(matches!(blocked, Err(CoreError::Suspended)), "{blocked:?}");
    let blocked = core
        .transfer(&bob, &OperationId::random(), &name("carl"), days(1), false)
        .await;
    assert!(matches!(blocked, Err(CoreError::Suspended)), "{blocked:?}");
    let blocked = core.subscribers(&bob, Default::default(), None, 0).await;
    assert!(matches!(blocked, Err(CoreError::Suspended)), "{blocked:?}");

    core.set_reseller_active(&ADMIN, &name("alice"), true)
        .await
        .expect("unsuspend alice");
    core.create_subscriber(&carl, &OperationId::random(), &name("line1"), days(5))
        .await
        .expect("carl acts again");

    // A parent suspends their own child, and only their own.
    core.set_reseller_active(&alice, &name("bob"), false)
        .await
        .expect("alice suspends bob");
    let blocked = core
        .create_subscriber(&carl, &OperationId::random(), &name("line2"), days(5))
        .await;
    assert!(matches!(blocked, Err(CoreError::Suspended)), "{blocked:?}");
    let not_hers = core.set_reseller_active(&alice, &name("carl"), false).await;
    assert!(
        matches!(
            not_hers,
            Err(CoreError::NotFound {
                kind: "sub-reseller",
                ..
            })
        ),
        "{not_hers:?}"
    );
    let upward = core.set_reseller_active(&bob, &name("alice"), false).await;
    assert!(upward.is_err(), "{upward:?}");
    core.set_reseller_active(&alice, &name("bob"), true)
        .await
        .expect("alice unsuspends bob");
    assert_sound(&core).await;
}

#[tokio::test]
async fn a_subresellers_permissions_never_exceed_the_parents() {
    let core = testing::core().await;
    let alice = premium(&core, "alice", 10).await;
    let bob = sub(&core, &alice, "bob").await;
    let Actor::Reseller(bob_id) = bob else {
        unreachable!()
    };

    // On set: Alice (Premium) may pass on deleting; once she lacks it, nobody may give it.
    core.set_permission(&alice, &name("bob"), Permission::CanDeleteUsers, true)
        .await
        .expect("within the parent's");
    assert!(
        core.me(bob_id)
            .await
            .expect("me")
            .permissions
            .allows(Permission::CanDeleteUsers)
    );
    core.set_permission(&ADMIN, &name("alice"), Permission::CanDeleteUsers, false)
        .await
        .expect("admin narrows alice");
    // At use: Bob's own override still says yes, but his parent's no wins.
    assert!(
        !core
            .me(bob_id)
            .await
            .expect("me")
            .permissions
            .allows(Permission::CanDeleteUsers)
    );
    core.transfer(
        &alice,
        &OperationId::random(),
        &name("bob"),
        days(10),
        false,
    )
    .await
    .expect("credits");
    core.create_subscriber(&bob, &OperationId::random(), &name("line1"), days(1))
        .await
        .expect("created");
    let refused = core
        .delete_subscriber(&bob, &OperationId::random(), &name("line1"))
        .await;
    assert!(
        matches!(
            refused,
            Err(CoreError::Forbidden(Permission::CanDeleteUsers))
        ),
        "{refused:?}"
    );
    for actor in [&alice, &ADMIN] {
        let beyond = core
            .set_permission(actor, &name("bob"), Permission::CanDeleteUsers, true)
            .await;
        assert!(
            matches!(
                beyond,
                Err(CoreError::BeyondParent {
                    permission: Permission::CanDeleteUsers,
                    ..
                })
            ),
            "{beyond:?}"
        );
    }
    // Turning a permission off is always allowed; limits stay the admins'.
    core.set_permission(&alice, &name("bob"), Permission::CanViewStatistics, false)
        .await
        .expect("off");
    let limit = core
        .set_limit(
            &alice,
            &name("bob"),
            Limit::MaxUsers,
            Limit::MaxUsers.value("5").expect("v"),
        )
        .await;
    assert!(matches!(limit, Err(CoreError::AdminOnly)), "{limit:?}");

    // Basic resellers may not create sub-resellers at all.
    let plain = core
        .create_reseller(&ADMIN, &name("plain"), None)
        .await
        .expect("created");
    let refused = core
        .create_reseller(&Actor::Reseller(plain.id), &name("kid"), None)
        .await;
    assert!(
        matches!(
            refused,
            Err(CoreError::Forbidden(Permission::CanCreateSubresellers))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn parents_see_their_subtree_and_admins_see_the_whole_tree() {
    let core = testing::core().await;
    let zed = premium(&core, "zed", 0).await;
    let alice = premium(&core, "alice", 0).await;
    sub(&core, &zed, "zara").await;
    let bob = sub(&core, &alice, "bob").await;
    sub(&core, &alice, "abel").await;

    let tree = core.resellers(&ADMIN, 0).await.expect("tree");
    let lines: Vec<(String, i64)> = tree
        .items
        .iter()
        .map(|s| (s.reseller.username.clone(), s.level))
        .collect();
    let expected = [
        ("alice", 0),
        ("abel", 1),
        ("bob", 1),
        ("zed", 0),
        ("zara", 1),
    ];
    assert_eq!(lines, expected.map(|(n, l)| (n.to_string(), l)).to_vec());
    assert_eq!(tree.total, 5);

    let mine = core.subresellers(&alice, 0).await.expect("alice's");
    let names: Vec<&str> = mine
        .items
        .iter()
        .map(|s| s.reseller.username.as_str())
        .collect();
    assert_eq!(names, ["abel", "bob"]);
    assert!(
        core.subresellers(&bob, 0)
            .await
            .expect("bob's")
            .items
            .is_empty()
    );

    // A parent sees their child's card and subscribers; a child never sees the parent's.
    core.reseller(&alice, &name("bob"))
        .await
        .expect("alice sees bob");
    core.subreseller_subscribers(&alice, &name("bob"), 0)
        .await
        .expect("alice sees bob's subscribers");
    for (who, whom) in [(&bob, "alice"), (&alice, "zara"), (&alice, "nobody")] {
        let hidden = core.reseller(who, &name(whom)).await;
        assert!(
            matches!(
                hidden,
                Err(CoreError::NotFound {
                    kind: "sub-reseller",
                    ..
                })
            ),
            "{hidden:?}"
        );
        let hidden = core.subreseller_subscribers(who, &name(whom), 0).await;
        assert!(
            matches!(
                hidden,
                Err(CoreError::NotFound {
                    kind: "sub-reseller",
                    ..
                })
            ),
            "{hidden:?}"
        );
    }
}
