//! Channel import and bouquets against `Core` on a fresh database (SQLite, or PostgreSQL with
//! TEST_DATABASE_URL): the batched import keeps ids and drops exactly the unused categories,
//! and a bouquet whose categories vanish stays a restriction.

use reseller_core::bouquets::{Bouquet, StreamRight};
use reseller_core::channels::{BouquetOwner, Narrowed, PlaylistEntry};
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_core::{Actor, Core, testing};
use std::collections::HashMap;

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn entry(name: &str, url: &str, group: &str) -> PlaylistEntry {
    PlaylistEntry {
        name: name.into(),
        url: url.into(),
        logo: String::new(),
        epg_id: String::new(),
        group: group.into(),
    }
}

/// Channel id by name, and category name by id.
async fn snapshot(core: &Core) -> (HashMap<String, i64>, Vec<String>) {
    let channels = core.channels(None).await.expect("channels");
    let categories = core.channel_categories().await.expect("categories");
    (
        channels.into_iter().map(|c| (c.name, c.id)).collect(),
        categories.into_iter().map(|c| c.name).collect(),
    )
}

#[tokio::test]
async fn imports_keep_ids_by_url_and_drop_exactly_the_unused_categories() {
    let core = testing::core().await;
    // More groups and channels than one multi-row insert takes, one group per channel but for
    // a shared "Common" group, and a repeated URL (its first entry counts).
    let mut first: Vec<PlaylistEntry> = (0..1_200)
        .map(|i| {
            entry(
                &format!("ch{i}"),
                &format!("http://o/{i}"),
                &format!("g{i}"),
            )
        })
        .collect();
    first.push(entry("common-a", "http://o/common-a", "Common"));
    first.push(entry("common-b", "http://o/common-b", "Common"));
    first.push(entry("repeat", "http://o/0", "Elsewhere"));
    let done = core.import_channels(&ADMIN, &first).await.expect("import");
    assert_eq!(
        (done.channels, done.categories, done.removed),
        (1_202, 1_201, 0)
    );
    let (ids, categories) = snapshot(&core).await;
    assert_eq!(ids.len(), 1_202);
    assert!(!ids.contains_key("repeat"));
    assert_eq!(categories.len(), 1_201);
    assert_eq!(
        (categories[0].as_str(), categories[1_199].as_str()),
        ("g0", "g1199")
    );
    assert_eq!(categories[1_200], "Common");
    let numbers: Vec<i64> = core
        .channels(None)
        .await
        .unwrap()
        .iter()
        .map(|c| c.num)
        .collect();
    assert_eq!(numbers, (1..=1_202).collect::<Vec<i64>>());

    // Even channels keep their URL (and move to "Common"), odd ones get a new URL; the odd
    // groups, "Common"'s old members and "Elsewhere" go away.
    let second: Vec<PlaylistEntry> = (0..1_200)
        .map(|i| {
            if i % 2 == 0 {
                entry(&format!("ch{i}"), &format!("http://o/{i}"), "Common")
            } else {
                entry(
                    &format!("ch{i}"),
                    &format!("http://new/{i}"),
                    &format!("g{i}"),
                )
            }
        })
        .collect();
    let done = core.import_channels(&ADMIN, &second).await.expect("import");
    assert_eq!((done.channels, done.categories), (1_200, 601));
    assert_eq!(
        done.removed,
        600 + 2,
        "odd channels and both common-* channels"
    );
    assert!(done.narrowed.is_empty());
    let (after, categories) = snapshot(&core).await;
    for i in 0..1_200 {
        let channel = format!("ch{i}");
        assert_eq!(
            after[&channel] == ids[&channel],
            i % 2 == 0,
            "{channel} keeps its id exactly when its URL is unchanged"
        );
    }
    assert_eq!(categories[0], "Common");
    assert_eq!(categories.len(), 601);
    assert!(!categories.iter().any(|c| c == "g0" || c == "Elsewhere"));
    let common = core.channel_categories().await.unwrap()[0].id;
    assert_eq!(core.channels(Some(common)).await.unwrap().len(), 600);
}

#[tokio::test]
async fn a_bouquet_whose_categories_all_vanish_allows_nothing() {
    let core = testing::core().await;
    let playlist = [
        entry("News One", "http://o/news", "News"),
        entry("Sport One", "http://o/sport", "Sports"),
        entry("Film One", "http://o/film", "Films"),
    ];
    core.import_channels(&ADMIN, &playlist).await.unwrap();
    let r = core
        .create_reseller(&ADMIN, &name("alice"), None)
        .await
        .unwrap();
    core.grant(
        &ADMIN,
        &OperationId::random(),
        &name("alice"),
        Days::new(30).unwrap(),
        None,
    )
    .await
    .unwrap();
    let alice = Actor::Reseller(r.id);
    core.create_subscriber(
        &alice,
        &OperationId::random(),
        &name("viewer"),
        Days::new(30).unwrap(),
    )
    .await
    .unwrap();
    let none = core
        .set_reseller_bouquet(&ADMIN, &name("alice"), &Bouquet::parse(" , "))
        .await
        .unwrap_err();
    assert!(
        none.to_string().contains("Name at least one category"),
        "{none}"
    );
    // A category named twice counts once.
    let chosen = core
        .set_reseller_bouquet(
            &ADMIN,
            &name("alice"),
            &Bouquet::parse("Sports, Films, sports"),
        )
        .await
        .unwrap();
    assert_eq!(chosen, 2);
    core.set_subscriber_bouquet(&alice, &name("viewer"), &Bouquet::parse("sports"))
        .await
        .unwrap();
    let password = core
        .credentials(&alice, &name("viewer"))
        .await
        .unwrap()
        .password;

    // Sports and Films leave the playlist.
    let done = core.import_channels(&ADMIN, &playlist[..1]).await.unwrap();
    assert_eq!(
        done.narrowed,
        [
            Narrowed {
                owner: BouquetOwner::Reseller("alice".into()),
                lost: vec!["Films".into(), "Sports".into()],
                left: 0,
            },
            Narrowed {
                owner: BouquetOwner::Subscriber("viewer".into()),
                lost: vec!["Sports".into()],
                left: 0,
            },
        ]
    );
    let access = core
        .authenticate("viewer", &password)
        .await
        .unwrap()
        .expect("right password");
    assert_eq!(access.categories.as_deref(), Some(&[][..]));
    let news = core.channels(None).await.unwrap()[0].id;
    assert_eq!(
        core.stream_right(&access, news).await.unwrap(),
        StreamRight::NotInBouquet
    );
    assert_eq!(
        core.stream_right(&access, news + 1_000).await.unwrap(),
        StreamRight::UnknownStream
    );

    // Choosing again works as before; `all` lifts the restriction.
    core.set_reseller_bouquet(&ADMIN, &name("alice"), &Bouquet::All)
        .await
        .unwrap();
    core.set_subscriber_bouquet(&alice, &name("viewer"), &Bouquet::All)
        .await
        .unwrap();
    let access = core
        .authenticate("viewer", &password)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.categories, None);
    assert_eq!(
        core.stream_right(&access, news).await.unwrap(),
        StreamRight::Allowed
    );
}
