//! How upstream connections are opened: each provider's HTTP client (one connection pool per provider and worker,
//! with an idle timeout and a cap on simultaneous connections), and the resolver that applies the outbound
//! address policy to every address a host name resolves to — at connect time, so a name whose DNS answer points
//! into a denied range (cloud metadata, link-local, or whatever `UPSTREAM_DENY` names) is refused whatever it
//! resolved to when the configuration was checked. Literal addresses never reach a resolver; the configuration
//! checks them whole (`crate::config::OutboundPolicy::check_host`), on every change.

use std::error::Error;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use actix_tls::connect::{Connector as TcpConnector, Resolve, Resolver};
use futures_util::future::LocalBoxFuture;

use super::connect::FilteringConnector;
use crate::config::Connections;

/// The HTTP client for one provider on one worker: its own connection pool, built from the snapshot's
/// connection settings, over TCP connections that skip interim responses and read close-delimited bodies
/// ([`super::connect`]). Requests set their own timeouts; redirects are not followed.
pub fn provider_client(connections: &Arc<Connections>) -> awc::Client {
    let resolver = Resolver::custom(PolicyResolver { connections: connections.clone() });
    let tcp = TcpConnector::new(resolver).service();
    let connector = awc::Connector::new()
        .connector(FilteringConnector::new(tcp))
        .timeout(connections.connect_timeout)
        .conn_keep_alive(connections.idle_timeout)
        .limit(connections.max_per_provider);
    awc::Client::builder().connector(connector).disable_redirects().no_default_headers().finish()
}

/// Resolves host names with the system resolver (off the worker thread, as awc's own resolver does) and refuses
/// the name when it or any of its addresses is denied by the outbound policy.
struct PolicyResolver {
    connections: Arc<Connections>,
}

impl Resolve for PolicyResolver {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn Error>>> {
        Box::pin(async move {
            let policy = &self.connections.outbound;
            policy.check_host(host)?;
            let name = host.to_string();
            let addresses: Vec<SocketAddr> =
                actix_rt::task::spawn_blocking(move || (name.as_str(), port).to_socket_addrs().map(Iterator::collect))
                    .await??;
            // Every address, not only the first: the connector may try each in turn.
            for address in &addresses {
                policy.check_address(host, address.ip())?;
            }
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutboundPolicy;

    fn resolver(deny: &str) -> PolicyResolver {
        let outbound = OutboundPolicy::from_lists(None, Some(&[deny.to_string()])).unwrap();
        PolicyResolver { connections: Arc::new(Connections { outbound, ..Connections::default() }) }
    }

    #[actix_rt::test]
    async fn resolved_addresses_are_checked() {
        let refused = resolver("127.0.0.0/8 ::1").lookup("localhost", 80).await.unwrap_err().to_string();
        assert!(refused.contains("outbound address policy") && refused.contains("'localhost'"), "{refused}");
        let allowed = resolver("none").lookup("localhost", 80).await.unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{allowed:?}");
        let by_name = resolver("*.localhost").lookup("api.localhost", 80).await.unwrap_err().to_string();
        assert!(by_name.contains("upstream_deny entry *.localhost"), "{by_name}");
    }
}
