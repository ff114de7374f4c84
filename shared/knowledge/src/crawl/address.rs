//! The public-address rule: only public addresses are fetched. Loopback, private,
//! shared (carrier-grade NAT), link-local (so no cloud metadata endpoint), multicast,
//! broadcast, unspecified, documentation and reserved addresses are refused, in IPv4 and
//! IPv6, IPv4 written inside IPv6 (mapped, compatible, NAT64) included; loopback only is
//! let through when the deployment allows it (the local server, for its own demo site).
//!
//! The check runs where the connection is made: [`GuardedResolver`] is the crawler's HTTP
//! client's resolver, so a name is checked after it is resolved and before any connection,
//! on every request and redirect; a URL whose host is an address is checked by
//! [`check_url`] before the request is made (a resolver never sees those).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// What a deployment lets the crawler reach beyond the public internet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback addresses (127.0.0.0/8, ::1): the local server's own sites.
    pub allow_loopback: bool,
}

/// Why an address is not fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7.
    Private,
    /// 169.254/16 (the cloud metadata endpoint's), fe80::/10.
    LinkLocal,
    /// 224/4, ff00::/8, 255.255.255.255.
    Multicast,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// Documentation, benchmarking, protocol assignments and the reserved 240/4.
    Reserved,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::Multicast => "a multicast or broadcast address",
            Self::Unspecified => "an unspecified address",
            Self::Reserved => "a reserved address",
        })
    }
}

impl std::error::Error for Refusal {}

/// Whether `ip` may be fetched under `policy`.
pub fn check(ip: IpAddr, policy: AddressPolicy) -> Result<(), Refusal> {
    let refusal = match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    };
    match refusal {
        None => Ok(()),
        Some(Refusal::Loopback) if policy.allow_loopback => Ok(()),
        Some(refusal) => Err(refusal),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_unspecified() || a == 0 => Refusal::Unspecified,
        _ if ip.is_loopback() => Refusal::Loopback,
        // 100.64.0.0/10: shared address space, private to a carrier (and a cloud's
        // metadata service on some).
        _ if ip.is_private() || (a == 100 && (b & 0xc0) == 64) => Refusal::Private,
        _ if ip.is_link_local() => Refusal::LinkLocal,
        _ if ip.is_multicast() || ip.is_broadcast() => Refusal::Multicast,
        // 192.0.0.0/24, documentation ranges, 198.18.0.0/15, 240.0.0.0/4.
        _ if (a == 192 && b == 0 && c == 0)
            || ip.is_documentation()
            || (a == 198 && (b & 0xfe) == 18)
            || a >= 240 =>
        {
            Refusal::Reserved
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    // IPv4 inside IPv6 is judged as the IPv4 address it carries: mapped (::ffff:a.b.c.d),
    // compatible (::a.b.c.d, deprecated but still routed by some stacks) and NAT64
    // (64:ff9b::/96).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    let embedded = Ipv4Addr::from(((segments[6] as u32) << 16) | segments[7] as u32);
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return classify_v4(embedded);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded);
    }
    Some(match segments[0] {
        _ if ip.is_unspecified() => Refusal::Unspecified,
        _ if ip.is_loopback() => Refusal::Loopback,
        s if (s & 0xfe00) == 0xfc00 => Refusal::Private,
        s if (s & 0xffc0) == 0xfe80 => Refusal::LinkLocal,
        // fec0::/10, the deprecated site-local range: private in effect.
        s if (s & 0xffc0) == 0xfec0 => Refusal::Private,
        s if (s & 0xff00) == 0xff00 => Refusal::Multicast,
        // 2001:db8::/32 documentation; 100::/64 discard.
        0x2001 if segments[1] == 0x0db8 => Refusal::Reserved,
        0x0100 if segments[1..4] == [0, 0, 0] => Refusal::Reserved,
        _ => return None,
    })
}

/// Why a URL is not fetched before any name is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not `http` or `https`.
    Scheme(String),
    /// No host.
    NoHost,
    /// Its host is an address the policy refuses.
    Address(Refusal),
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme(scheme) => write!(f, "the scheme {scheme} is not fetched"),
            Self::NoHost => f.write_str("the URL has no host"),
            Self::Address(refusal) => write!(f, "the URL's host is {refusal}"),
        }
    }
}

