//! The login body: what `player_api.php` answers with no action, with the profile aliases
//! players send, and with any action it does not know (as Xtream UI does).

use super::ServerInfo;
use chrono::Utc;
use reseller_core::access::Access;
use serde_json::json;

/// The account and the server, in the field names and types real panels send.
pub(super) fn answer(
    a: &Access,
    password: &str,
    server: &ServerInfo,
    live: usize,
) -> serde_json::Value {
    let now = Utc::now();
    let status = if !a.active {
        "Disabled"
    } else if a.expires_at <= now {
        "Expired"
    } else {
        "Active"
    };
    json!({
        "user_info": {
            "username": a.username,
            "password": password,
            "message": "",
            "auth": 1,
            "status": status,
            "exp_date": a.expires_at.timestamp().to_string(),
            "is_trial": if a.is_trial { "1" } else { "0" },
            "active_cons": live.to_string(),
            "created_at": a.created_at.timestamp().to_string(),
            "max_connections": a.max_connections.to_string(),
            "allowed_output_formats": ["m3u8", "ts"],
        },
        "server_info": {
            "url": server.host,
            "port": server.port.to_string(),
            "https_port": server.https_port.to_string(),
            "server_protocol": server.protocol,
            "rtmp_port": "1935",
            "timezone": "UTC",
            "timestamp_now": now.timestamp(),
            "time_now": now.format("%Y-%m-%d %H:%M:%S").to_string(),
        },
    })
}
