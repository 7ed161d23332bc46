//! The last check on every text the bot sends in Telegram's HTML: Telegram refuses a message
//! whose HTML does not parse or whose text is over 4,096 characters, and a refused answer is a
//! lost one. Renderers escape what users typed and keep lists short; this catches what slips
//! through, so the answer still arrives.

use teloxide::utils::html::escape;

/// Telegram's limit on a message, counted like Telegram: UTF-16 code units of the text a user
/// sees (after tags are removed and entities decoded).
pub(crate) const MAX_TEXT: usize = 4096;

/// The tags Telegram understands in HTML parse mode.
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// A piece of a message: a tag, or one visible character (perhaps written as an entity).
enum Token<'a> {
    Open { name: &'a str, raw: &'a str },
    Close { raw: &'a str },
    Char { raw: &'a str, units: usize },
}

/// Splits valid Telegram HTML into tokens; `Err` says why Telegram would refuse it.
fn tokens(html: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        let len = if rest.starts_with('<') {
            let end = rest
                .find('>')
                .ok_or_else(|| format!("unclosed tag at byte {i}"))?;
            let raw = &rest[..=end];
            let inner = &rest[1..end];
            if let Some(name) = inner.strip_prefix('/') {
                if open.pop() != Some(name.trim()) {
                    return Err(format!("unmatched end tag at byte {i}"));
                }
                out.push(Token::Close { raw });
            } else {
                let name_len = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .unwrap_or(inner.len());
                let name = &inner[..name_len];
                let attributes = &inner[name_len..];
                if !TAGS.contains(&name)
                    || !(attributes.is_empty() || attributes.starts_with(char::is_whitespace))
                    || attributes.contains('<')
                {
                    return Err(format!("unsupported tag at byte {i}"));
                }
                open.push(name);
                out.push(Token::Open { name, raw });
            }
            raw.len()
        } else if rest.starts_with('&') {
            let raw = rest
                .find(';')
                .map(|end| &rest[..=end])
                .filter(|raw| entity(raw).is_some())
                .ok_or_else(|| format!("bare & at byte {i}"))?;
            let units = entity(raw).map_or(1, char::len_utf16);
            out.push(Token::Char { raw, units });
            raw.len()
        } else {
            let c = rest.chars().next().expect("not at the end");
            let raw = &rest[..c.len_utf8()];
            out.push(Token::Char {
                raw,
                units: c.len_utf16(),
            });
            raw.len()
        };
        i += len;
    }
    match open.pop() {
        Some(name) => Err(format!("<{name}> is never closed")),
        None => Ok(out),
    }
}

/// The visible length of `html` (UTF-16 code units, as Telegram counts), or why Telegram would
/// refuse it: for text a user saves to be sent later, such as a credentials template.
pub(crate) fn check(html: &str) -> Result<usize, String> {
    Ok(tokens(html)?
        .iter()
        .map(|t| match t {
            Token::Char { units, .. } => *units,
            _ => 0,
        })
        .sum())
}

