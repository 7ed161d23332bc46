//! Reading a playlist for `/channels import`, by URL or as an uploaded file, within a size
//! bound. A URL is read from the server's own network, so it must not reach the server's
//! neighbours (an admin panel on loopback, a cloud metadata address): every address its host
//! resolves to must be public, on each redirect too, unless the operator allows the host.

use futures::StreamExt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How playlists may be read, from configuration.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// Hosts (names or addresses) read even when they resolve to a non-public address.
    pub allow_hosts: Vec<String>,
    /// The largest playlist read, by URL or upload.
    pub max_bytes: usize,
}

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// `max` bytes as a sentence: "20 MB".
fn megabytes(bytes: usize) -> String {
    format!("{} MB", bytes.div_ceil(1024 * 1024))
}

fn too_large(settings: &ImportSettings, size: Option<usize>) -> String {
    let limit = megabytes(settings.max_bytes);
    match size {
        Some(size) => format!(
            "it is {:.1} MB, over the {limit} limit (channels.max_playlist_mb)",
            size as f64 / 1024.0 / 1024.0
        ),
        None => format!("it is over the {limit} limit (channels.max_playlist_mb)"),
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local,
/// unspecified, multicast or otherwise reserved for a local network, in IPv4 or IPv6 (an IPv4
/// address inside IPv6 is judged as IPv4).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4() {
                // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d);
                // `::` and `::1` are handled as the IPv6 addresses they are.
                return !v6.is_unspecified() && !v6.is_loopback() && is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0) // site-local fec0::/10 (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64.0.0/10
        || a >= 240) // reserved
}

/// The addresses to connect to for `url`, after checking them; the client is pinned to them so
/// a second DNS answer cannot differ from the one checked.
async fn checked_addresses(
    url: &reqwest::Url,
    settings: &ImportSettings,
) -> Result<Vec<SocketAddr>, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https URLs are read".into());
    }
    let host = url
        .host_str()
        .ok_or_else(|| "the URL has no host".to_string())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|_| format!("the host {host} could not be resolved"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("the host {host} could not be resolved"));
    }
    let allowed = settings.allow_hosts.iter().any(|h| {
        h.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(bare)
    });
    if !allowed && let Some(local) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(format!(
            "{host} is at {}, which is not a public address; the import runs on this server's \
             network, so such hosts are read only when listed in channels.import_allow_hosts",
            local.ip()
        ));
    }
    Ok(addrs)
}

/// Reads a playlist from `url`, following redirects one checked hop at a time.
pub(crate) async fn fetch(url: &str, settings: &ImportSettings) -> Result<String, String> {
    let url = reqwest::Url::parse(url).map_err(|_| "that is not a URL".to_string())?;
    let resp = get_checked(
        url,
        settings,
        reqwest::header::HeaderMap::new(),
        Duration::from_secs(30),
    )
    .await?;
    if !resp.status().is_success() {
        return Err(format!(
            "the server answered HTTP {}",
            resp.status().as_u16()
        ));
    }
    if let Some(size) = resp.content_length().map(|n| n as usize)
        && size > settings.max_bytes
    {
        return Err(too_large(settings, Some(size)));
    }
    let chunks = resp.bytes_stream().map(|c| c.map_err(|e| e.without_url()));
    bounded_text(chunks, settings).await
}

/// GETs `url` with `headers` from public addresses only (or allowed hosts), following
/// redirects one checked hop at a time; the first answer that is not a redirect (a 304
/// included) comes back whatever its status, within `timeout` each. Errors never carry the URL.
pub(crate) async fn get_checked(
    mut url: reqwest::Url,
    settings: &ImportSettings,
    headers: reqwest::header::HeaderMap,
    timeout: Duration,
) -> Result<reqwest::Response, String> {
    for _ in 0..=MAX_REDIRECTS {
        let addrs = checked_addresses(&url, settings).await?;
        let host = url.host_str().unwrap_or_default().to_string();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| e.without_url().to_string())?;
        // Errors carry the URL, which may hold the streaming server's credentials.
        let resp = client
            .get(url.clone())
            .headers(headers.clone())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if resp.status().is_redirection() && resp.status() != reqwest::StatusCode::NOT_MODIFIED {
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| "the server redirected without a valid Location".to_string())?;
            url = next;
            continue;
        }
        return Ok(resp);
    }
    Err(format!(
        "the server redirected more than {MAX_REDIRECTS} times"
    ))
}

/// The content of an uploaded file, through the Bot API's getFile and file download.
pub(crate) async fn download(
    bot: &teloxide::Bot,
    document: &teloxide::types::Document,
    settings: &ImportSettings,
) -> Result<String, String> {
    use teloxide::net::Download;
    use teloxide::prelude::Requester;
    let size = document.file.size as usize;
    if size > settings.max_bytes {
        return Err(too_large(settings, Some(size)));
    }
    let file = crate::reply::retrying(|| bot.get_file(document.file.id.clone()).into_future())
        .await
        .map_err(|e| e.to_string())?;
    // The size Telegram reported is not trusted for the download itself.
    bounded_text(bot.download_file_stream(&file.path), settings).await
}

/// Collects a body as UTF-8 text, refusing it once it passes the bound.
async fn bounded_text<E: std::fmt::Display>(
    chunks: impl futures::Stream<Item = Result<impl AsRef<[u8]>, E>>,
    settings: &ImportSettings,
) -> Result<String, String> {
    let mut chunks = std::pin::pin!(chunks);
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(chunk.map_err(|e| e.to_string())?.as_ref());
        if body.len() > settings.max_bytes {
            return Err(too_large(settings, None));
        }
    }
    String::from_utf8(body).map_err(|_| "it is not UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ];
        for ip in private {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
