//! Reading an XMLTV guide as a stream: gzip or plain (told by the magic bytes), bounded in
//! uncompressed size, parsed with quick-xml's pull parser so only the element in hand is in
//! memory. Guides are tens of megabytes; nothing here holds one whole.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;

/// One thing the guide says, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// `<channel id>` and its first `<display-name>`.
    Channel {
        id: String,
        name: String,
    },
    Programme(Programme),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Programme {
    pub channel: String,
    pub start: i64,
    pub stop: i64,
    pub title: String,
    pub description: String,
    pub lang: String,
}

/// What the parse saw besides what it emitted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub programmes: u64,
    pub outside_window: u64,
    /// Programmes without a channel, a readable start or stop, or with stop before start.
    pub unreadable: u64,
}

/// `input` as a buffered reader of the uncompressed guide, refusing it past `max_bytes`.
pub(crate) fn open(
    input: impl Read + Send + 'static,
    max_bytes: u64,
) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut raw = BufReader::new(input);
    let gzip = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let plain: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok(Box::new(BufReader::new(Bounded {
        inner: plain,
        left: max_bytes,
        max: max_bytes,
    })))
}

/// A reader that fails once more than `max` bytes came through.
struct Bounded<R> {
    inner: R,
    left: u64,
    max: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf
            .len()
            .min(self.left.saturating_add(1).try_into().unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "the guide is over the {} MB limit uncompressed (epg.max_mb)",
                self.max.div_ceil(1024 * 1024)
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Which text is being collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    DisplayName,
    Title,
    Description,
}

/// Parses the guide, handing each channel and each programme overlapping `window` (Unix
/// seconds) to `emit`; stops early, without error, when `emit` returns false.
pub(crate) fn parse(
    input: impl BufRead,
    window: Range<i64>,
    mut emit: impl FnMut(Item) -> bool,
) -> Result<Counts, String> {
    let mut reader = Reader::from_reader(input);
    // Text is trimmed once whole: trimming each piece would eat the spaces around `&amp;`.
    let mut buf = Vec::new();
    let mut counts = Counts::default();
    let mut complete = false;
    let mut channel: Option<(String, Option<String>)> = None;
    let mut programme: Option<Programme> = None;
    let (mut field, mut text): (Option<Field>, String) = (None, String::new());
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "the guide is not valid XML near byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"channel" => channel = Some((attr(&e, b"id").unwrap_or_default(), None)),
                b"programme" => {
                    counts.programmes += 1;
                    programme = programme_from(&e);
                    if programme.is_none() {
                        counts.unreadable += 1;
                    }
                }
                b"display-name" if channel.as_ref().is_some_and(|c| c.1.is_none()) => {
                    field = Some(Field::DisplayName)
                }
                b"title" if programme.as_ref().is_some_and(|p| p.title.is_empty()) => {
                    if let Some(p) = programme.as_mut() {
                        p.lang = attr(&e, b"lang").unwrap_or_default();
                    }
                    field = Some(Field::Title)
                }
                b"desc" if programme.as_ref().is_some_and(|p| p.description.is_empty()) => {
                    field = Some(Field::Description)
                }
                _ => {}
            },
            // `<programme .../>` has no title: nothing to show.
            Event::Empty(e) if e.local_name().as_ref() == b"programme" => {
                counts.programmes += 1;
                counts.unreadable += 1;
            }
            Event::Text(t) if field.is_some() => {
                text.push_str(&t.xml_content().map_err(|e| e.to_string())?)
            }
            Event::CData(t) if field.is_some() => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?)
            }
            Event::GeneralRef(r) if field.is_some() => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = r
                    .decode()
                    .ok()
                    .and_then(|name| quick_xml::escape::resolve_predefined_entity(&name))
                {
                    text.push_str(s);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"display-name" | b"title" | b"desc" if field.is_some() => {
                    let value = std::mem::take(&mut text).trim().to_string();
                    match field.take() {
                        Some(Field::DisplayName) => {
                            if let Some(c) = channel.as_mut() {
                                c.1 = Some(value);
                            }
                        }
                        Some(Field::Title) => {
                            if let Some(p) = programme.as_mut() {
                                p.title = value;
                            }
                        }
                        Some(Field::Description) => {
                            if let Some(p) = programme.as_mut() {
                                p.description = value;
                            }
                        }
                        None => {}
                    }
                }
                b"channel" => {
                    if let Some((id, name)) = channel.take()
                        && !id.is_empty()
                        && !emit(Item::Channel {
                            id,
                            name: name.unwrap_or_default(),
                        })
                    {
                        return Ok(counts);
                    }
                }
                b"tv" => complete = true,
                b"programme" => {
                    if let Some(p) = programme.take() {
                        if p.stop <= window.start || p.start >= window.end {
                            counts.outside_window += 1;
                        } else if !emit(Item::Programme(p)) {
                            return Ok(counts);
                        }
                    }
                }
                _ => {}
            },
            // A download cut short must not replace a whole guide.
            Event::Eof if !complete => {
                return Err("it ends before </tv>: the guide is cut short".into());
            }
            Event::Eof => return Ok(counts),
            _ => {}
        }
        buf.clear();
    }
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_string()))
}

