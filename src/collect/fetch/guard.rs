//! Keeping the crawler out of the operator's own network: a page, feed or sitemap may link to
//! any address, and nashra must not be made to fetch `http://169.254.169.254/` or an intranet
//! service and publish the answer. Hosts that resolve only to loopback, private, link-local or
//! other non-public addresses are refused — unless the operator configured them (a source's own
//! host, such as the demo on 127.0.0.1, or a CMS on the intranet).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Whether an address is reachable on the public internet.
pub(super) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link-local
        }
    }
}

/// The hosts the operator configured, which may be private.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Arc<HashSet<String>>);

impl AllowedHosts {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect()))
    }

    fn contains(&self, host: &str) -> bool {
        self.0.contains(&host.to_ascii_lowercase())
    }

    /// `Err` with the reason if `url` names a non-public IP address the operator did not configure.
    /// (Names are checked when they are resolved; see `PublicResolver`.)
    pub(super) fn check_literal(&self, url: &Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if is_public(ip) || url.host_str().is_some_and(|h| self.contains(h)) {
            Ok(())
        } else {
            Err(format!("{ip} is not a public address, and no source is configured there"))
        }
    }
}

/// A resolver that drops non-public addresses for hosts the operator did not configure.
pub(super) struct PublicResolver(pub AllowedHosts);

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.0.contains(&host);
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> =
                if allowed { found } else { found.into_iter().filter(|a| is_public(a.ip())).collect() };
            if usable.is_empty() {
                return Err(format!("{host} has no public address (and no source is configured there)").into());
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "185.60.216.35", "2a00:1450:4001:80b::200e"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn configured_hosts_may_be_private() {
        let allowed = AllowedHosts::new(["127.0.0.1".to_owned()]);
        assert!(allowed.check_literal(&Url::parse("http://127.0.0.1:8080/demo/").unwrap()).is_ok());
        assert!(allowed.check_literal(&Url::parse("http://127.0.0.2/").unwrap()).is_err());
        assert!(allowed.check_literal(&Url::parse("http://169.254.169.254/latest/").unwrap()).is_err());
        assert!(allowed.check_literal(&Url::parse("https://news.example/").unwrap()).is_ok());
    }
}
