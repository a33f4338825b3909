//! Host names and addresses as URLs and `Host` headers write them, compared by what they mean rather than by how
//! they are spelled: `LOCALHOST`, `localhost.`, `127.1`, `0x7f000001`, `2130706433` and `[::ffff:127.0.0.1]` all
//! name the loopback interface, as the system resolver would read them. Used by the self-loop check on base URLs,
//! the outbound address policy and the `Host` check of a gateway bound to loopback. Nothing here allocates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host without IPv6 brackets and without one trailing dot (the DNS root, which names the same host).
pub fn bare_host(host: &str) -> &str {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host)
}

/// Reads `host` as an IP address in any form the system resolver accepts as one: IPv6 (bracketed or not), and
/// IPv4 in the classic `inet_aton` forms — one to four parts, each decimal, octal (leading `0`) or hex (`0x`), the
/// last part filling the remaining bytes (`127.1`, `0177.0.0.1`, `0x7f000001`, `2130706433`). IPv4-mapped and
/// IPv4-compatible IPv6 addresses come back as the IPv4 address they carry. `None` for a name.
pub fn parse_ip(host: &str) -> Option<IpAddr> {
    let host = bare_host(host);
    if host.contains(':') {
        return host.parse::<Ipv6Addr>().ok().map(|ip| canonical(IpAddr::V6(ip)));
    }
    parse_ipv4_loose(host).map(IpAddr::V4)
}

/// An IPv6 address that carries an IPv4 one (`::ffff:a.b.c.d`, or the deprecated `::a.b.c.d`) as that IPv4
/// address; any other address unchanged. Policies and loop checks compare canonical addresses.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            let compatible = segments[..6].iter().all(|&s| s == 0) && (segments[6] != 0 || segments[7] > 1);
            if compatible {
                let [.., a, b, c, d] = v6.octets();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            ip
        }
        IpAddr::V4(_) => ip,
    }
}

fn parse_ipv4_loose(host: &str) -> Option<Ipv4Addr> {
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x' || b == b'X') {
        return None;
    }
    let mut parts = [0u32; 4];
    let mut count = 0;
    for part in host.split('.') {
        if count == 4 {
            return None;
        }
        parts[count] = parse_ipv4_part(part)?;
        count += 1;
    }
    let value = match count {
        1 => parts[0],
        2 if parts[0] <= 0xff && parts[1] <= 0xff_ffff => parts[0] << 24 | parts[1],
        3 if parts[0] <= 0xff && parts[1] <= 0xff && parts[2] <= 0xffff => parts[0] << 24 | parts[1] << 16 | parts[2],
        4 if parts.iter().all(|&p| p <= 0xff) => parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3],
        _ => return None,
    };
    Some(Ipv4Addr::from(value))
}

