//! The outbound address policy (`UPSTREAM_ALLOW` / `UPSTREAM_DENY`): which hosts and addresses the gateway may
//! open upstream connections to. Entries are CIDR blocks (`10.0.0.0/8`, `fd00::/8`), single addresses, and host
//! patterns (`metadata.google.internal`, `*.internal`). A destination is refused when its name or any of its
//! addresses matches a deny entry, or when an allow list is set and neither its name nor its address matches an
//! allow entry. By default the link-local ranges and the cloud metadata endpoints are denied and everything else
//! is allowed.
//!
//! The policy is applied twice: at configuration time to base URLs whose host is a literal address or matches a
//! name pattern (an early, clear error for the admin), and at connect time to every address a host name resolves
//! to (`crate::upstream::client`), so a name that resolves into a denied range is refused whatever DNS says.

use std::fmt;
use std::net::IpAddr;

use super::address::{bare_host, canonical, parse_ip};

/// The deny list used when `UPSTREAM_DENY` is not set (and what the word `default` stands for in it): link-local
/// addresses, where the cloud metadata services answer, and those services' names.
pub const DEFAULT_DENY: [&str; 7] = [
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254",
    "100.100.100.200",
    "64:ff9b::a9fe:0/112",
    "metadata.google.internal",
    "metadata.goog",
];

/// One entry of an allow or deny list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// A CIDR block (a single address is a block of its full length).
    Net { network: IpAddr, prefix: u8 },
    /// A host name, or `*.suffix` for every name under `suffix`; lower case, no trailing dot.
    Name { name: String, any_below: bool },
}

