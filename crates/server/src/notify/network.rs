//! Which addresses a webhook may be posted to: never loopback, private, link-local (which holds
//! the cloud metadata service at 169.254.169.254), or otherwise internal addresses, checked on
//! the addresses a name resolves to at delivery time, and again on every redirect, unless
//! `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Why a URL is not posted to.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0} is not an http(s) URL with a host")]
    BadUrl(String),
    #[error("{host} resolves to {address}, an internal address; webhooks only go to public ones")]
    Internal { host: String, address: IpAddr },
    #[error("{host} does not resolve: {error}")]
    Unresolved { host: String, error: String },
}

/// Whether posting to `ip` could reach something inside our own network.
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            // An IPv4 address carried in IPv6 (mapped, or NAT64) is judged as itself.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let [first, second, ..] = v6.segments();
            if first == 0x64 && second == 0xff9b {
                let o = v6.octets();
                return internal_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // Documentation (2001:db8::/32).
                || (first == 0x2001 && second == 0x0db8)
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8 ("this network"), 100.64.0.0/10 (carrier-grade NAT), 192.0.0.0/24
        // (protocol assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4 (reserved).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

/// The address to connect to for `url`: its host resolved now, every address it resolves to
/// checked (so a name that also points inside is refused), the first one used, so the
/// connection goes where the check looked. With `allow_internal`, anything goes.
///
/// # Errors
/// [`Refused`] for a URL without an http(s) scheme and host, a host that does not resolve, or
/// one that resolves to an internal address.
pub async fn checked_address(
    url: &reqwest::Url,
    allow_internal: bool,
) -> Result<SocketAddr, Refused> {
    let host = match (url.scheme(), url.host_str()) {
        ("http" | "https", Some(host)) if !host.is_empty() => host.to_string(),
        _ => return Err(Refused::BadUrl(url.to_string())),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Refused::BadUrl(url.to_string()))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| Refused::Unresolved {
                host: host.clone(),
                error: e.to_string(),
            })?
            .collect(),
    };
    let first = *addresses.first().ok_or_else(|| Refused::Unresolved {
        host: host.clone(),
        error: "no addresses".into(),
    })?;
    if !allow_internal && let Some(bad) = addresses.iter().find(|a| internal(a.ip())) {
        return Err(Refused::Internal {
            host,
            address: bad.ip(),
        });
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_told_from_public_ones() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(internal(inside.parse().unwrap()), "{inside}");
        }
        for outside in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "172.32.0.1",
        ] {
            assert!(!internal(outside.parse().unwrap()), "{outside}");
        }
    }

    #[tokio::test]
    async fn a_name_is_checked_by_what_it_resolves_to() {
        let url = reqwest::Url::parse("http://localhost:9/hook").unwrap();
        assert!(matches!(
            checked_address(&url, false).await,
            Err(Refused::Internal { .. })
        ));
        assert!(checked_address(&url, true).await.is_ok());
        let metadata = reqwest::Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        assert!(matches!(
            checked_address(&metadata, false).await,
            Err(Refused::Internal { .. })
        ));
        let ftp = reqwest::Url::parse("ftp://example.com/x").unwrap();
        assert!(matches!(
            checked_address(&ftp, true).await,
            Err(Refused::BadUrl(_))
        ));
    }
}
