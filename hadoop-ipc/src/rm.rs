//! AM → ResourceManager (`ApplicationMasterProtocol`): register, allocate as heartbeat
//! with an absolute ask table, finish. Handles the AMRM token roll and keeps the newest
//! NM token per node for [`crate::nm::NmClient`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spindle_proto::hadoop::yarn as y;

use crate::client::RpcClient;
use crate::connection::{Auth, ConnectionConfig};
use crate::credentials::Token;
use crate::error::{IpcError, Result};
use crate::sasl::Qop;
use crate::types::{
    Container, ContainerId, ContainerStatus, FinalStatus, NodeId, Resource, container_from_proto,
    container_id_to_proto, node_from_proto, resource_from_proto, resource_to_proto,
    status_from_proto, token_from_proto,
};

const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB";

/// The kind of the token that authenticates an AM to the RM scheduler.
pub const AMRM_TOKEN_KIND: &str = "YARN_AM_RM_TOKEN";

/// NM tokens by node (`host:port`), shared with the NodeManager client.
pub type NmTokens = Arc<Mutex<HashMap<String, Token>>>;

/// What registration tells the AM.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Largest container the scheduler grants.
    pub max_capability: Resource,
    /// The queue the application runs in.
    pub queue: String,
    /// Containers still running from previous attempts (AM restart).
    pub previous_containers: Vec<Container>,
}

/// A command from the RM in an allocate response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmCommand {
    /// Register again and resend the whole ask table.
    Resync,
    /// Stop now.
    Shutdown,
}

/// One heartbeat's news.
#[derive(Debug, Clone, Default)]
pub struct Allocation {
    /// Newly granted containers.
    pub allocated: Vec<Container>,
    /// Containers that finished.
    pub completed: Vec<ContainerStatus>,
    /// Nodes in the cluster.
    pub num_cluster_nodes: i32,
    /// A command, if the RM sent one.
    pub command: Option<AmCommand>,
}

/// Key of the ask table: one line of the RM's request table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct AskKey {
    priority: i32,
    location: String,
    memory_mb: i64,
    vcores: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AskValue {
    count: i32,
    relax_locality: bool,
}

/// The AM's side of the ApplicationMasterProtocol.
#[derive(Debug)]
pub struct AmRmClient {
    rpc: RpcClient,
    response_id: i32,
    asks: BTreeMap<AskKey, AskValue>,
    changed: BTreeMap<AskKey, AskValue>,
    releases: Vec<ContainerId>,
    nm_tokens: NmTokens,
    progress: f32,
}

impl AmRmClient {
    /// A client for the scheduler at `addr` (e.g. `127.0.0.1:8030`) with the AMRM token.
    pub fn new(addr: &str, amrm_token: Token, allowed_qops: Vec<Qop>) -> Self {
        let mut config = ConnectionConfig::new(addr, PROTOCOL, Auth::Token(amrm_token));
        config.allowed_qops = allowed_qops;
        AmRmClient {
            rpc: RpcClient::new(config),
            response_id: 0,
            asks: BTreeMap::new(),
            changed: BTreeMap::new(),
            releases: Vec::new(),
            nm_tokens: Arc::new(Mutex::new(HashMap::new())),
            progress: 0.0,
        }
    }

    /// The quality of protection of the current connection to the RM (connects if needed).
    pub async fn qop(&self) -> Result<Option<Qop>> {
        Ok(self.rpc.connection().await?.qop())
    }

    /// The NM tokens received so far, by node; shared, so it stays current.
    pub fn nm_tokens(&self) -> NmTokens {
        self.nm_tokens.clone()
    }

