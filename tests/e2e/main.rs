//! End-to-end tests: the real application against a fake Telegram Bot API, on SQLite, or on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

mod support;
mod telegram;

mod admin;
mod bouquets;
mod cli;
mod http;
mod linking;
mod money;
mod panel;
mod payments;
mod player_api;
mod providers;
mod purchases;
mod resilience;
mod security;
mod subscribers;
mod sync;
