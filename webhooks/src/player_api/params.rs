//! The parameters of a `player_api.php` or `get.php` request, from the query string and from a
//! form body alike: several Android players log in by `POST` with a form body, the rest by
//! `GET`. Xtream Codes and XUI.one read `$_REQUEST` (PHP's default `request_order` "GP": the
//! query first, then the form over it), so a form field wins over the same query field here too.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// The request's fields by name; for a name given twice, the last one counts, as in PHP.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// The field, or `""` when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// A positive id field (`category_id`, `vod_id`, `series_id`); `None` when absent or not a
    /// number, which players treat as "all" or "unknown".
    pub(crate) fn id(&self, name: &str) -> Option<i64> {
        self.get(name).trim().parse().ok().filter(|id| *id > 0)
    }

    /// Every field but `except`, sorted, one `name=value` a line: what a request asked for,
    /// whatever the order or the place (query or body) of its fields.
    pub(crate) fn described_without(&self, except: &str) -> String {
        let mut fields: Vec<_> = self
            .0
            .iter()
            .filter(|(k, _)| k.as_str() != except)
            .collect();
        fields.sort();
        fields.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    fn merge(&mut self, encoded: &[u8]) {
        self.0
            .extend(url::form_urlencoded::parse(encoded).into_owned());
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut params = Params::default();
        if let Some(query) = req.uri().query() {
            params.merge(query.as_bytes());
        }
        // Any body is read as a form, whatever its content type: some players send none.
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        params.merge(&body);
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn the_form_wins_over_the_query_and_ids_must_be_positive_numbers() {
        let mut p = Params::default();
        p.merge(b"username=q&action=get_live_streams&category_id=7");
        p.merge(b"username=f%20x&password=p%26w");
        assert_eq!(p.get("username"), "f x");
        assert_eq!(p.get("password"), "p&w");
        assert_eq!(p.get("action"), "get_live_streams");
        assert_eq!(p.get("missing"), "");
        assert_eq!(p.id("category_id"), Some(7));
        p.merge(b"category_id=-1&vod_id=abc");
        assert_eq!((p.id("category_id"), p.id("vod_id")), (None, None));
    }
}