impl Rule {
    fn parse(entry: &str) -> Result<Self, String> {
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        if let Ok(ip) = bare_host(address).parse::<IpAddr>() {
            let ip = canonical(ip);
            let full = if ip.is_ipv4() { 32 } else { 128 };
            // A block written in IPv6 around a mapped IPv4 block (`::ffff:10.0.0.0/104`) is that IPv4 block.
            let shift = if ip.is_ipv4() && bare_host(address).contains(':') { 96 } else { 0 };
            let prefix = match prefix {
                None => full,
                Some(p) => match p.parse::<u8>() {
                    Ok(p) if p >= shift && p - shift <= full => p - shift,
                    _ => {
                        return Err(format!("'{entry}': the prefix length must be a number from 0 to {}", full + shift))
                    }
                },
            };
            return Ok(Self::Net { network: ip, prefix });
        }
        if prefix.is_some() {
            return Err(format!("'{entry}': not a CIDR block (an IPv4 or IPv6 address, '/', a prefix length)"));
        }
        let name = bare_host(entry).to_ascii_lowercase();
        let (any_below, rest) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, name),
        };
        let valid = !rest.is_empty()
            && rest.split('.').all(|label| {
                !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(format!(
                "'{entry}': not a CIDR block, an address or a host name pattern (a name, or *.suffix for every name under it)"
            ));
        }
        Ok(Self::Name { name: rest, any_below })
    }

    fn matches_ip(&self, ip: IpAddr) -> bool {
        let Self::Net { network, prefix } = self else { return false };
        match (network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// `name`: lower case, without a trailing dot.
    fn matches_name(&self, name: &str) -> bool {
        let Self::Name { name: pattern, any_below } = self else { return false };
        if *any_below {
            name.len() > pattern.len() + 1
                && name.ends_with(pattern.as_str())
                && name.as_bytes()[name.len() - pattern.len() - 1] == b'.'
        } else {
            name == pattern
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net { network, prefix } => write!(f, "{network}/{prefix}"),
            Self::Name { name, any_below: true } => write!(f, "*.{name}"),
            Self::Name { name, any_below: false } => f.write_str(name),
        }
    }
}

/// Where upstream connections may go. Immutable; part of each configuration snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

impl Default for OutboundPolicy {
    /// Everything allowed except [`DEFAULT_DENY`].
    fn default() -> Self {
        Self { allow: vec![], deny: default_deny() }
    }
}

fn default_deny() -> Vec<Rule> {
    // The built-in entries are valid; a failure here would be a typo caught by the unit tests.
    DEFAULT_DENY.iter().filter_map(|e| Rule::parse(e).ok()).collect()
}

/// Why a destination is refused: one sentence naming the policy entry, for errors and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

impl OutboundPolicy {
    /// Builds the policy from the configured lists: `allow` (none: everything not denied), and `deny` (none: the
    /// default list; the word `default` in it stands for the default list, the word `none` for an empty one).
    /// Entries are separated by commas or whitespace; `field` names the setting in errors.
    pub fn from_lists(allow: Option<&[String]>, deny: Option<&[String]>) -> Result<Self, String> {
        let allow = match allow {
            None => vec![],
            Some(entries) => parse_list("upstream_allow (UPSTREAM_ALLOW)", entries, false)?,
        };
        let deny = match deny {
            None => default_deny(),
            Some(entries) => parse_list("upstream_deny (UPSTREAM_DENY)", entries, true)?,
        };
        Ok(Self { allow, deny })
    }

    /// Whether connecting to `ip`, reached through the name `host` (or written as `host`), is allowed.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), Refusal> {
        let ip = canonical(ip);
        let name = normal_name(host);
        if let Some(rule) = self.deny.iter().find(|r| r.matches_ip(ip) || r.matches_name(&name)) {
            return Err(Refusal(format!(
                "address {ip} of '{host}' is refused by the outbound address policy (upstream_deny entry {rule})"
            )));
        }
        if self.allow.is_empty() || self.allow.iter().any(|r| r.matches_ip(ip) || r.matches_name(&name)) {
            return Ok(());
        }
        Err(Refusal(format!(
            "address {ip} of '{host}' is refused by the outbound address policy (not in upstream_allow)"
        )))
    }

    /// What can be decided about `host` before connecting: a literal address is checked whole; a name is refused
    /// when it matches a deny pattern, or when the allow list has only name patterns and none matches it (an
    /// allow list with address blocks is checked once the name resolves).
    pub fn check_host(&self, host: &str) -> Result<(), Refusal> {
        if let Some(ip) = parse_ip(host) {
            return self.check_address(host, ip);
        }
        let name = normal_name(host);
        if let Some(rule) = self.deny.iter().find(|r| r.matches_name(&name)) {
            return Err(Refusal(format!(
                "host '{host}' is refused by the outbound address policy (upstream_deny entry {rule})"
            )));
        }
        let allowed_by_name = self.allow.iter().any(|r| r.matches_name(&name));
        let decided_at_connect = self.allow.iter().any(|r| matches!(r, Rule::Net { .. }));
        if self.allow.is_empty() || allowed_by_name || decided_at_connect {
            return Ok(());
        }
        Err(Refusal(format!("host '{host}' is refused by the outbound address policy (not in upstream_allow)")))
    }

    /// The lists as configured, for `GET /admin/config`.
    pub fn describe(&self) -> (Vec<String>, Vec<String>) {
        (self.allow.iter().map(Rule::to_string).collect(), self.deny.iter().map(Rule::to_string).collect())
    }
}

/// A name as rules compare it: lower case, without brackets or a trailing dot. Allocates only for names with
/// upper-case letters.
fn normal_name(host: &str) -> std::borrow::Cow<'_, str> {
    let bare = bare_host(host);
    if bare.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(bare.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(bare)
    }
}

