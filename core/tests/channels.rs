//! Channel import and bouquets against `Core` on a fresh database (SQLite, or PostgreSQL with
//! TEST_DATABASE_URL): the batched import keeps ids and drops exactly the unused categories,
//! and a bouquet whose categories vanish stays a restriction.

use reseller_core::bouquets::{Bouquet, StreamRight};
use reseller_core::catalogue::Stream;
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
        core.stream_right(&access, Stream::Live(news))
            .await
            .unwrap(),
        StreamRight::NotInBouquet
    );
    assert_eq!(
        core.stream_right(&access, Stream::Live(news + 1_000))
            .await
            .unwrap(),
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
        core.stream_right(&access, Stream::Live(news))
            .await
            .unwrap(),
        StreamRight::Allowed
    );
}

#[tokio::test]
async fn movies_and_series_are_imported_beside_channels_and_keep_their_ids() {
    let core = testing::core_with(reseller_core::Policy {
        catalogue: reseller_core::catalogue::Prefixes {
            vod: vec!["VOD:".into()],
            series: vec!["Series:".into()],
        },
        ..Default::default()
    })
    .await;
    let playlist = vec![
        entry("News One", "http://o/news.ts", "News"),
        entry("Film One", "http://o/movie/u/p/1.mkv", "Films"),
        entry("Cartoon", "http://o/vod/cartoon", "VOD: Kids"),
        entry("Show S01 E01", "http://o/series/u/p/11.mp4", "Drama"),
        entry("Show S01E02", "http://o/series/u/p/12.mp4", "Drama"),
        entry(
            "Show - S02E01 - Finale",
            "http://o/series/u/p/13.avi",
            "Drama",
        ),
        entry("Toon S01E01", "http://o/shows/t1.mp4", "Series: Kids"),
    ];
    let done = core.import_channels(&ADMIN, &playlist).await.unwrap();
    assert_eq!(
        (
            done.channels,
            done.movies,
            done.episodes,
            done.series,
            done.categories
        ),
        (1, 2, 4, 2, 5)
    );
    use reseller_core::catalogue::Kind;
    let names = |cats: Vec<reseller_core::channels::Category>| -> Vec<String> {
        cats.into_iter().map(|c| c.name).collect()
    };
    assert_eq!(
        names(core.categories_of(Kind::Live).await.unwrap()),
        ["News"]
    );
    assert_eq!(
        names(core.categories_of(Kind::Movie).await.unwrap()),
        ["Films", "VOD: Kids"]
    );
    assert_eq!(
        names(core.categories_of(Kind::Episode).await.unwrap()),
        ["Drama", "Series: Kids"]
    );
    let movies = core.movies(None).await.unwrap();
    let film: Vec<(&str, &str)> = movies
        .iter()
        .map(|m| (m.name.as_str(), m.container.as_str()))
        .collect();
    assert_eq!(film, [("Film One", "mkv"), ("Cartoon", "mp4")]);
    let series = core.series(None).await.unwrap();
    assert_eq!(
        series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["Show", "Toon"]
    );
    let (show, episodes) = core.series_episodes(series[0].id).await.unwrap().unwrap();
    assert_eq!(show.name, "Show");
    let places: Vec<(i64, i64, &str)> = episodes
        .iter()
        .map(|e| (e.season, e.episode, e.container.as_str()))
        .collect();
    assert_eq!(places, [(1, 1, "mp4"), (1, 2, "mp4"), (2, 1, "avi")]);

    // The index on the stream authorization path knows movies and episodes by their kind.
    let film_id = movies[0].id;
    let access = viewer_of(&core, "Films").await;
    assert_eq!(
        core.stream_right(&access, Stream::Movie(film_id))
            .await
            .unwrap(),
        StreamRight::Allowed
    );
    assert_eq!(
        core.stream_right(&access, Stream::Episode(episodes[0].id))
            .await
            .unwrap(),
        StreamRight::NotInBouquet
    );
    assert_eq!(
        core.stream_right(&access, Stream::Movie(film_id + 1_000))
            .await
            .unwrap(),
        StreamRight::UnknownStream
    );

    // A re-import keeps ids and stamps of what stayed and drops what left.
    let kept = core.series_episodes(series[0].id).await.unwrap().unwrap().1;
    let again = core
        .import_channels(&ADMIN, &[playlist[1].clone(), playlist[4].clone()])
        .await
        .unwrap();
    assert_eq!(
        (
            again.channels,
            again.movies,
            again.episodes,
            again.series,
            again.removed
        ),
        (0, 1, 1, 1, 1)
    );
    let movies_after = core.movies(None).await.unwrap();
    assert_eq!(
        movies_after
            .iter()
            .map(|m| (m.id, m.added_at))
            .collect::<Vec<_>>(),
        [(film_id, movies[0].added_at)]
    );
    let (_, left) = core.series_episodes(series[0].id).await.unwrap().unwrap();
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), [kept[1].id]);
    assert!(core.series_episodes(series[1].id).await.unwrap().is_none());
    assert_eq!(
        core.stream_right(&access, Stream::Episode(episodes[2].id))
            .await
            .unwrap(),
        StreamRight::UnknownStream
    );
}

/// A subscriber of a new reseller, given `bouquet`, as the stream authorization sees them.
async fn viewer_of(core: &Core, bouquet: &str) -> std::sync::Arc<reseller_core::access::Access> {
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
    core.set_subscriber_bouquet(&alice, &name("viewer"), &Bouquet::parse(bouquet))
        .await
        .unwrap();
    let password = core
        .credentials(&alice, &name("viewer"))
        .await
        .unwrap()
        .password;
    core.authenticate("viewer", &password)
        .await
        .unwrap()
        .expect("right password")
}
