//! The AM's web UI (`spindle-ui` over the live driver), registered as the application's
//! tracking URL and reached through the ResourceManager's proxy (`/proxy/<appId>/`):
//! links carry YARN's `APPLICATION_WEB_PROXY_BASE`, and visitors that are not the proxy
//! are redirected to it, as YARN's AmIpFilter does for Java AMs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use spindle_core::driver::Driver;
use spindle_ui::{ProxyRedirect, UiConfig};
use tracing::warn;

use crate::AmError;

/// Where the ResourceManager's proxy is, for links and redirects.
#[derive(Debug, Clone)]
pub struct ProxyInfo {
    /// `http://host:port` of the RM web app (which hosts the proxy).
    pub rm_web_url: String,
    /// The application id.
    pub app_id: String,
}

/// Serves the UI until the process exits; returns the bound address.
pub async fn serve(
    bind: SocketAddr,
    driver: Arc<Driver>,
    proxy: &ProxyInfo,
) -> Result<SocketAddr, AmError> {
    let base = std::env::var("APPLICATION_WEB_PROXY_BASE")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| format!("/proxy/{}", proxy.app_id));
    let proxy_hosts = proxy_hosts(&proxy.rm_web_url).await;
    let redirect = if proxy_hosts.is_empty() {
        warn!(
            "cannot resolve the proxy host of {}; the UI answers everyone",
            proxy.rm_web_url
        );
        None
    } else {
        Some(ProxyRedirect {
            proxy_hosts,
            proxy_url: format!(
                "{}/proxy/{}",
                proxy.rm_web_url.trim_end_matches('/'),
                proxy.app_id
            ),
        })
    };
    let config = UiConfig {
        base,
        redirect,
        banner: String::new(),
    };
    spindle_ui::serve(bind, spindle_ui::router(driver, config))
        .await
        .map_err(|e| AmError::Environment(e.to_string()))
}

/// The addresses the proxy's requests come from: the RM web host's addresses (all of
/// loopback's 127.0.0.1 when the RM is on this machine's loopback or a wildcard).
async fn proxy_hosts(rm_web_url: &str) -> Vec<IpAddr> {
    let authority = rm_web_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(rm_web_url)
        .split('/')
        .next()
        .unwrap_or_default();
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut hosts: Vec<IpAddr> = match tokio::net::lookup_host(with_port).await {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    };
    // An RM bound to the wildcard or loopback connects from loopback.
    if hosts
        .iter()
        .any(|ip| ip.is_unspecified() || ip.is_loopback())
    {
        hosts.push(IpAddr::from([127, 0, 0, 1]));
        hosts.push(IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn proxy_hosts_resolve_the_rm_web_address() {
        let h = proxy_hosts("http://127.0.0.1:8088").await;
        assert!(h.contains(&IpAddr::from([127, 0, 0, 1])));
        let h = proxy_hosts("http://0.0.0.0:8088/").await;
        assert!(h.contains(&IpAddr::from([127, 0, 0, 1])));
        assert!(
            proxy_hosts("http://no-such-host.invalid:8088")
                .await
                .is_empty()
        );
    }
}
