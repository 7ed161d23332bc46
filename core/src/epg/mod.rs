//! The electronic programme guide: one XMLTV source the admin sets (a URL fetched on a
//! schedule, or an uploaded file), imported as a stream into a window of programmes, matched to
//! channels by their `tvg-id` (`channels.epg_id`) or by the admin's mapping of a channel name,
//! and read back per stream for players (`get_short_epg`, the data table, `xmltv.php`).
//!
//! An import writes a new generation of rows beside the one being served and switches to it in
//! one short transaction, so players never see half a guide and the writer is never held for
//! the whole download. Only one instance imports at a time: the fetch is claimed with a lease
//! on the source row (see [`crate::lease`] for the pattern).

mod import;
mod listings;
mod parse;
mod source;
mod xmltv;

pub use import::{FetchClaim, GuideLimits, Imported};
pub use listings::Listing;
pub use source::{GuideStatus, Mapped, SourceKind};

/// A source URL as it may be shown: no user name or password, no query string (guide URLs
/// often carry credentials there).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let cut = tail.find(['?', '#']);
    let path = cut.map_or(tail, |i| &tail[..i]);
    let hidden = if cut.is_some() || authority.contains('@') {
        "…"
    } else {
        ""
    };
    let query = if cut.is_some() { "?" } else { "" };
    match scheme {
        Some(s) => format!("{s}://{host}{path}{query}{hidden}"),
        None => format!("{host}{path}{query}{hidden}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn secrets_leave_the_shown_url() {
        assert_eq!(
            redact_url("http://user:pw@epg.example.com:8080/xmltv.php?username=u&password=p"),
            "http://epg.example.com:8080/xmltv.php?…"
        );
        assert_eq!(
            redact_url("https://epg.example.com/guide.xml.gz"),
            "https://epg.example.com/guide.xml.gz"
        );
        assert_eq!(redact_url("https://a@b.com"), "https://b.com…");
    }
}
