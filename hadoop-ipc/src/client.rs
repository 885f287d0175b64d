//! A reconnecting RPC client over [`Connection`]: one connection at a time, made on first
//! use and again after the previous one failed.

use std::sync::Arc;

use prost::Message;
use tokio::sync::Mutex;

use crate::connection::{Auth, Connection, ConnectionConfig};
use crate::error::{IpcError, Result};

/// Calls one protocol on one server, reconnecting when the connection is lost.
#[derive(Debug)]
pub struct RpcClient {
    config: std::sync::Mutex<ConnectionConfig>,
    current: Mutex<Option<Arc<Connection>>>,
}

impl RpcClient {
    /// A client that connects lazily.
    pub fn new(config: ConnectionConfig) -> Self {
        RpcClient {
            config: std::sync::Mutex::new(config),
            current: Mutex::new(None),
        }
    }

    /// Uses `auth` for connections made from now on (e.g. a rolled AMRM token).
    pub fn set_auth(&self, auth: Auth) {
        if let Ok(mut c) = self.config.lock() {
            c.auth = auth;
        }
    }

    /// The live connection, connecting first if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>> {
        let mut cur = self.current.lock().await;
        if let Some(c) = cur.as_ref()
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let config = self
            .config
            .lock()
            .map_err(|_| IpcError::Malformed {
                what: "client config",
                detail: "poisoned".into(),
            })?
            .clone();
        let conn = Arc::new(Connection::connect(config).await?);
        *cur = Some(conn.clone());
        Ok(conn)
    }

    /// Calls `method`. When the connection was lost before the call could be answered,
    /// reconnects and tries once more if `idempotent`.
    pub async fn call<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
        idempotent: bool,
    ) -> Result<Resp> {
        let conn = self.connection().await?;
        match conn.call(method, request).await {
            Err(IpcError::ConnectionClosed { .. }) | Err(IpcError::Io { .. }) if idempotent => {
                self.current.lock().await.take();
                self.connection().await?.call(method, request).await
            }
            other => other,
        }
    }
}
