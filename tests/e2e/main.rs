//! End-to-end tests: the real application against a fake Telegram Bot API, on SQLite, or on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

mod support;
mod telegram;
mod telegram_html;

mod admin;
mod api;
mod bouquets;
mod branding;
mod bulk;
mod cli;
mod cluster;
mod epg;
mod http;
mod instances_access;
mod instances_startup;
mod linking;
mod logs;
mod messages;
mod metrics;
mod money;
mod notifications;
mod outbox;
mod panel;
mod payments;
mod player_api;
mod player_catalogue;
mod player_limits;
mod pricing;
mod providers;
mod purchases;
mod reports;
mod resilience;
mod rules;
mod security;
mod subresellers;
mod subscribers;
mod sync;
mod templates;
mod trials;
mod webhook_mode;
mod xui_api;
