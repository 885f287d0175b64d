//! AM → NodeManager (`ContainerManagementProtocol`): start, query and stop containers,
//! each node reached with its newest NM token.

use std::collections::HashMap;
use std::sync::Arc;

use spindle_proto::hadoop::yarn as y;
use tokio::sync::Mutex;

use crate::client::RpcClient;
use crate::connection::{Auth, ConnectionConfig};
use crate::credentials::Token;
use crate::error::{IpcError, Result};
use crate::rm::NmTokens;
use crate::sasl::Qop;
use crate::types::{
    Container, ContainerId, ContainerStatus, LaunchContext, NodeId, container_id_from_proto,
    container_id_to_proto, launch_to_proto, status_from_proto, token_to_proto,
};

const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB";

/// Talks to every NodeManager an application has containers on.
#[derive(Debug)]
pub struct NmClient {
    tokens: NmTokens,
    allowed_qops: Vec<Qop>,
    /// One client per node, with the token it was made with (remade when it rolls).
    clients: Mutex<HashMap<String, (Token, Arc<RpcClient>)>>,
}

impl NmClient {
    /// Uses the NM tokens the RM client collects.
    pub fn new(tokens: NmTokens, allowed_qops: Vec<Qop>) -> Self {
        NmClient {
            tokens,
            allowed_qops,
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, node: &NodeId) -> Result<Arc<RpcClient>> {
        let key = node.to_string();
        let token = self
            .tokens
            .lock()
            .ok()
            .and_then(|t| t.get(&key).cloned())
            .ok_or_else(|| IpcError::AuthRejected {
                peer: key.clone(),
                detail: "no NM token for this node yet (it comes with the first allocation there)"
                    .into(),
            })?;
        let mut clients = self.clients.lock().await;
        if let Some((t, c)) = clients.get(&key)
            && *t == token
        {
            return Ok(c.clone());
        }
        let mut config = ConnectionConfig::new(key.clone(), PROTOCOL, Auth::Token(token.clone()));
        config.allowed_qops = self.allowed_qops.clone();
        let client = Arc::new(RpcClient::new(config));
        clients.insert(key, (token, client.clone()));
        Ok(client)
    }

    /// Starts `container` running `launch`; the NM's refusal comes back as an error.
    pub async fn start(&self, container: &Container, launch: &LaunchContext) -> Result<()> {
        let req = y::StartContainersRequestProto {
            start_container_request: vec![y::StartContainerRequestProto {
                container_launch_context: Some(launch_to_proto(launch)),
                container_token: Some(token_to_proto(&container.token)),
            }],
        };
        let resp: y::StartContainersResponseProto = self
            .client(&container.node)
            .await?
            .call("startContainers", &req, false)
            .await?;
        failures(&resp.failed_requests)?;
        if !resp
            .succeeded_requests
            .iter()
            .any(|id| container_id_from_proto(id) == container.id)
        {
            return Err(IpcError::Malformed {
                what: "startContainers reply",
                detail: format!("{} neither started nor failed", container.id),
            });
        }
        Ok(())
    }

    /// The NM's view of containers on `node`.
    pub async fn statuses(
        &self,
        node: &NodeId,
        ids: &[ContainerId],
    ) -> Result<Vec<ContainerStatus>> {
        let req = y::GetContainerStatusesRequestProto {
            container_id: ids.iter().map(container_id_to_proto).collect(),
        };
        let resp: y::GetContainerStatusesResponseProto = self
            .client(node)
            .await?
            .call("getContainerStatuses", &req, true)
            .await?;
        failures(&resp.failed_requests)?;
        Ok(resp.status.iter().filter_map(status_from_proto).collect())
    }

    /// Stops containers on `node`.
    pub async fn stop(&self, node: &NodeId, ids: &[ContainerId]) -> Result<()> {
        let req = y::StopContainersRequestProto {
            container_id: ids.iter().map(container_id_to_proto).collect(),
        };
        let resp: y::StopContainersResponseProto = self
            .client(node)
            .await?
            .call("stopContainers", &req, true)
            .await?;
        failures(&resp.failed_requests)
    }
}

fn failures(failed: &[y::ContainerExceptionMapProto]) -> Result<()> {
    if let Some(f) = failed.first() {
        let id = f
            .container_id
            .as_ref()
            .map(|c| container_id_from_proto(c).to_string())
            .unwrap_or_default();
        let e = f.exception.clone().unwrap_or_default();
        return Err(IpcError::Remote {
            class: e.class_name.unwrap_or_default(),
            message: format!("{id}: {}", e.message.unwrap_or_default()),
            fatal: false,
        });
    }
    Ok(())
}
