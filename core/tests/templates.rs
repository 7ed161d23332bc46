//! Permission templates straight against `Core`: effective settings are the override else the
//! template's, concurrent changes of different settings all hold, and bad input changes nothing
//! (SQLite, or PostgreSQL with TEST_DATABASE_URL).

use reseller_core::domain::{Limit, Permission, Setting, TelegramId, TemplateName, Username};
use reseller_core::{Actor, Core, CoreError, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn template(s: &str) -> TemplateName {
    TemplateName::parse(s).expect("valid template name")
}

async fn effective(core: &Core, who: &str) -> reseller_core::queries::resellers::Reseller {
    core.reseller(&ADMIN, &name(who))
        .await
        .expect("card")
        .summary
        .reseller
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overrides_and_template_edits_all_hold() {
    let core = testing::core().await;
    core.add_template(&ADMIN, &template("gold"), None, &[])
        .await
        .expect("added");
    core.create_reseller_on(&ADMIN, &name("alice"), None, &template("gold"))
        .await
        .expect("created");
    // Every permission overridden at once by its own admin, while the template is edited.
    let mut tasks = Vec::new();
    for p in Permission::ALL {
        let core = core.clone();
        tasks.push(tokio::spawn(async move {
            core.set_permission(&ADMIN, &name("alice"), p, true)
                .await
                .map(|_| ())
        }));
    }
    let edit = {
        let core = core.clone();
        tokio::spawn(async move {
            let off: Vec<Setting> = Permission::ALL
                .into_iter()
                .map(|p| Setting::Permission(p, false))
                .collect();
            core.edit_template(&ADMIN, &template("gold"), None, &off)
                .await
                .map(|_| ())
        })
    };
    for t in tasks {
        t.await.expect("joins").expect("override set");
    }
    edit.await.expect("joins").expect("template edited");

    let alice = effective(&core, "alice").await;
    for p in Permission::ALL {
        assert!(alice.permissions.allows(p), "{p:?} is overridden on");
    }
    let card = core.reseller(&ADMIN, &name("alice")).await.expect("card");
    for p in Permission::ALL {
        assert!(!card.template.permissions.allows(p), "{p:?} is off in gold");
    }
    assert_eq!(card.overrides.permissions.len(), Permission::ALL.len());
    assert_eq!(
        core.scalar_for_tests(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'reseller.permission'"
        )
        .await,
        Permission::ALL.len() as i64
    );

    // Setting an override to the value it already has changes and audits nothing.
    core.set_permission(&ADMIN, &name("alice"), Permission::CanApiAccess, true)
        .await
        .expect("same value");
    assert_eq!(
        core.scalar_for_tests(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'reseller.permission'"
        )
        .await,
        Permission::ALL.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_the_template_and_bad_input_changes_nothing() {
    let core = testing::core().await;
    core.create_reseller(&ADMIN, &name("bob"), None)
        .await
        .expect("created");
    assert_eq!(effective(&core, "bob").await.max_users, 500);
    core.edit_template(
        &ADMIN,
        &template("basic"),
        None,
        &[Setting::Limit(
            Limit::MaxUsers,
            Limit::MaxUsers.value("7").unwrap(),
        )],
    )
    .await
    .expect("edited");
    assert_eq!(effective(&core, "bob").await.max_users, 7);

    let twice = core
        .edit_template(
            &ADMIN,
            &template("basic"),
            None,
            &[
                Setting::Limit(Limit::MaxUsers, Limit::MaxUsers.value("1").unwrap()),
                Setting::Limit(Limit::MaxUsers, Limit::MaxUsers.value("2").unwrap()),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        twice.to_string().contains("max_users is given twice"),
        "{twice}"
    );
    let unknown = core
        .apply_template(&ADMIN, &name("bob"), &template("nope"), true)
        .await
        .unwrap_err();
    assert!(matches!(
        unknown,
        CoreError::NotFound {
            kind: "template",
            ..
        }
    ));
    let bob = effective(&core, "bob").await;
    assert_eq!((bob.max_users, bob.template.as_str()), (7, "basic"));

    let reseller = core
        .create_reseller(&ADMIN, &name("carol"), None)
        .await
        .expect("created");
    let refused = core
        .edit_template(
            &Actor::Reseller(reseller.id),
            &template("basic"),
            None,
            &[Setting::Permission(Permission::CanApiAccess, true)],
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, CoreError::AdminOnly));
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'template.%'")
            .await,
        1
    );
}
