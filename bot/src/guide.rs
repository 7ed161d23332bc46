//! Fetching the programme guide: by URL on a schedule (every instance runs the worker; core's
//! claim lets one fetch at a time) with `If-None-Match` / `If-Modified-Since`, or once from an
//! uploaded file. URLs are read under the playlist rules (public addresses only, each redirect
//! checked, `channels.import_allow_hosts` for exceptions); the body goes to core's streaming
//! import as it arrives.

use crate::playlist::ImportSettings;
use futures::StreamExt;
use reqwest::header::{
    ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reseller_core::Core;
use reseller_core::epg::{FetchClaim, GuideLimits, Imported};
use std::time::Duration;

/// How the guide is fetched and kept, from configuration.
#[derive(Debug, Clone)]
pub struct GuideSettings {
    /// The hosts and size bound (`epg.max_mb`, uncompressed) of a fetch.
    pub import: ImportSettings,
    pub limits: GuideLimits,
    /// How often the source URL is fetched (`epg.refresh_hours`).
    pub refresh: Duration,
}

/// How often the worker looks whether a fetch is due.
const TICK: Duration = Duration::from_secs(60);
/// A guide download may take this long.
const DOWNLOAD: Duration = Duration::from_secs(600);

/// How a fetch ended.
#[derive(Debug)]
pub(crate) enum Fetched {
    Imported(Imported),
    Unchanged,
    Failed(String),
}

/// Fetches the guide whenever it is due, until `stop`.
pub async fn run(core: Core, settings: GuideSettings, stop: impl Future<Output = ()> + Send) {
    let mut stop = std::pin::pin!(stop);
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        match core.claim_epg_fetch(Some(settings.refresh)).await {
            Ok(Some(claim)) => {
                let fetched = tokio::select! {
                    // Dropping the import mid-way leaves its claim to run out; the guide
                    // served is untouched.
                    _ = &mut stop => return,
                    f = fetch_claimed(&core, claim, &settings) => f,
                };
                if let Fetched::Failed(why) = fetched {
                    tracing::warn!(%why, "the programme guide fetch failed");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not claim the programme guide fetch"),
        }
    }
}

/// Fetches the source URL now; `None` while another fetch is running.
pub(crate) async fn fetch_now(
    core: &Core,
    settings: &GuideSettings,
) -> Result<Option<Fetched>, reseller_core::CoreError> {
    Ok(match core.claim_epg_fetch(None).await? {
        Some(claim) => Some(fetch_claimed(core, claim, settings).await),
        None => None,
    })
}

async fn fetch_claimed(core: &Core, claim: FetchClaim, settings: &GuideSettings) -> Fetched {
    let Some(url) = claim.url.clone() else {
        // An uploaded file is not fetched again.
        let _ = core.epg_unchanged(claim).await;
        return Fetched::Unchanged;
    };
    let outcome = async {
        let url = reqwest::Url::parse(&url).map_err(|_| "the source is not a URL".to_string())?;
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (IF_NONE_MATCH, &claim.etag),
            (IF_MODIFIED_SINCE, &claim.last_modified),
        ] {
            if let Ok(v) = HeaderValue::from_str(value)
                && !value.is_empty()
            {
                headers.insert(name, v);
            }
        }
        crate::playlist::get_checked(url, &settings.import, headers, DOWNLOAD).await
    }
    .await;
    let resp = match outcome {
        Ok(r) => r,
        Err(why) => return failed(core, claim, why).await,
    };
    if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
        return match core.epg_unchanged(claim).await {
            Ok(()) => Fetched::Unchanged,
            Err(e) => Fetched::Failed(e.to_string()),
        };
    }
    if !resp.status().is_success() {
        let why = format!("the server answered HTTP {}", resp.status().as_u16());
        return failed(core, claim, why).await;
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let validators = (header(ETAG), header(LAST_MODIFIED));
    let body = resp
        .bytes_stream()
        .map(|c| c.map_err(|e| e.without_url().to_string()));
    match core
        .import_epg(claim, body, validators, &settings.limits)
        .await
    {
        Ok(done) => Fetched::Imported(done),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}

async fn failed(core: &Core, claim: FetchClaim, why: String) -> Fetched {
    if let Err(e) = core.epg_fetch_failed(claim, &why).await {
        tracing::warn!(error = %e, "could not record the guide fetch failure");
    }
    Fetched::Failed(why)
}

/// Imports an uploaded guide file under a claim already taken.
pub(crate) async fn import_upload(
    core: &Core,
    bot: &teloxide::Bot,
    claim: FetchClaim,
    document: &teloxide::types::Document,
    settings: &GuideSettings,
) -> Fetched {
    use teloxide::net::Download;
    use teloxide::prelude::Requester;
    let file = match crate::reply::retrying(|| bot.get_file(document.file.id.clone()).into_future())
        .await
    {
        Ok(f) => f,
        Err(e) => return failed(core, claim, e.to_string()).await,
    };
    let body = bot
        .download_file_stream(&file.path)
        .map(|c| c.map_err(|e| e.to_string()));
    match core
        .import_epg(
            claim,
            body,
            (String::new(), String::new()),
            &settings.limits,
        )
        .await
    {
        Ok(done) => Fetched::Imported(done),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}