fn parse_list(field: &str, entries: &[String], is_deny: bool) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let words = entries.iter().flat_map(|e| e.split(|c: char| c == ',' || c.is_whitespace())).filter(|w| !w.is_empty());
    for word in words {
        match word {
            "default" if is_deny => rules.extend(default_deny()),
            "none" => {}
            _ => rules.push(Rule::parse(word).map_err(|e| format!("{field}: {e}"))?),
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: Option<&[&str]>, deny: Option<&[&str]>) -> OutboundPolicy {
        let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        OutboundPolicy::from_lists(allow.map(owned).as_deref(), deny.map(owned).as_deref()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_list_parses_whole() {
        assert_eq!(default_deny().len(), DEFAULT_DENY.len());
    }

    #[test]
    fn default_denies_metadata_and_link_local_in_every_spelling() {
        let p = OutboundPolicy::default();
        for host in [
            "169.254.169.254",
            "[::ffff:169.254.169.254]",
            "0xa9fea9fe",
            "2852039166",
            "169.254.43518",
            "[fd00:ec2::254]",
            "[fe80::1]",
            "100.100.100.200",
            "metadata.google.internal",
            "METADATA.google.internal.",
            "metadata.goog",
            "[64:ff9b::a9fe:a9fe]",
        ] {
            let e = p.check_host(host).unwrap_err().to_string();
            assert!(e.contains("outbound address policy") && e.contains("upstream_deny"), "{host}: {e}");
        }
        for host in ["127.0.0.1", "localhost", "10.1.2.3", "api.anthropic.com", "[::1]", "192.168.0.10"] {
            assert!(p.check_host(host).is_ok(), "{host}");
        }
        assert!(p.check_address("evil.example", ip("169.254.169.254")).is_err(), "a name resolving there");
        assert!(p.check_address("evil.example", ip("::ffff:169.254.1.1")).is_err());
        assert!(p.check_address("api.example", ip("93.184.216.34")).is_ok());
    }

    #[test]
    fn deny_replaces_the_default_unless_it_says_default() {
        let p = policy(None, Some(&["127.0.0.0/8"]));
        assert!(p.check_host("127.0.0.1").is_err());
        assert!(p.check_host("169.254.169.254").is_ok(), "the default list was replaced");
        assert!(p.check_address("localhost", ip("127.0.0.1")).is_err());
        let p = policy(None, Some(&["default, 127.0.0.0/8 10.0.0.0/8"]));
        assert!(p.check_host("169.254.169.254").is_err() && p.check_host("10.9.9.9").is_err());
        assert!(policy(None, Some(&["none"])).check_host("169.254.169.254").is_ok());
    }

    #[test]
    fn allow_lists_restrict_and_deny_wins() {
        let p = policy(Some(&["*.example.com", "10.0.0.0/8"]), None);
        assert!(p.check_address("api.example.com", ip("93.184.216.34")).is_ok(), "allowed by name");
        assert!(p.check_address("internal", ip("10.2.3.4")).is_ok(), "allowed by address");
        assert!(p.check_address("other.org", ip("93.184.216.34")).unwrap_err().to_string().contains("upstream_allow"));
        assert!(p.check_host("other.org").is_ok(), "undecided until it resolves");
        assert!(p.check_address("api.example.com", ip("169.254.169.254")).is_err(), "deny wins over allow");
        assert!(!Rule::parse("*.example.com").unwrap().matches_name("example.com"));
        let names_only = policy(Some(&["api.example.com"]), None);
        assert!(names_only.check_host("other.org").is_err(), "no address block can allow it later");
        assert!(names_only.check_host("API.Example.com").is_ok());
    }

    #[test]
    fn cidr_matching() {
        let r = Rule::parse("10.0.0.0/8").unwrap();
        assert!(r.matches_ip(ip("10.255.0.1")) && !r.matches_ip(ip("11.0.0.1")));
        assert!(Rule::parse("0.0.0.0/0").unwrap().matches_ip(ip("8.8.8.8")));
        assert!(Rule::parse("::/0").unwrap().matches_ip(ip("2001:db8::1")));
        assert!(Rule::parse("::ffff:10.0.0.0/104").unwrap().matches_ip(ip("10.1.1.1")));
        assert!(Rule::parse("fd00::/8").unwrap().matches_ip(ip("fd12::1")));
        for bad in ["10.0.0.0/33", "10.0.0.0/x", "host/8", "bad name", "*.", "a..b", "::/129"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_setting() {
        let e = OutboundPolicy::from_lists(None, Some(&["10.0.0.0/99".to_string()])).unwrap_err();
        assert!(e.starts_with("upstream_deny (UPSTREAM_DENY): '10.0.0.0/99'"), "{e}");
    }
}
