//! Keeping the crawler out of the operator's own network: a page, feed or sitemap may link to
//! any address, and nashra must not be made to fetch `http://169.254.169.254/` or an intranet
//! service and publish the answer. A URL is fetched from a non-public address (loopback, private,
//! link-local, unique-local, CGNAT, documentation, multicast, reserved — in every spelling: IPv4
//! as `127.1`, `2130706433` or `0x7f000001`, IPv6, IPv4-mapped, -compatible, NAT64 and 6to4) only
//! when its exact scheme, host and port are those of a configured source; never by host name
//! alone, never for `site.base_url`. Every other request goes through a client whose resolver
//! drops non-public addresses, so the check holds for the address actually connected to, on every
//! hop of a redirect chain and whatever a name resolves to at that moment (DNS rebinding). Even
//! at a source's origin, a name never reaches a link-local address (the cloud metadata service).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Whether an address is reachable on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if v6.is_loopback() || v6.is_unspecified() {
        return false;
    }
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96): judged by the IPv4 address inside.
    if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4 (2002::/16) carries its IPv4 address in the next 32 bits.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    // Global unicast is 2000::/3; inside it, the IETF's special blocks (Teredo, benchmarking,
    // ORCHID: 2001::/23) and the documentation blocks (2001:db8::/32, 3fff::/20) are not public.
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] < 0x0200)
        && !(s[0] == 0x2001 && s[1] == 0x0db8)
        && (s[0] & 0xfff0) != 0x3ff0
}

/// An origin as the URL standard normalises it: `HTTP://127.1:80/` is `http://127.0.0.1:80`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Self> {
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

/// The origins (scheme, host, port) of the operator's sources: the only ones that may be reached
/// at a non-public address.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Arc<HashSet<Origin>>);

/// How a URL may be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// The origin of a configured source: at whatever address its host has.
    Configured,
    /// Anything else: at public addresses only.
    Public,
}

impl AllowedOrigins {
    pub fn new<'a>(urls: impl IntoIterator<Item = &'a Url>) -> Self {
        Self(Arc::new(urls.into_iter().filter_map(Origin::of).collect()))
    }

    /// How `url` may be reached, or why it may not: a non-public address written in the URL is
    /// refused here; a name is checked by the public client's resolver when it is resolved.
    pub(super) fn reach(&self, url: &Url) -> Result<Reach, String> {
        if Origin::of(url).is_some_and(|o| self.0.contains(&o)) {
            return Ok(Reach::Configured);
        }
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(Reach::Public),
        };
        if is_public(ip) {
            Ok(Reach::Public)
        } else {
            Err(format!("{ip} is not a public address, and no source is configured at this scheme, host and port"))
        }
    }
}

/// Whether an address may be reached at a configured source's origin named by a host name:
/// anything but link-local (the cloud metadata service, 169.254.169.254 and fe80::/10),
/// unspecified, broadcast and multicast addresses — a source's name that comes to resolve there
/// (a hijacked DNS record) reaches nothing that answers with secrets.
fn is_reachable_at_a_source(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => !(v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
        IpAddr::V6(v6) => !((v6.segments()[0] & 0xffc0) == 0xfe80 || v6.is_unspecified() || v6.is_multicast()),
    }
}

/// A resolver that keeps the addresses `keep` allows: the public client's keeps public
/// addresses only (every URL not at a configured source's origin); the configured client's
/// keeps all but link-local and the like.
pub(super) struct FilteringResolver {
    keep: fn(IpAddr) -> bool,
    /// What the kept addresses are, for the error.
    kind: &'static str,
}

impl FilteringResolver {
    pub(super) const PUBLIC: Self = Self { keep: is_public, kind: "public address" };
    pub(super) const SOURCE: Self = Self { keep: is_reachable_at_a_source, kind: "address a source may have" };
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let (keep, kind) = (self.keep, self.kind);
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found.iter().copied().filter(|a| keep(a.ip())).collect();
            if usable.is_empty() {
                let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} has no {kind} ({}), and no source is configured at this scheme, host and port",
                    if shown.is_empty() { "none found".to_owned() } else { shown.join(", ") }
                )
                .into());
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
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "185.60.216.35",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    /// Every spelling of a loopback or internal address the URL standard accepts is read as that
    /// address, and refused unless its exact origin is a source's.
    #[test]
    fn only_a_sources_exact_origin_may_be_private() {
        let source = Url::parse("http://127.0.0.1:8080/demo/").unwrap();
        let allowed = AllowedOrigins::new([&source]);
        let reach = |u: &str| allowed.reach(&Url::parse(u).unwrap());
        for same in [
            "http://127.0.0.1:8080/demo/a.html",
            "HTTP://127.0.0.1:8080/other",
            "http://127.1:8080/",
            "http://2130706433:8080/",
            "http://0x7f000001:8080/",
            "http://0177.0.0.1:8080/",
        ] {
            assert_eq!(reach(same), Ok(Reach::Configured), "{same}");
        }
        for refused in [
            "http://127.0.0.1:8081/",
            "http://127.0.0.1/",
            "https://127.0.0.1:8080/",
            "http://127.1:9000/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.0.0.2:8080/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]:8080/",
            "http://[::ffff:7f00:1]:8080/",
            "http://[0:0:0:0:0:ffff:7f00:1]:8080/",
            "http://[::127.0.0.1]:8080/",
            "http://0.0.0.0:8080/",
            "http://0:8080/",
            "http://[::]:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/",
            "http://10.0.0.1/",
            "http://%31%32%37.0.0.1:9000/",
            "http://１２７.０.０.１:9000/",
        ] {
            assert!(reach(refused).is_err(), "{refused}: {:?}", reach(refused));
        }
        // Names go to the public client, whose resolver checks what they resolve to.
        assert_eq!(reach("https://news.example/"), Ok(Reach::Public));
        assert_eq!(reach("http://localhost:8080/"), Ok(Reach::Public));
        assert_eq!(reach("http://8.8.8.8/"), Ok(Reach::Public));
    }

    #[test]
    fn a_sources_name_never_reaches_the_metadata_service() {
        for ip in ["169.254.169.254", "fe80::1", "0.0.0.0", "224.0.0.1", "::ffff:169.254.169.254"] {
            assert!(!is_reachable_at_a_source(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.5", "fd00::5", "8.8.8.8"] {
            assert!(is_reachable_at_a_source(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn the_public_resolver_refuses_a_name_of_an_internal_address() {
        let name: Name = "localhost".parse().unwrap();
        let error = match FilteringResolver::PUBLIC.resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("localhost has no public address"), "{error}");
    }
}
