//! Branding (issue 10 §6): a reseller's credentials template and support line used on create,
//! reset and /show; unknown placeholders and broken HTML refused with the reason; the logo sent
//! with the credentials (as their caption when they fit one); the preview; and a reseller
//! without `can_customize_branding` refused.

use crate::support::{ADMIN, TestApp};

const ALICE: i64 = 4_101;
const BOB: i64 = 4_102;

const TEMPLATE: &str = "/brand template <b>{panel}</b>\nLogin: <code>{username}</code> / <code>{password}</code>\nUntil {expires}, {max_connections} screens\nM3U: {m3u_url}\nHelp: {support}";

/// The password in a templated message: the second `<code>`.
fn password(text: &str) -> String {
    text.split("<code>")
        .nth(2)
        .and_then(|s| s.split("</code>").next())
        .unwrap_or_else(|| panic!("no password in {text:?}"))
        .to_string()
}

async fn branded_reseller(app: &TestApp, name: &str, user: i64) {
    app.reseller(name, user).await;
    app.grant(name, 100).await;
    app.say_expecting(
        ADMIN,
        &format!("/perm {name} can_customize_branding on"),
        "is on",
    )
    .await;
}

async fn audited(app: &TestApp, action: &str) -> i64 {
    app.core
        .scalar_for_tests(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
        ))
        .await
}

fn assert_templated(text: &str, username: &str) {
    let pw = password(text);
    for expected in [
        format!("Login: <code>{username}</code> / <code>{pw}</code>"),
        format!(
            "M3U: http://127.0.0.1:8080/get.php?username={username}&amp;password={pw}&amp;type=m3u_plus&amp;output=ts"
        ),
        "screens".to_string(),
        "Help: Write to @alice_help &amp; wait".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected:?} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_is_used_on_create_reset_and_show() {
    let app = TestApp::spawn().await;
    branded_reseller(&app, "alice", ALICE).await;
    app.say_expecting(ALICE, "/brand Alice TV", "Panel name")
        .await;
    app.say_expecting(
        ALICE,
        "/brand support Write to @alice_help & wait",
        "Support line saved",
    )
    .await;
    app.say_expecting(ALICE, TEMPLATE, "Credentials template saved")
        .await;
    assert_eq!(audited(&app, "reseller.branding").await, 3);

    let card = app.say_expecting(ALICE, "/new 30 john.doe", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await;
    assert!(created.text.contains("created until"), "{}", created.text);
    assert!(created.text.contains("<b>Alice TV</b>"), "{}", created.text);
    assert_templated(&created.text, "john.doe");
    let first = password(&created.text);

    let card = app.say_expecting(ALICE, "/reset john.doe", "Reset").await;
    let reset = app.press(ALICE, &card, "Confirm").await;
    assert_templated(&reset.text, "john.doe");
    let second = password(&reset.text);
    assert_ne!(first, second);

    let shown = app.say_expecting(ALICE, "/show john.doe", "Login").await;
    assert_templated(&shown.text, "john.doe");
    assert_eq!(password(&shown.text), second);

    // Refused templates change nothing, and say why.
    let unknown = app
        .say_expecting(ALICE, "/brand template Hi {user}, your {pass}", "Unknown")
        .await;
    assert!(
        unknown.text.contains("Unknown placeholders {user}, {pass}. Use only: {panel}, {username}, {password}, {expires}, {max_connections}, {m3u_url}, {player_api_url}, {support}."),
        "{}",
        unknown.text
    );
    let broken = app
        .say_expecting(ALICE, "/brand template <b>{username}", "not valid")
        .await;
    assert!(
        broken.text.contains("Nothing was changed"),
        "{}",
        broken.text
    );
    let long = format!("/brand template {}", "{m3u_url}".repeat(60));
    let too_long = app.say_expecting(ALICE, &long, "characters").await;
    assert!(
        too_long.text.contains("Telegram allows 4,096"),
        "{}",
        too_long.text
    );
    assert_eq!(audited(&app, "reseller.branding").await, 3);
    let shown = app.say_expecting(ALICE, "/show john.doe", "Login").await;
    assert_templated(&shown.text, "john.doe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logo_goes_with_the_credentials_and_the_preview() {
    let app = TestApp::spawn().await;
    branded_reseller(&app, "alice", ALICE).await;
    let before = app.tg.sent().len();
    app.tg
        .send_captioned_photo(ALICE, "logo-file", "/brand logo");
    app.tg.wait_for(ALICE, before, "Logo saved").await;
    let stored = app
        .core
        .scalar_for_tests(
            "SELECT COUNT(*) FROM resellers WHERE username = 'alice' AND brand_logo = 'logo-file'",
        )
        .await;
    assert_eq!(stored, 1, "the largest size's file id is kept");

    // Short credentials: one photo, captioned with them.
    app.say_expecting(ALICE, "/brand preview", "Your subscribers get")
        .await;
    let photo = wait_photo(&app, 1).await;
    assert_eq!(photo.0, ALICE);
    assert_eq!(photo.1, "logo-file");
    assert!(photo.2.contains("<code>demo.user</code>"), "{}", photo.2);

    let card = app.say_expecting(ALICE, "/new 30 john.doe", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await;
    assert!(created.text.contains("created until"), "{}", created.text);
    assert!(!created.text.contains("Password"), "{}", created.text);
    let photo = wait_photo(&app, 2).await;
    assert_eq!(photo.1, "logo-file");
    assert!(photo.2.contains("<code>john.doe</code>"), "{}", photo.2);

    // Too long for a caption: the logo, then the text.
    let long = format!(
        "/brand template {{panel}}: {{username}} {{password}}\n{}",
        "Enjoy the show. ".repeat(80)
    );
    app.say_expecting(ALICE, &long, "Credentials template saved")
        .await;
    let before = app.tg.sent().len();
    app.tg.send_text(ALICE, "/show john.doe");
    let text = app.tg.wait_for(ALICE, before, "Enjoy the show").await;
    assert!(text.text.contains("john.doe"), "{}", text.text);
    let photo = wait_photo(&app, 3).await;
    assert_eq!((photo.1.as_str(), photo.2.as_str()), ("logo-file", ""));
}

/// The `n`th photo sent by file id.
async fn wait_photo(app: &TestApp, n: usize) -> (i64, String, String) {
    for _ in 0..200 {
        if let Some(p) = app.tg.photos_by_id().get(n - 1) {
            return p.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("photo {n} never sent: {:?}", app.tg.photos_by_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_without_the_permission_is_refused() {
    let app = TestApp::spawn().await;
    app.reseller("bob", BOB).await;
    for cmd in [
        "/brand template {username}",
        "/brand support call me",
        "/brand preview",
        "/brand Bob TV",
    ] {
        let reply = app.say(BOB, cmd).await;
        assert!(reply.text.contains("not allowed"), "{cmd}: {}", reply.text);
    }
    let before = app.tg.sent().len();
    app.tg.send_captioned_photo(BOB, "bob-logo", "/brand logo");
    let reply = app.tg.wait_for(BOB, before, "").await;
    assert!(reply.text.contains("not allowed"), "{}", reply.text);
    let admin = app.say(ADMIN, "/brand support call me").await;
    assert!(admin.text.contains("/panelname"), "{}", admin.text);
    assert_eq!(audited(&app, "reseller.branding").await, 0);
    assert!(app.tg.photos_by_id().is_empty());
}
