//! Telegram's HTML parse mode, as strictly as the Bot API applies it, for the fake Bot API:
//! only the tags Telegram supports, properly nested and closed, and `&` only as an entity.

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

/// The text a user sees (tags removed, entities decoded), or the reason Telegram gives after
/// "can't parse entities: ".
pub fn parse(html: &str) -> Result<String, String> {
    let mut visible = String::with_capacity(html.len());
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        let c = rest.chars().next().expect("not at the end");
        match c {
            '&' => {
                let (decoded, len) = entity(rest, i)?;
                visible.push(decoded);
                i += len;
            }
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {i}"))?;
                let tag = &rest[1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match open.pop() {
                        Some(top) if top == name => {}
                        Some(top) => {
                            return Err(format!(
                                "Unmatched end tag at byte offset {i}, expected \"</{top}>\", found \"</{name}>\""
                            ));
                        }
                        None => return Err(format!("Unexpected end tag at byte offset {i}")),
                    }
                } else {
                    open.push(start_tag(tag, i)?);
                }
                i += end + 1;
            }
            _ => {
                visible.push(c);
                i += c.len_utf8();
            }
        }
    }
    match open.pop() {
        Some(top) => Err(format!(
            "Can't find end tag corresponding to start tag \"{top}\""
        )),
        None => Ok(visible),
    }
}

/// Checks a start tag (between `<` and `>`) and returns its name.
fn start_tag(tag: &str, at: usize) -> Result<String, String> {
    let name_len = tag
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(tag.len());
    let name = tag[..name_len].to_ascii_lowercase();
    if !TAGS.contains(&name.as_str()) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {at}"
        ));
    }
    let attributes = &tag[name_len..];
    if !attributes.is_empty() && !attributes.starts_with(char::is_whitespace) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {at}"
        ));
    }
    if attributes.contains('<') {
        return Err(format!("Unclosed start tag at byte offset {at}"));
    }
    if name == "span" && !attributes.contains("class=\"tg-spoiler\"") {
        return Err(format!(
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {at}"
        ));
    }
    Ok(name)
}

/// Decodes the entity at the start of `s` (which begins with `&`): its character and length.
fn entity(s: &str, at: usize) -> Result<(char, usize), String> {
    let end = s[1..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
        .map(|n| n + 1)
        .unwrap_or(s.len());
    if !s[end..].starts_with(';') {
        return Err(format!(
            "Can't find end of the entity starting at byte offset {at}"
        ));
    }
    let name = &s[1..end];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => name.strip_prefix('#').and_then(|n| {
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => n.parse().ok(),
            };
            code.and_then(char::from_u32)
        }),
    };
    decoded
        .map(|c| (c, end + 1))
        .ok_or_else(|| format!("Unsupported HTML entity \"&{name};\" at byte offset {at}"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_what_telegram_accepts() {
        assert_eq!(
            parse("<b>A &amp; B</b> &lt;3 &#8364; <a href=\"https://x\">x</a>").unwrap(),
            "A & B <3 € x"
        );
        assert_eq!(
            parse("<pre><code>x</code></pre><span class=\"tg-spoiler\">s</span>").unwrap(),
            "xs"
        );
    }

    #[test]
    fn refuses_what_telegram_refuses() {
        for (html, why) in [
            ("<b>A & B</b>", "end of the entity"),
            ("<b>A</i>", "Unmatched end tag"),
            ("<b>A", "Can't find end tag"),
            ("1 < 2", "Unclosed start tag"),
            ("1 < 2 > 0", "Unsupported start tag \"\""),
            ("a <br> b", "Unsupported start tag \"br\""),
            ("</b>", "Unexpected end tag"),
            ("<b", "Unclosed start tag"),
            ("&nbsp;", "Unsupported HTML entity"),
            ("<span>x</span>", "tg-spoiler"),
        ] {
            let e = parse(html).unwrap_err();
            assert!(e.contains(why), "{html}: {e}");
        }
    }
}
