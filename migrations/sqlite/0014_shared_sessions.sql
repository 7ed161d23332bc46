-- State the instances sharing one database must agree on (issue 8).

-- Live viewing sessions, counted against max_connections whatever instance admitted them. A
-- session not refreshed for 90 s (last_seen, Unix seconds) is over and is cleaned up; each
-- instance refreshes the sessions it serves at most every 30 s, so heartbeats rarely write.
CREATE TABLE stream_sessions (
    username   TEXT    NOT NULL REFERENCES subscribers (username) ON DELETE CASCADE ON UPDATE CASCADE,
    session    TEXT    NOT NULL,
    instance   TEXT    NOT NULL,
    last_seen  BIGINT  NOT NULL,
    PRIMARY KEY (username, session)
);
CREATE INDEX idx_stream_sessions_last_seen ON stream_sessions (last_seen);

-- Sessions ended by /kick, refused until they have been idle for 90 s.
CREATE TABLE stream_kicks (
    username   TEXT    NOT NULL,
    session    TEXT    NOT NULL,
    kicked_at  BIGINT  NOT NULL,
    PRIMARY KEY (username, session)
);
CREATE INDEX idx_stream_kicks_kicked_at ON stream_kicks (kicked_at);

-- Failed player logins per client (an IPv4 address or an IPv6 /64): when its allowance is full
-- again, in Unix milliseconds (the theoretical arrival time of GCRA). Rows past it are cleaned up.
CREATE TABLE failed_logins (
    client   TEXT    PRIMARY KEY,
    full_at  BIGINT  NOT NULL
);
CREATE INDEX idx_failed_logins_full_at ON failed_logins (full_at);
