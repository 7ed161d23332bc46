//! Everything the bot sends goes through here, so that Telegram's 429 `retry_after` and passing
//! network errors are waited out instead of losing the answer, and every text is valid Telegram
//! HTML that fits (see [`html`]).

use crate::html;
use reseller_core::CoreError;
use std::future::Future;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{ChatId, InlineKeyboardMarkup, MessageId, ParseMode};
use teloxide::{ApiError, RequestError};

const ATTEMPTS: u32 = 5;

/// Runs a Bot API call, retrying rate limits (after the delay Telegram asks for) and network
/// errors (with exponential backoff).
pub(crate) async fn retrying<T, F, Fut>(mut call: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(RequestError::RetryAfter(wait)) if attempt < ATTEMPTS => {
                tracing::warn!(seconds = wait.seconds(), "Telegram asked us to slow down");
                tokio::time::sleep(wait.duration()).await;
            }
            Err(RequestError::Network(e)) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "network error talking to Telegram, retrying");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            other => return other,
        }
    }
}

/// Whether Telegram refused a request for good, so sending it again cannot help: every 4xx
/// answer but 429. teloxide drops the HTTP status, so this goes by what it keeps: each error it
/// names is a 4xx, and Telegram starts every other 4xx description with the status's reason
/// phrase ("Forbidden: bot can't initiate conversation with a user" is not one teloxide names).
/// 429s, 5xx answers, network errors and unreadable answers (a proxy's error page) pass.
pub(crate) fn is_permanent(e: &RequestError) -> bool {
    const CLIENT_ERRORS: [&str; 5] = [
        "Bad Request",
        "Unauthorized",
        "Forbidden",
        "Not Found",
        "Conflict",
    ];
    match e {
        RequestError::Api(ApiError::Unknown(description)) => CLIENT_ERRORS
            .iter()
            .any(|phrase| description.starts_with(phrase)),
        RequestError::Api(_) | RequestError::MigrateToChatId(_) => true,
        RequestError::RetryAfter(_)
        | RequestError::Network(_)
        | RequestError::InvalidJson { .. }
        | RequestError::Io(_) => false,
    }
}

/// Sends an HTML message, with buttons if any. A text too long for one message goes as
/// several, cut at line ends, with the buttons under the last.
pub(crate) async fn send(
    bot: &Bot,
    chat: ChatId,
    text: &str,
    keyboard: Option<InlineKeyboardMarkup>,
) -> Result<(), RequestError> {
    let parts = html::split(text, html::MAX_TEXT);
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        retrying(|| {
            let mut req = bot.send_message(chat, part).parse_mode(ParseMode::Html);
            if let Some(k) = keyboard.clone().filter(|_| i == last) {
                req = req.reply_markup(k);
            }
            req.into_future()
        })
        .await?;
    }
    Ok(())
}

/// Replaces the text (and buttons) of a message the bot sent earlier, cut to fit one message.
pub(crate) async fn edit(
    bot: &Bot,
    chat: ChatId,
    message: MessageId,
    text: &str,
    keyboard: Option<InlineKeyboardMarkup>,
) -> Result<(), RequestError> {
    let text = html::truncate(text);
    let result = retrying(|| {
        let mut req = bot
            .edit_message_text(chat, message, &text)
            .parse_mode(ParseMode::Html);
        if let Some(k) = keyboard.clone() {
            req = req.reply_markup(k);
        }
        req.into_future()
    })
    .await;
    match result {
        // Pressing the same page twice edits to identical text; that is fine.
        Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
        other => other.map(drop),
    }
}

/// The most characters Telegram shows in a button press's notice.
const MAX_NOTICE: usize = 200;

/// Answers a button press (stops the spinner), optionally with a short notice, cut to the
/// 200 characters Telegram accepts (it refuses a longer one, leaving the spinner turning).
pub(crate) async fn answer(
    bot: &Bot,
    id: &teloxide::types::CallbackQueryId,
    text: Option<&str>,
) -> Result<(), RequestError> {
    let text = text.map(notice);
    retrying(|| {
        let mut req = bot.answer_callback_query(id.clone());
        if let Some(t) = &text {
            req = req.text(t);
        }
        req.into_future()
    })
    .await
    .map(drop)
}

/// `text` cut to [`MAX_NOTICE`] characters, ending in "…" when cut.
fn notice(text: &str) -> String {
    if text.chars().count() <= MAX_NOTICE {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_NOTICE - 1).collect();
    cut.push('…');
    cut
}

/// The sentence to show for a refusal; internal failures are logged and shown generically.
pub(crate) fn error_text(e: &CoreError) -> String {
    if e.is_internal() {
        tracing::error!(error = ?e, "operation failed");
        reseller_core::metrics::error("bot_request");
    }
    format!("⚠️ {}", teloxide::utils::html::escape(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    #[test]
    fn a_long_notice_is_cut_to_what_telegram_accepts() {
        assert_eq!(notice("Saved."), "Saved.");
        let long = "é".repeat(MAX_NOTICE + 1);
        let cut = notice(&long);
        assert_eq!(cut.chars().count(), MAX_NOTICE);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn only_a_final_refusal_stops_retrying() {
        let api = |d: &str| RequestError::Api(ApiError::Unknown(d.into()));
        for permanent in [
            api("Forbidden: bot can't initiate conversation with a user"),
            api("Bad Request: chat not found"),
            RequestError::Api(ApiError::BotBlocked),
            RequestError::Api(ApiError::MessageIsTooLong),
        ] {
            assert!(is_permanent(&permanent), "{permanent}");
        }
        for passing in [
            api("Internal Server Error"),
            api("Bad Gateway"),
            RequestError::RetryAfter(Seconds::from_seconds(1)),
        ] {
            assert!(!is_permanent(&passing), "{passing}");
        }
    }
}
