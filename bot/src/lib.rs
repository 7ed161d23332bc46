//! The Telegram front end: parses what resellers and admins type or press, calls
//! `reseller_core::Core`, and renders the answer. No business rule lives here.
//!
//! Updates flow through [`handlers::schema`]: a message is parsed into a [`command::Request`]
//! (or continues a guided [`conversation`]), a button press into a [`callback::Press`]; both are
//! answered through [`reply`], which retries Telegram's rate limits and network errors.

mod app;
mod broadcast;
mod callback;
mod command;
mod conversation;
pub mod guide;
mod handlers;
mod html;
mod keyboards;
mod notifications;
mod playlist;
mod polling;
mod ratelimit;
mod render;
mod reply;
mod updates;
mod webhook;

pub use app::{BotMode, BotSettings, run, webhook_routes};
pub use guide::GuideSettings;
pub use playlist::ImportSettings;
pub use updates::Intake;
pub use webhook::WebhookSettings;
