//! A reseller's credentials message: their text with placeholders, parsed once when saved so
//! rendering never meets an unknown one.

use super::ParseError;
use serde::{Deserialize, Serialize};

/// The longest template, in characters: with the values substituted (URLs carry the password
/// twice) the message must still fit Telegram's 4,096.
pub const TEMPLATE_MAX: usize = 2000;

/// What a template may name, each written `{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placeholder {
    Panel,
    Username,
    Password,
    Expires,
    MaxConnections,
    M3uUrl,
    PlayerApiUrl,
    Support,
}

impl Placeholder {
    pub const ALL: [Placeholder; 8] = [
        Placeholder::Panel,
        Placeholder::Username,
        Placeholder::Password,
        Placeholder::Expires,
        Placeholder::MaxConnections,
        Placeholder::M3uUrl,
        Placeholder::PlayerApiUrl,
        Placeholder::Support,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Panel => "panel",
            Placeholder::Username => "username",
            Placeholder::Password => "password",
            Placeholder::Expires => "expires",
            Placeholder::MaxConnections => "max_connections",
            Placeholder::M3uUrl => "m3u_url",
            Placeholder::PlayerApiUrl => "player_api_url",
            Placeholder::Support => "support",
        }
    }

    fn parse(name: &str) -> Option<Placeholder> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// `{panel}, {username}, ...`: the list shown when a template names another.
    pub fn list() -> String {
        Self::ALL.map(|p| format!("{{{}}}", p.name())).join(", ")
    }
}

/// A piece of a template: the reseller's own text, or a value to put in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A credentials template, valid by construction: every `{word}` in it is a known placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsTemplate {
    source: String,
    pieces: Vec<Piece>,
}

impl CredentialsTemplate {
    /// Refuses an empty or overlong template, and one naming an unknown placeholder (with the
    /// valid ones). A brace not around a lower-case word is the reseller's text.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let source = s.trim();
        let len = source.chars().count();
        if len == 0 || len > TEMPLATE_MAX {
            return Err(ParseError(format!(
                "A credentials template must be 1 to {TEMPLATE_MAX} characters; yours has {len}."
            )));
        }
        let mut pieces = Vec::new();
        let mut unknown = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let word = after.find('}').map(|close| &after[..close]).filter(|w| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            });
            match word {
                Some(w) => {
                    text.push_str(&rest[..open]);
                    match Placeholder::parse(w) {
                        Some(p) => {
                            if !text.is_empty() {
                                pieces.push(Piece::Text(std::mem::take(&mut text)));
                            }
                            pieces.push(Piece::Value(p));
                        }
                        None if !unknown.contains(&w) => unknown.push(w),
                        None => {}
                    }
                    rest = &after[w.len() + 1..];
                }
                None => {
                    text.push_str(&rest[..=open]);
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if !unknown.is_empty() {
            return Err(ParseError(format!(
                "Unknown placeholder{} {}. Use only: {}.",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|w| format!("{{{w}}}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                Placeholder::list()
            )));
        }
        Ok(CredentialsTemplate {
            source: source.to_string(),
            pieces,
        })
    }

    /// The template as the reseller wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The text with each placeholder replaced by `value(placeholder)`; the caller escapes.
    pub fn render(&self, mut value: impl FnMut(Placeholder) -> String) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Value(v) => value(*v),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_parsed_once_and_rendered() {
        let t = CredentialsTemplate::parse("<b>{panel}</b>\nUser: {username} {x {} }{password}")
            .unwrap();
        let out = t.render(|p| format!("[{}]", p.name()));
        assert_eq!(out, "<b>[panel]</b>\nUser: [username] {x {} }[password]");
    }

    #[test]
    fn unknown_placeholders_are_refused_with_the_valid_list() {
        let e = CredentialsTemplate::parse("Hi {user} {pass} {user}").unwrap_err();
        assert_eq!(
            e.0,
            "Unknown placeholders {user}, {pass}. Use only: {panel}, {username}, {password}, {expires}, {max_connections}, {m3u_url}, {player_api_url}, {support}."
        );
        let long = "x".repeat(TEMPLATE_MAX + 1);
        assert_eq!(
            CredentialsTemplate::parse(&long).unwrap_err().0,
            "A credentials template must be 1 to 2000 characters; yours has 2001."
        );
    }
}
