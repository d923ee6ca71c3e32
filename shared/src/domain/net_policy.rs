//! Which addresses Hookline may connect to. Webhook URLs are chosen by users, so
//! without this policy they could point Hookline at the cloud metadata service or the
//! operator's private network (SSRF). Checked at registration and again at connect time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The operator's exceptions: addresses inside these networks are allowed even when private.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    pub allow: Vec<IpNet>,
}

impl NetPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        let canonical = canonical(ip);
        self.allow.iter().any(|net| net.contains(&canonical) || net.contains(&ip)) || is_public(canonical)
    }
}

/// IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) addresses are judged as the IPv4 address inside.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff;
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || nat64).then_some(tail)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0                                   // "this network"
        || a == 10                                         // private
        || a == 127                                        // loopback
        || (a == 100 && (64..128).contains(&b))            // CGNAT 100.64/10
        || (a == 169 && b == 254)                          // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))             // private
        || (a == 192 && b == 168)                          // private
        || (a == 192 && b == 0 && (c == 0 || c == 2))      // IETF protocol assignments, TEST-NET-1
        || (a == 198 && (b == 18 || b == 19))              // benchmarking
        || (a == 198 && b == 51 && c == 100)               // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)                // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00                      // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80                      // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0                      // site-local (deprecated)
        || (first & 0xff00) == 0xff00                      // multicast
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || first == 0x2002                                 // 6to4 wraps an IPv4 address we cannot vouch for
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0]; // IPv4-compatible (deprecated)
    !refused
}

/// Host names that are local by definition, refused without asking DNS.
pub fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local") || host.ends_with(".internal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(raw: &str) -> bool {
        NetPolicy::default().allows(raw.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
        ] {
            assert!(allowed(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn private_loopback_link_local_cgnat_and_reserved_addresses_are_refused() {
        let refused = [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ];
        for ip in refused {
            assert!(!allowed(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn the_operators_allow_list_opens_private_ranges() {
        let policy = NetPolicy { allow: vec!["127.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()] };
        assert!(policy.allows("127.0.0.1".parse().unwrap()));
        assert!(policy.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(policy.allows("fd00::5".parse().unwrap()));
        assert!(!policy.allows("10.0.0.1".parse().unwrap()));
        assert!(!policy.allows("169.254.169.254".parse().unwrap()));
    }

    #[test]
    fn local_names_are_refused_without_dns() {
        for host in ["localhost", "LOCALHOST.", "api.localhost", "printer.local", "metadata.google.internal"] {
            assert!(is_local_name(host), "{host}");
        }
        for host in ["example.com", "localhost.example.com", "hooks.internal-tools.io"] {
            assert!(!is_local_name(host), "{host}");
        }
    }
}