fn parse_ipv4_part(part: &str) -> Option<u32> {
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        // `0x` alone is 0 to inet_aton; an empty part (`1..2`) is not a number.
        return (radix == 16).then_some(0);
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Whether `host` names this machine's loopback interface: `localhost`, a name under `.localhost` (RFC 6761:
/// resolvers and browsers keep them on loopback), or an address in `127.0.0.0/8` or `::1`, however written.
pub fn is_loopback_host(host: &str) -> bool {
    match parse_ip(host) {
        Some(ip) => ip.is_loopback(),
        None => is_localhost_name(bare_host(host)),
    }
}

/// Whether `host` is an address that means "every interface" (`0.0.0.0`, `::`): connecting to it reaches this
/// machine.
pub fn is_unspecified_host(host: &str) -> bool {
    parse_ip(host).is_some_and(|ip| ip.is_unspecified())
}

fn is_localhost_name(name: &str) -> bool {
    const SUFFIX: &str = ".localhost";
    name.eq_ignore_ascii_case("localhost")
        || (name.len() > SUFFIX.len() && {
            let at = name.len() - SUFFIX.len();
            name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(SUFFIX)
        })
}

/// Whether two hosts name the same machine: equal addresses (after [`canonical`]), or equal names (case and a
/// trailing dot aside), or both on this machine's loopback interface.
pub fn same_host(a: &str, b: &str) -> bool {
    let local = |h: &str| is_loopback_host(h) || is_unspecified_host(h);
    if local(a) && local(b) {
        return true;
    }
    match (parse_ip(a), parse_ip(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => bare_host(a).eq_ignore_ascii_case(bare_host(b)),
        _ => false,
    }
}

/// Splits a `Host` header value (or a URL authority without userinfo) into host and port: `[::1]:8082`,
/// `localhost:8082`, `example.com`. The port is `None` when absent or not a number.
pub fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some(end) = rest.find(']') else { return (authority, None) };
        let host = &authority[..end + 2];
        let port = rest[end + 1..].strip_prefix(':').and_then(|p| p.parse().ok());
        return (host, port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn loopback_in_every_spelling() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "0x7f000001",
            "0X7F.1",
            "2130706433",
            "0177.0.0.1",
            "017700000001",
            "127.255.255.254",
            "[::1]",
            "::1",
            "[::ffff:127.0.0.1]",
            "::ffff:7f00:1",
            "[::127.0.0.1]",
            "127.0.0.1.",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.example.com",
            "mylocalhost",
            "128.0.0.1",
            "0x80000001",
            "::2",
            "10.0.0.1",
            "",
            "[::1",
            "1.2.3.4.5",
            "256.0.0.1",
            "0x",
            "1..1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(parse_ip("169.254.43518"), Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))));
        assert_eq!(parse_ip("0xa9fea9fe"), Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))));
        assert_eq!(parse_ip("2852039166"), Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))));
        assert_eq!(parse_ip("[::ffff:169.254.169.254]"), Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))));
        assert_eq!(parse_ip("fd00:ec2::254"), Some("fd00:ec2::254".parse().unwrap()));
        assert_eq!(parse_ip("4294967296"), None, "over 32 bits");
        assert_eq!(parse_ip("08.0.0.1"), None, "8 is not an octal digit");
        assert_eq!(parse_ip("deadbeef"), None, "hex needs its 0x");
        assert_eq!(parse_ip("::"), Some("::".parse().unwrap()));
    }

    #[test]
    fn same_host_by_meaning() {
        assert!(same_host("LOCALHOST", "127.0.0.1"));
        assert!(same_host("0.0.0.0", "127.1"));
        assert!(same_host("[::ffff:127.0.0.1]", "::1"));
        assert!(same_host("Example.COM.", "example.com"));
        assert!(same_host("10.0.0.5", "012.0.0.5"));
        assert!(!same_host("10.0.0.5", "10.0.0.6"));
        assert!(!same_host("example.com", "127.0.0.1"));
    }

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("127.0.0.1:8082"), ("127.0.0.1", Some(8082)));
        assert_eq!(split_host_port("[::1]:80"), ("[::1]", Some(80)));
        assert_eq!(split_host_port("[::1]"), ("[::1]", None));
        assert_eq!(split_host_port("localhost"), ("localhost", None));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("host:x"), ("host", None));
    }

    proptest! {
        #[test]
        fn every_ipv4_in_its_dotted_and_integer_forms(n in any::<u32>()) {
            let ip = Ipv4Addr::from(n);
            prop_assert_eq!(parse_ip(&ip.to_string()), Some(IpAddr::V4(ip)));
            prop_assert_eq!(parse_ip(&n.to_string()), Some(IpAddr::V4(ip)));
            prop_assert_eq!(parse_ip(&format!("{n:#x}")), Some(IpAddr::V4(ip)));
            let [a, b, ..] = ip.octets();
            prop_assert_eq!(parse_ip(&format!("{a}.{b}.{}", n & 0xffff)), Some(IpAddr::V4(ip)));
            prop_assert_eq!(parse_ip(&format!("[::ffff:{ip}]")), Some(IpAddr::V4(ip)));
        }

        #[test]
        fn never_panics(host in "\\PC{0,40}") {
            let _ = (is_loopback_host(&host), parse_ip(&host), split_host_port(&host));
        }
    }
}