    /// Registers the AM; `tracking_url` is what the YARN UI links to.
    pub async fn register(
        &mut self,
        host: &str,
        rpc_port: i32,
        tracking_url: &str,
    ) -> Result<Registration> {
        let req = y::RegisterApplicationMasterRequestProto {
            host: Some(host.to_string()),
            rpc_port: Some(rpc_port),
            tracking_url: Some(tracking_url.to_string()),
        };
        let resp: y::RegisterApplicationMasterResponseProto = self
            .rpc
            .call("registerApplicationMaster", &req, false)
            .await?;
        self.response_id = 0;
        self.store_nm_tokens(&resp.nm_tokens_from_previous_attempts);
        Ok(Registration {
            max_capability: resp
                .maximum_capability
                .as_ref()
                .map(resource_from_proto)
                .unwrap_or_default(),
            queue: resp.queue.clone().unwrap_or_default(),
            previous_containers: resp
                .containers_from_previous_attempts
                .iter()
                .filter_map(container_from_proto)
                .collect(),
        })
    }

    /// Sets the absolute number of containers wanted at (priority, location, size).
    /// `location` is a host, a rack or `*`. Sent with the next [`allocate`](Self::allocate).
    pub fn set_ask(
        &mut self,
        priority: i32,
        location: &str,
        capability: Resource,
        count: i32,
        relax_locality: bool,
    ) {
        let key = AskKey {
            priority,
            location: location.to_string(),
            memory_mb: capability.memory_mb,
            vcores: capability.vcores,
        };
        let value = AskValue {
            count: count.max(0),
            relax_locality,
        };
        if self.asks.get(&key) != Some(&value) {
            self.asks.insert(key.clone(), value);
            self.changed.insert(key, value);
        }
    }

    /// The count currently asked at (priority, location, size).
    pub fn asked(&self, priority: i32, location: &str, capability: Resource) -> i32 {
        let key = AskKey {
            priority,
            location: location.to_string(),
            memory_mb: capability.memory_mb,
            vcores: capability.vcores,
        };
        self.asks.get(&key).map(|v| v.count).unwrap_or(0)
    }

    /// Gives a container back with the next heartbeat.
    pub fn release(&mut self, id: ContainerId) {
        self.releases.push(id);
    }

    /// Progress (0..1) reported with each heartbeat.
    pub fn set_progress(&mut self, progress: f32) {
        self.progress = progress.clamp(0.0, 1.0);
    }

    /// One heartbeat: sends changed asks and releases, returns what the RM granted.
    pub async fn allocate(&mut self) -> Result<Allocation> {
        let ask: Vec<y::ResourceRequestProto> = self
            .changed
            .iter()
            .map(|(k, v)| y::ResourceRequestProto {
                priority: Some(y::PriorityProto {
                    priority: Some(k.priority),
                }),
                resource_name: Some(k.location.clone()),
                capability: Some(resource_to_proto(&Resource {
                    memory_mb: k.memory_mb,
                    vcores: k.vcores,
                })),
                num_containers: Some(v.count),
                relax_locality: Some(v.relax_locality),
                ..Default::default()
            })
            .collect();
        let req = y::AllocateRequestProto {
            ask,
            release: self.releases.iter().map(container_id_to_proto).collect(),
            response_id: Some(self.response_id),
            progress: Some(self.progress),
            ..Default::default()
        };
        // Resending the same response id returns the cached reply: safe to retry.
        let resp: y::AllocateResponseProto = self.rpc.call("allocate", &req, true).await?;
        self.changed.clear();
        self.releases.clear();
        self.response_id = resp.response_id.unwrap_or(self.response_id);
        self.store_nm_tokens(&resp.nm_tokens);
        if let Some(t) = &resp.am_rm_token {
            // The RM rolled its key: new connections must use the new token.
            self.rpc.set_auth(Auth::Token(token_from_proto(t)));
        }
        let command = match resp.a_m_command {
            Some(c) if c == y::AmCommandProto::AmResync as i32 => Some(AmCommand::Resync),
            Some(c) if c == y::AmCommandProto::AmShutdown as i32 => Some(AmCommand::Shutdown),
            _ => None,
        };
        if command == Some(AmCommand::Resync) {
            // After re-registering, the whole table must be sent again.
            self.changed = self.asks.clone();
        }
        Ok(Allocation {
            allocated: resp
                .allocated_containers
                .iter()
                .filter_map(container_from_proto)
                .collect(),
            completed: resp
                .completed_container_statuses
                .iter()
                .filter_map(status_from_proto)
                .collect(),
            num_cluster_nodes: resp.num_cluster_nodes.unwrap_or_default(),
            command,
        })
    }