/// Checks what can be checked of `url` before resolving its name: its scheme, and its
/// host when that is an address (however it was spelled: the URL parser reads
/// `http://2130706433/`, `http://0x7f.1/` and `http://[::ffff:7f00:1]/` as the addresses
/// they are).
pub fn check_url(url: &Url, policy: AddressPolicy) -> Result<(), UrlRefusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefusal::Scheme(url.scheme().to_owned()));
    }
    match url.host() {
        None => Err(UrlRefusal::NoHost),
        Some(Host::Ipv4(ip)) => check(IpAddr::V4(ip), policy).map_err(UrlRefusal::Address),
        Some(Host::Ipv6(ip)) => check(IpAddr::V6(ip), policy).map_err(UrlRefusal::Address),
        Some(Host::Domain(_)) => Ok(()),
    }
}

/// The crawler's resolver: the system's, then the rule. A name with any address the
/// policy refuses is refused whole, so that a name answering with one public and one
/// private address cannot be steered to the private one.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    /// A resolver applying `policy`.
    pub fn new(policy: AddressPolicy) -> Arc<Self> {
        Arc::new(Self { policy })
    }
}

/// A name that resolved to an address the rule refuses.
#[derive(Debug)]
pub struct RefusedName {
    /// The name.
    pub name: String,
    /// The address it resolved to.
    pub address: IpAddr,
    /// Why that address is refused.
    pub refusal: Refusal,
}

impl fmt::Display for RefusedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to {} ({}), which is not fetched",
            self.name, self.address, self.refusal
        )
    }
}

impl std::error::Error for RefusedName {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for address in &resolved {
                if let Err(refusal) = check(address.ip(), policy) {
                    return Err(Box::new(RefusedName {
                        name: host,
                        address: address.ip(),
                        refusal,
                    })
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(resolved.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
    };
    const LOCAL: AddressPolicy = AddressPolicy {
        allow_loopback: true,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(check(ip(public), STRICT), Ok(()), "{public}");
        }
    }

    #[test]
    fn every_kind_of_non_public_address_is_refused() {
        use Refusal::*;
        for (address, why) in [
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("100.100.100.200", Private),
            ("169.254.169.254", LinkLocal),
            ("169.254.170.2", LinkLocal),
            ("224.0.0.1", Multicast),
            ("255.255.255.255", Multicast),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("192.0.0.1", Reserved),
            ("192.0.2.1", Reserved),
            ("198.18.0.1", Reserved),
            ("240.0.0.1", Reserved),
            ("::1", Loopback),
            ("::", Unspecified),
            ("fc00::1", Private),
            ("fd00:ec2::254", Private),
            ("fe80::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.0.0.1", Private),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
        ] {
            assert_eq!(check(ip(address), STRICT), Err(why), "{address}");
        }
    }

    #[test]
    fn only_loopback_is_let_through_when_the_deployment_allows_it() {
        assert_eq!(check(ip("127.0.0.1"), LOCAL), Ok(()));
        assert_eq!(check(ip("::1"), LOCAL), Ok(()));
        assert_eq!(check(ip("::ffff:127.0.0.1"), LOCAL), Ok(()));
        assert_eq!(check(ip("10.0.0.1"), LOCAL), Err(Refusal::Private));
        assert_eq!(check(ip("169.254.169.254"), LOCAL), Err(Refusal::LinkLocal));
    }

    #[test]
    fn odd_spellings_of_an_address_are_read_as_that_address() {
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "https://127.0.0.1:8443/admin",
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(
                check_url(&parsed, STRICT),
                Err(UrlRefusal::Address(Refusal::Loopback)),
                "{url}"
            );
        }
        let metadata = Url::parse("http://0xa9fea9fe/latest/meta-data/").unwrap();
        assert_eq!(
            check_url(&metadata, STRICT),
            Err(UrlRefusal::Address(Refusal::LinkLocal))
        );
        for (url, refusal) in [
            ("file:///etc/passwd", UrlRefusal::Scheme("file".into())),
            ("ftp://example.com/", UrlRefusal::Scheme("ftp".into())),
            ("gopher://example.com/", UrlRefusal::Scheme("gopher".into())),
        ] {
            assert_eq!(check_url(&Url::parse(url).unwrap(), STRICT), Err(refusal));
        }
        assert_eq!(
            check_url(&Url::parse("https://example.com/").unwrap(), STRICT),
            Ok(())
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_before_any_connection() {
        let resolver = GuardedResolver::new(STRICT);
        let error = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved"),
            Err(error) => error,
        };
        assert!(error.to_string().contains("loopback"), "{error}");
        let allowed = GuardedResolver::new(LOCAL);
        let addresses: Vec<_> = match allowed.resolve("localhost".parse().unwrap()).await {
            Ok(addresses) => addresses.collect(),
            Err(error) => panic!("{error}"),
        };
        assert!(addresses.iter().all(|a| a.ip().is_loopback()));
    }
}
