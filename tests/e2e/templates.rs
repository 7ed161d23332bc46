//! Permission templates: seeded ones listed, a reseller created on one, a template edited
//! under its resellers' overrides, applied with and without `reset`, and permissions toggled
//! by the buttons of a reseller's card (a forged press by a reseller changes nothing).

use crate::support::{ADMIN, TestApp};
use reseller_core::Actor;
use reseller_core::domain::{Permission, TelegramId, Username};
use reseller_core::queries::resellers::ResellerCard;

const ALICE: i64 = 3_001;
const BOB: i64 = 3_002;

async fn card(app: &TestApp, name: &str) -> ResellerCard {
    app.core
        .reseller(
            &Actor::Admin(TelegramId(ADMIN)),
            &Username::parse(name).unwrap(),
        )
        .await
        .expect("reseller card")
}

async fn audited(app: &TestApp, action: &str, target: &str) -> i64 {
    app.core
        .scalar_for_tests(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND target = '{target}'"
        ))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_templates_are_listed_and_a_reseller_is_created_on_one() {
    let app = TestApp::spawn().await;
    let list = app.say_expecting(ADMIN, "/templates", "templates").await;
    for expected in [
        "<b>Basic reseller</b> (<code>basic</code>)",
        "<b>Premium reseller</b> (<code>premium</code>)",
        "<b>Trial reseller</b> (<code>trial</code>)",
        "max_users 10, max_connections_per_user 3, trial_quota 10, subreseller_depth 0",
        "can_bulk_operations, can_api_access, can_customize_branding, can_create_subresellers",
    ] {
        assert!(list.text.contains(expected), "{expected}: {}", list.text);
    }

    let created = app
        .say_expecting(ADMIN, "/newreseller carol Carol's Shop premium", "start=")
        .await;
    assert!(
        created
            .text
            .contains("on the <code>premium</code> template"),
        "{}",
        created.text
    );
    let carol = card(&app, "carol").await;
    let r = &carol.summary.reseller;
    assert_eq!(r.display_name, "Carol's Shop");
    assert_eq!(r.template, "premium");
    for p in [
        Permission::CanDeleteUsers,
        Permission::CanBulkOperations,
        Permission::CanApiAccess,
        Permission::CanCustomizeBranding,
        Permission::CanViewLogs,
        Permission::CanCreateSubresellers,
    ] {
        assert!(r.permissions.allows(p), "{p:?}");
    }
    assert_eq!(r.subreseller_depth, 1);
    assert!(carol.overrides.is_empty());

    // Without a template name the last word is part of the display name, on Basic.
    app.say_expecting(ADMIN, "/newreseller dave Dave Gold", "start=")
        .await;
    let dave = card(&app, "dave").await;
    assert_eq!(dave.summary.reseller.display_name, "Dave Gold");
    assert_eq!(dave.summary.reseller.template, "basic");
    assert!(
        !dave
            .summary
            .reseller
            .permissions
            .allows(Permission::CanDeleteUsers)
    );

    let unknown = app.say(ADMIN, "/template apply gold dave").await;
    assert!(
        unknown.text.contains("There is no template named “gold”."),
        "{}",
        unknown.text
    );
    let refused = app.say(ADMIN, "/template add basic").await;
    assert!(refused.text.contains("already exists"), "{}", refused.text);
    assert_eq!(
        app.core
            .scalar_for_tests("SELECT COUNT(*) FROM permission_templates")
            .await,
        3
    );
    assert_eq!(audited(&app, "reseller.create", "carol").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_template_changes_its_resellers_except_their_overrides() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.reseller("bob", BOB).await;
    app.say_expecting(
        ADMIN,
        "/template add gold Gold reseller max_users=2",
        "added",
    )
    .await;
    for who in ["alice", "bob"] {
        app.say_expecting(ADMIN, &format!("/template apply gold {who}"), "gold")
            .await;
    }
    // Alice's explicit settings: the same as the template's today, but explicit.
    app.say_expecting(ADMIN, "/perm alice can_delete_users off", "override")
        .await;
    app.say_expecting(ADMIN, "/limit alice max_users 2", "max_users")
        .await;

    let edited = app
        .say_expecting(
            ADMIN,
            "/template edit gold can_delete_users=on max_users=40 trial_quota=5",
            "saved",
        )
        .await;
    assert!(edited.text.contains("2 resellers"), "{}", edited.text);

    let bob = card(&app, "bob").await.summary.reseller;
    assert!(bob.permissions.allows(Permission::CanDeleteUsers));
    assert_eq!((bob.max_users, bob.trial_quota), (40, 5));
    let alice = card(&app, "alice").await.summary.reseller;
    assert!(!alice.permissions.allows(Permission::CanDeleteUsers));
    assert_eq!((alice.max_users, alice.trial_quota), (2, 5));

    // The rule holds where it is enforced: bob may delete, alice may not.
    app.grant("alice", 30).await;
    app.grant("bob", 30).await;
    for (user, sub) in [(ALICE, "alicesub"), (BOB, "bobsub")] {
        let c = app
            .say_expecting(user, &format!("/new 30 {sub}"), "Create")
            .await;
        app.press(user, &c, "Confirm").await;
    }
    let refused = app.say(ALICE, "/delete alicesub").await;
    assert!(
        refused.text.contains("not allowed to delete subscribers"),
        "{}",
        refused.text
    );
    let allowed = app.say(BOB, "/delete bobsub").await;
    assert!(allowed.text.contains("Delete"), "{}", allowed.text);

    let twice = app
        .say(ADMIN, "/template edit gold max_users=1 max_users=2")
        .await;
    assert!(
        twice.text.contains("max_users is given twice"),
        "{}",
        twice.text
    );
    assert_eq!(card(&app, "bob").await.summary.reseller.max_users, 40);

    assert_eq!(audited(&app, "template.add", "gold").await, 1);
    assert_eq!(audited(&app, "template.edit", "gold").await, 1);
    assert_eq!(audited(&app, "reseller.template", "bob").await, 1);
    assert_eq!(audited(&app, "reseller.permission", "alice").await, 1);
    assert_eq!(audited(&app, "reseller.limit", "alice").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_a_template_keeps_overrides_unless_reset() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.say_expecting(ADMIN, "/perm alice can_api_access off", "override")
        .await;
    app.say_expecting(ADMIN, "/perm alice can_view_logs on", "override")
        .await;

    let kept = app
        .say_expecting(ADMIN, "/template apply premium alice", "premium")
        .await;
    assert!(kept.text.contains("overrides are kept"), "{}", kept.text);
    let alice = card(&app, "alice").await;
    let r = &alice.summary.reseller;
    assert!(r.permissions.allows(Permission::CanDeleteUsers));
    assert!(!r.permissions.allows(Permission::CanApiAccess));
    assert_eq!(
        alice.overrides.permission(Permission::CanApiAccess),
        Some(false)
    );

    let shown = app
        .say_expecting(ADMIN, "/reseller alice", "Template")
        .await;
    for expected in [
        "Template: <b>Premium reseller</b> (<code>premium</code>)",
        "Overrides: can_view_logs on, can_api_access off",
        "❌ can_api_access — <i>override</i> (template: on)",
        "✅ can_view_logs — <i>override</i> (template: on)",
        "✅ can_delete_users\n",
        "subreseller_depth: 1",
    ] {
        assert!(shown.text.contains(expected), "{expected}: {}", shown.text);
    }

    let reset = app
        .say_expecting(ADMIN, "/template apply premium alice reset", "premium")
        .await;
    assert!(reset.text.contains("no overrides"), "{}", reset.text);
    let alice = card(&app, "alice").await;
    assert!(alice.overrides.is_empty());
    assert!(
        alice
            .summary
            .reseller
            .permissions
            .allows(Permission::CanApiAccess)
    );
    assert_eq!(
        app.core
            .scalar_for_tests(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'reseller.template' \
                 AND target = 'alice' AND details LIKE '%\"reset\":true%' AND details LIKE '%can_api_access%'"
            )
            .await,
        1
    );
    assert_eq!(audited(&app, "reseller.template", "alice").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_buttons_toggle_permissions_and_apply_templates_for_admins_only() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    let shown = app
        .say_expecting(ADMIN, "/reseller alice", "Template")
        .await;
    assert!(shown.text.contains("Overrides: none"), "{}", shown.text);

    let toggled = app.press(ADMIN, &shown, "❌ delete_users").await;
    assert!(toggled.edited, "the card is edited in place");
    assert!(
        toggled
            .text
            .contains("✅ can_delete_users — <i>override</i> (template: off)"),
        "{}",
        toggled.text
    );
    assert!(
        card(&app, "alice")
            .await
            .summary
            .reseller
            .permissions
            .allows(Permission::CanDeleteUsers)
    );

    // Alice forges the admin's button for herself: refused (a reseller sets permissions only
    // of their own sub-resellers), nothing changes.
    let forged = toggled.button("✅ delete_users");
    let before = app.tg.sent().len();
    app.tg.press(ALICE, 1, &forged);
    let refusal = app.tg.wait_for(ALICE, before, "").await;
    assert!(
        refusal
            .text
            .contains("There is no sub-reseller named “alice”."),
        "{}",
        refusal.text
    );
    let forged_template = toggled.button("📋 Apply premium");
    let before = app.tg.sent().len();
    app.tg.press(ALICE, 1, &forged_template);
    let refusal = app.tg.wait_for(ALICE, before, "").await;
    assert!(refusal.text.contains("Only admins"), "{}", refusal.text);
    let alice = card(&app, "alice").await;
    assert!(
        alice
            .summary
            .reseller
            .permissions
            .allows(Permission::CanDeleteUsers)
    );
    assert_eq!(alice.summary.reseller.template, "basic");

    let applied = app.press(ADMIN, &toggled, "📋 Apply trial").await;
    assert!(
        applied.text.contains("Template: <b>Trial reseller</b>"),
        "{}",
        applied.text
    );
    assert!(applied.text.contains("max_users: 10\n"), "{}", applied.text);
    assert!(
        applied.text.contains("❌ can_create_users\n"),
        "{}",
        applied.text
    );
    let reset = app.press(ADMIN, &applied, "♻️ Reset to trial").await;
    assert!(reset.text.contains("Overrides: none"), "{}", reset.text);
    assert!(
        reset.text.contains("❌ can_delete_users\n"),
        "{}",
        reset.text
    );

    assert_eq!(audited(&app, "reseller.permission", "alice").await, 1);
    assert_eq!(audited(&app, "reseller.template", "alice").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templates_trial_cost_and_discount_are_set_by_edit_and_bad_values_change_nothing() {
    let app = TestApp::spawn().await;
    let saved = app
        .say_expecting(
            ADMIN,
            "/template edit trial trial_cost=2 discount=5%",
            "Template",
        )
        .await;
    assert!(
        saved.text.contains("Trial cost: 2 credits; discount: 5%"),
        "{}",
        saved.text
    );
    let bad = app.say(ADMIN, "/template edit trial trial_cost=9").await;
    assert!(
        bad.text
            .contains("trial_cost must be a whole number of credits from 0 to 3; you gave “9”."),
        "{}",
        bad.text
    );
    let bad = app.say(ADMIN, "/template edit trial discount=100%").await;
    assert!(bad.text.contains("you gave “100%”"), "{}", bad.text);
    let list = app
        .say_expecting(ADMIN, "/templates", "Permission templates")
        .await;
    assert!(
        list.text.contains("Trial cost: 2 credits; discount: 5%"),
        "{}",
        list.text
    );
    assert_eq!(audited(&app, "template.edit", "trial").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trials_are_labelled_and_one_override_goes_back_to_the_template() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 40).await;
    let proposal = app
        .say_expecting(ALICE, "/trial demo.user", "Create trial")
        .await;
    app.press(ALICE, &proposal, "Confirm").await;
    let proposal = app
        .say_expecting(ALICE, "/new 30 paid.user", "Create")
        .await;
    app.press(ALICE, &proposal, "Confirm").await;
    let shown = app
        .say_expecting(ALICE, "/user demo.user", "demo.user")
        .await;
    assert!(
        shown.text.contains("<b>demo.user</b> — 🟢 active (trial)"),
        "{}",
        shown.text
    );
    let list = app.say_expecting(ALICE, "/users", "Subscribers").await;
    assert!(
        list.text.contains("<code>demo.user</code> (trial) — until"),
        "{}",
        list.text
    );
    assert!(
        !list.text.contains("paid.user</code> (trial)"),
        "{}",
        list.text
    );

    app.say_expecting(ADMIN, "/perm alice can_view_logs on", "override")
        .await;
    app.say_expecting(ADMIN, "/limit alice max_users 7", "max_users")
        .await;
    let cleared = app
        .say_expecting(ADMIN, "/perm alice can_view_logs default", "template")
        .await;
    assert_eq!(
        cleared.text,
        "✅ can_view_logs for <b>alice</b> follows their template <code>basic</code> again: off."
    );
    let c = card(&app, "alice").await;
    assert_eq!(c.overrides.permission(Permission::CanViewLogs), None);
    assert_eq!(c.overrides.limits.len(), 1, "the limit's override stays");
    assert_eq!(audited(&app, "reseller.permission", "alice").await, 2);
    // Clearing what is not overridden changes nothing and is not audited again.
    app.say_expecting(ADMIN, "/perm alice can_view_logs default", "template")
        .await;
    assert_eq!(audited(&app, "reseller.permission", "alice").await, 2);
    app.say_expecting(ADMIN, "/limit alice max_users default", "again: 500")
        .await;
    assert!(card(&app, "alice").await.overrides.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_is_deleted_only_once_no_reseller_is_on_it() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.reseller("bob", BOB).await;
    app.say_expecting(ADMIN, "/template add gold Gold reseller", "added")
        .await;
    app.say_expecting(ADMIN, "/template apply gold alice", "template")
        .await;
    app.say_expecting(ADMIN, "/template apply gold bob", "template")
        .await;
    let refused = app.say(ADMIN, "/template delete gold").await;
    assert!(
        refused
            .text
            .contains("Template “gold” is used by 2 resellers"),
        "{}",
        refused.text
    );
    app.say_expecting(ADMIN, "/template apply basic alice", "template")
        .await;
    let refused = app.say(ADMIN, "/template delete gold").await;
    assert!(
        refused.text.contains("used by 1 reseller;"),
        "{}",
        refused.text
    );
    app.say_expecting(ADMIN, "/template apply basic bob", "template")
        .await;
    let by_bob = app.say(BOB, "/template delete gold").await;
    assert!(by_bob.text.contains("Only admins"), "{}", by_bob.text);
    let deleted = app.say(ADMIN, "/template delete gold").await;
    assert_eq!(deleted.text, "🗑 Template <code>gold</code> deleted.");
    let list = app
        .say_expecting(ADMIN, "/templates", "Permission templates")
        .await;
    assert!(!list.text.contains("<code>gold</code>"), "{}", list.text);
    assert_eq!(audited(&app, "template.delete", "gold").await, 1);
    let basic = app.say(ADMIN, "/template delete basic").await;
    assert!(basic.text.contains("cannot be deleted"), "{}", basic.text);
}