    /// Lowers the asks a granted container satisfied (the RM does not do it for us):
    /// its node, and `*`; rack lines are the caller's to lower.
    pub fn container_arrived(&mut self, c: &Container, asked_on: &[String]) {
        let cap = c.resource;
        for loc in asked_on.iter().map(String::as_str).chain(["*"]) {
            let n = self.asked(c.priority, loc, cap);
            if n > 0 {
                let relax = self
                    .asks
                    .get(&AskKey {
                        priority: c.priority,
                        location: loc.to_string(),
                        memory_mb: cap.memory_mb,
                        vcores: cap.vcores,
                    })
                    .map(|v| v.relax_locality)
                    .unwrap_or(true);
                self.set_ask(c.priority, loc, cap, n - 1, relax);
            }
        }
    }

    /// Unregisters with the final status; retries until the RM confirms (bounded).
    pub async fn finish(
        &mut self,
        status: FinalStatus,
        diagnostics: &str,
        tracking_url: &str,
    ) -> Result<()> {
        let final_status = match status {
            FinalStatus::Succeeded => y::FinalApplicationStatusProto::AppSucceeded,
            FinalStatus::Failed => y::FinalApplicationStatusProto::AppFailed,
            FinalStatus::Killed => y::FinalApplicationStatusProto::AppKilled,
        };
        let req = y::FinishApplicationMasterRequestProto {
            diagnostics: Some(diagnostics.to_string()),
            tracking_url: Some(tracking_url.to_string()),
            final_application_status: Some(final_status as i32),
        };
        // The RM confirms once it has saved the final state, usually a few ms after the
        // first call: ask again soon, then every 100 ms (Hadoop's own client always
        // waits 100 ms), for at most 30 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut pause = Duration::from_millis(5);
        while tokio::time::Instant::now() < deadline {
            let resp: y::FinishApplicationMasterResponseProto =
                self.rpc.call("finishApplicationMaster", &req, true).await?;
            if resp.is_unregistered.unwrap_or(false) {
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
        Err(IpcError::Timeout {
            what: "unregistering from the ResourceManager (never confirmed)".into(),
        })
    }

    fn store_nm_tokens(&self, tokens: &[y::NmTokenProto]) {
        if tokens.is_empty() {
            return;
        }
        if let Ok(mut map) = self.nm_tokens.lock() {
            for t in tokens {
                if let (Some(node), Some(token)) = (&t.node_id, &t.token) {
                    let node: NodeId = node_from_proto(node);
                    map.insert(node.to_string(), token_from_proto(token));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> AmRmClient {
        AmRmClient::new(
            "127.0.0.1:1",
            Token::new(vec![1], vec![2], AMRM_TOKEN_KIND, ""),
            Qop::ALL.to_vec(),
        )
    }

    #[test]
    fn asks_are_absolute_and_only_changes_are_sent() {
        let mut c = client();
        let r = Resource {
            memory_mb: 256,
            vcores: 1,
        };
        c.set_ask(1, "127.0.0.2", r, 2, true);
        c.set_ask(1, "*", r, 2, true);
        assert_eq!(c.changed.len(), 2);
        c.changed.clear();
        c.set_ask(1, "*", r, 2, true);
        assert!(c.changed.is_empty(), "an unchanged total is not resent");
        c.set_ask(1, "127.0.0.2", r, 0, true);
        assert_eq!(c.changed.len(), 1, "a total dropping to 0 is sent");
        assert_eq!(c.asked(1, "127.0.0.2", r), 0);
    }
}