/// The character an entity such as `&amp;` or `&#8364;` stands for.
fn entity(raw: &str) -> Option<char> {
    let name = raw.strip_prefix('&')?.strip_suffix(';')?;
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// `html` as messages of at most `max` characters each, cut at line ends where possible. A
/// tag open at a cut is closed before it and opened again after it, so every part is valid.
/// Text that is not valid Telegram HTML (a renderer forgot to escape something) is sent
/// escaped: its tags show as text, but it arrives and cannot inject markup.
pub(crate) fn split(html: &str, max: usize) -> Vec<String> {
    let all = match tokens(html) {
        Ok(all) => all,
        Err(why) => {
            tracing::error!(%why, "a message is not valid Telegram HTML; sending it escaped");
            return split(&escape(html), max);
        }
    };
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut units = 0;
    // Where the part could end at a line break with no tag open: (bytes, units) up to there.
    let mut line_end: Option<(usize, usize)> = None;
    let mut open: Vec<(&str, &str)> = Vec::new();
    for token in all {
        match token {
            Token::Open { name, raw } => {
                open.push((name, raw));
                part.push_str(raw);
            }
            Token::Close { raw } => {
                open.pop();
                part.push_str(raw);
            }
            Token::Char { raw, units: n } => {
                while units + n > max {
                    match line_end.take() {
                        Some((bytes, at)) => {
                            let rest = part.split_off(bytes);
                            parts.push(std::mem::replace(&mut part, rest));
                            units -= at;
                        }
                        None => {
                            for (name, _) in open.iter().rev() {
                                part.push_str(&format!("</{name}>"));
                            }
                            parts.push(std::mem::take(&mut part));
                            units = 0;
                            for (_, raw) in &open {
                                part.push_str(raw);
                            }
                        }
                    }
                }
                part.push_str(raw);
                units += n;
                if raw == "\n" && open.is_empty() {
                    line_end = Some((part.len(), units));
                }
            }
        }
    }
    parts.push(part);
    // Telegram refuses a message with nothing to show.
    parts.retain(|p| tokens(p).is_ok_and(|t| has_text(&t)));
    parts
}

fn has_text(tokens: &[Token<'_>]) -> bool {
    tokens
        .iter()
        .any(|t| matches!(t, Token::Char { raw, .. } if !raw.trim().is_empty()))
}

/// `html` as one message of at most [`MAX_TEXT`] characters, for an edit (which cannot become
/// two messages): what does not fit is cut, and a last line says how much.
pub(crate) fn truncate(html: &str) -> String {
    // Room for the closing line.
    let mut parts = split(html, MAX_TEXT - 40).into_iter();
    let first = parts.next().unwrap_or_default();
    let more: usize = parts.map(|p| p.trim_end().lines().count()).sum();
    if more == 0 {
        first
    } else {
        format!("{}\n…and {more} more lines", first.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(html: &str) -> usize {
        tokens(html)
            .expect("valid")
            .iter()
            .map(|t| match t {
                Token::Char { units, .. } => *units,
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn short_valid_text_is_sent_as_it_is() {
        let html = "<b>A &amp; B</b>\n<code>x</code> &#8364; 🎉";
        assert_eq!(split(html, MAX_TEXT), vec![html.to_string()]);
        assert_eq!(visible(html), "A & B\nx € 🎉".encode_utf16().count());
    }

    #[test]
    fn long_text_is_split_at_line_ends_into_valid_parts() {
        let line = "<b>name</b> — 100 credits &amp; more\n";
        let html = format!("<b>Resellers</b>\n{}", line.repeat(400));
        let parts = split(&html, MAX_TEXT);
        assert!(parts.len() > 1, "{}", parts.len());
        for p in &parts {
            assert!(visible(p) <= MAX_TEXT, "{}", visible(p));
            assert!(
                p.ends_with('\n') || p.ends_with("</b>"),
                "cut mid-line: {p:?}"
            );
        }
        assert_eq!(parts.concat(), html, "nothing lost or added");
    }

    #[test]
    fn one_overlong_line_is_cut_with_its_tags_closed_and_reopened() {
        let html = format!("<b>{}</b>", "&lt;".repeat(5000));
        let parts = split(&html, MAX_TEXT);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].ends_with("</b>") && parts[1].starts_with("<b>"));
        assert_eq!(visible(&parts[0]) + visible(&parts[1]), 5000);
        assert!(visible(&parts[0]) <= MAX_TEXT);
    }

    #[test]
    fn invalid_html_is_sent_escaped_rather_than_lost() {
        assert_eq!(split("<b>A & B", MAX_TEXT), vec!["&lt;b&gt;A &amp; B"]);
        assert_eq!(split("x <br> y", MAX_TEXT), vec!["x &lt;br&gt; y"]);
        assert_eq!(split("<b>a</i>", MAX_TEXT), vec!["&lt;b&gt;a&lt;/i&gt;"]);
    }

    #[test]
    fn an_edit_is_truncated_with_a_line_saying_how_much() {
        let html = "row\n".repeat(2000);
        let text = truncate(&html);
        assert!(visible(&text) <= MAX_TEXT);
        let kept = text.lines().filter(|l| *l == "row").count();
        assert!(
            text.ends_with(&format!("…and {} more lines", 2000 - kept)),
            "{}",
            &text[text.len() - 40..]
        );
    }
}