/// A programme's times and channel from its start tag; `None` when one is missing or unreadable.
fn programme_from(e: &BytesStart<'_>) -> Option<Programme> {
    let channel = attr(e, b"channel").filter(|c| !c.is_empty())?;
    let start = xmltv_time(&attr(e, b"start")?)?;
    let stop = xmltv_time(&attr(e, b"stop")?)?;
    (stop > start).then_some(Programme {
        channel,
        start,
        stop,
        title: String::new(),
        description: String::new(),
        lang: String::new(),
    })
}

/// An XMLTV time, `YYYYMMDDhhmmss +hhmm` (seconds and offset optional; no offset is UTC), as
/// Unix seconds.
pub(crate) fn xmltv_time(s: &str) -> Option<i64> {
    let (stamp, offset) = match s.split_once(' ') {
        Some((stamp, offset)) => (stamp, Some(offset.trim())),
        None => (s, None),
    };
    let stamp = match stamp.len() {
        14 => stamp.to_string(),
        12 => format!("{stamp}00"),
        _ => return None,
    };
    let naive = chrono::NaiveDateTime::parse_from_str(&stamp, "%Y%m%d%H%M%S").ok()?;
    let shift = match offset {
        None | Some("") => 0,
        Some(o) => offset_secs(o)?,
    };
    Some(naive.and_utc().timestamp() - shift)
}

/// `+hhmm` / `-hhmm` as seconds east of UTC.
fn offset_secs(s: &str) -> Option<i64> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmltv_times_with_and_without_offsets() {
        assert_eq!(xmltv_time("20250101120000 +0000"), Some(1_735_732_800));
        assert_eq!(xmltv_time("20250101130000 +0100"), Some(1_735_732_800));
        assert_eq!(xmltv_time("202501011200"), Some(1_735_732_800));
        assert_eq!(xmltv_time("20250101070000 -0500"), Some(1_735_732_800));
        assert_eq!(xmltv_time("yesterday"), None);
        assert_eq!(xmltv_time("20250101120000 +1"), None);
    }

    #[test]
    fn channels_and_programmes_in_the_window_with_entities() {
        let xml = r#"<?xml version="1.0"?><tv>
          <channel id="a.uk"><display-name>A &amp; B</display-name><display-name>Other</display-name></channel>
          <programme start="20250101120000 +0000" stop="20250101130000 +0000" channel="a.uk">
            <title lang="en">News &#38; <![CDATA[Weather]]></title><desc>Today&apos;s</desc></programme>
          <programme start="20200101120000 +0000" stop="20200101130000 +0000" channel="a.uk"><title>Old</title></programme>
          <programme start="bad" stop="20250101130000 +0000" channel="a.uk"><title>Bad</title></programme>
        </tv>"#;
        let mut items = Vec::new();
        let counts = parse(xml.as_bytes(), 1_735_000_000..1_736_000_000, |i| {
            items.push(i);
            true
        })
        .unwrap();
        assert_eq!(
            items,
            vec![
                Item::Channel {
                    id: "a.uk".into(),
                    name: "A & B".into()
                },
                Item::Programme(Programme {
                    channel: "a.uk".into(),
                    start: 1_735_732_800,
                    stop: 1_735_736_400,
                    title: "News & Weather".into(),
                    description: "Today's".into(),
                    lang: "en".into(),
                }),
            ]
        );
        assert_eq!(
            counts,
            Counts {
                programmes: 3,
                outside_window: 1,
                unreadable: 1
            }
        );
    }

    #[test]
    fn gzip_is_recognised_and_the_bound_holds() {
        use std::io::Write;
        let xml = b"<tv><channel id=\"x\"><display-name>X</display-name></channel></tv>".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&xml).unwrap();
        let gz = gz.finish().unwrap();
        let mut out = String::new();
        open(std::io::Cursor::new(gz.clone()), 1024)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), xml.as_slice());
        let err = open(std::io::Cursor::new(gz), 10)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap_err();
        assert!(err.to_string().contains("epg.max_mb"), "{err}");
    }
}
