//! The address a player request comes from. Failed logins are counted per address, so behind a
//! reverse proxy (the several-instance deployment) the peer is the proxy for every player: one
//! guesser would lock everyone out. When the peer is a proxy the operator listed, the client is
//! taken from `X-Forwarded-For`, read from the right (the entries nearest us), skipping the
//! listed proxies: everything left of the first unlisted address is the client's to forge.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// Proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From a comma-separated list of addresses and networks (`10.0.0.5, 10.1.0.0/16`); the
    /// error names the entry that is neither.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("“{s}” is neither an IP address nor a network such as 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values received.
    fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.contains(client) => client = ip,
                // A hop that is not an address ends what can be believed.
                _ => break,
            }
        }
        client
    }
}

/// The player's address: the peer, or the client a trusted proxy reports.
pub(crate) struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(ClientAddr(state.server.proxies.client(peer, forwarded)))
    }
}

#[cfg(test)]
mod tests {
    use super::TrustedProxies;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn only_a_listed_proxy_is_believed_and_only_up_to_the_first_unlisted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.5, 10.1.0.0/16").expect("parses");
        // Not a proxy: its header is the client's own invention.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), ["198.51.100.1"].into_iter()),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.5"), ["198.51.100.1"].into_iter()),
            ip("198.51.100.1")
        );
        // A forged entry left of the real client changes nothing; listed hops are skipped.
        assert_eq!(
            proxies.client(
                ip("10.0.0.5"),
                ["1.2.3.4, 198.51.100.1", "10.1.2.3"].into_iter()
            ),
            ip("198.51.100.1")
        );
        // No header, or junk: the proxy itself.
        assert_eq!(
            proxies.client(ip("10.0.0.5"), std::iter::empty()),
            ip("10.0.0.5")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.5"), ["unknown"].into_iter()),
            ip("10.0.0.5")
        );
        // An IPv4 peer seen as IPv6 on a dual-stack socket is still the listed proxy.
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.5"), ["198.51.100.1"].into_iter()),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_bad_entry_is_named() {
        let error = TrustedProxies::parse("10.0.0.5, proxy.lan").unwrap_err();
        assert!(error.contains("“proxy.lan”"), "{error}");
        assert!(
            TrustedProxies::parse("")
                .expect("empty is none")
                .0
                .is_empty()
        );
    }
}
