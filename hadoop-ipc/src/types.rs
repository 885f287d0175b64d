//! Plain Rust types for YARN and HDFS records, and their conversion to and from the
//! prost messages (which stay inside this crate).

use std::fmt;
use std::str::FromStr;

use spindle_proto::hadoop::common::TokenProto;
use spindle_proto::hadoop::yarn as y;

use crate::credentials::Token;
use crate::error::IpcError;

/// `application_<cluster timestamp>_<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationId {
    /// When the ResourceManager started.
    pub cluster_timestamp: i64,
    /// Sequence number within that ResourceManager.
    pub id: i32,
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "application_{}_{:04}", self.cluster_timestamp, self.id)
    }
}

impl FromStr for ApplicationId {
    type Err = IpcError;
    fn from_str(s: &str) -> Result<Self, IpcError> {
        let bad = || IpcError::Malformed {
            what: "application id",
            detail: format!("{s:?} is not application_<timestamp>_<id>"),
        };
        let rest = s.strip_prefix("application_").ok_or_else(bad)?;
        let (ts, id) = rest.split_once('_').ok_or_else(bad)?;
        Ok(ApplicationId {
            cluster_timestamp: ts.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// One attempt of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationAttemptId {
    /// The application.
    pub app: ApplicationId,
    /// Attempt number, from 1.
    pub attempt: i32,
}

/// A container: `container_[e<epoch>_]<ts>_<app>_<attempt>_<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContainerId {
    /// The attempt that owns it.
    pub attempt: ApplicationAttemptId,
    /// Container number; the top 24 bits carry the RM epoch.
    pub id: i64,
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let epoch = self.id >> 40;
        let seq = self.id & 0xff_ffff_ffff;
        write!(f, "container_")?;
        if epoch > 0 {
            write!(f, "e{epoch:02}_")?;
        }
        write!(
            f,
            "{}_{:04}_{:02}_{:06}",
            self.attempt.app.cluster_timestamp, self.attempt.app.id, self.attempt.attempt, seq
        )
    }
}

impl FromStr for ContainerId {
    type Err = IpcError;
    /// Parses the form YARN puts in `CONTAINER_ID`.
    fn from_str(s: &str) -> Result<Self, IpcError> {
        let bad = || IpcError::Malformed {
            what: "container id",
            detail: format!("{s:?} is not container_[e<epoch>_]<ts>_<app>_<attempt>_<id>"),
        };
        let mut parts: Vec<&str> = s
            .strip_prefix("container_")
            .ok_or_else(bad)?
            .split('_')
            .collect();
        let mut epoch = 0i64;
        if let Some(e) = parts.first().and_then(|p| p.strip_prefix('e')) {
            epoch = e.parse().map_err(|_| bad())?;
            parts.remove(0);
        }
        let [ts, app, attempt, seq] = parts.as_slice() else {
            return Err(bad());
        };
        let seq: i64 = seq.parse().map_err(|_| bad())?;
        Ok(ContainerId {
            attempt: ApplicationAttemptId {
                app: ApplicationId {
                    cluster_timestamp: ts.parse().map_err(|_| bad())?,
                    id: app.parse().map_err(|_| bad())?,
                },
                attempt: attempt.parse().map_err(|_| bad())?,
            },
            id: (epoch << 40) | seq,
        })
    }
}

/// A NodeManager: `host:port` of its container manager.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Host name as the NodeManager reports it.
    pub host: String,
    /// Container-manager port.
    pub port: i32,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Memory and cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Resource {
    /// Memory in MB.
    pub memory_mb: i64,
    /// Virtual cores.
    pub vcores: i32,
}

/// A container the ResourceManager allocated.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its id.
    pub id: ContainerId,
    /// The node it is on.
    pub node: NodeId,
    /// The node's web address.
    pub node_http_address: String,
    /// What it was given.
    pub resource: Resource,
    /// The priority it was asked at.
    pub priority: i32,
    /// Proves the allocation to the NodeManager.
    pub token: Token,
}

/// Life-cycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Not yet running.
    New,
    /// Running.
    Running,
    /// Finished (see the exit status).
    Complete,
}

/// A container's state and, once complete, its exit status.
#[derive(Debug, Clone)]
pub struct ContainerStatus {
    /// The container.
    pub id: ContainerId,
    /// Its state.
    pub state: ContainerState,
    /// Exit status (YARN's `ContainerExitStatus` for negative values); -1000 if unknown.
    pub exit_status: i32,
    /// What YARN says about it.
    pub diagnostics: String,
}

/// An application's final status at unregistration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    /// All went well.
    Succeeded,
    /// It failed.
    Failed,
    /// It was killed.
    Killed,
}

/// A file to localize into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResource {
    /// `hdfs://host:port/path` split into URL parts.
    pub scheme: String,
    /// NameNode host.
    pub host: String,
    /// NameNode port.
    pub port: i32,
    /// Absolute path.
    pub file: String,
    /// Length exactly as HDFS reports it.
    pub size: i64,
    /// Modification time exactly as HDFS reports it.
    pub timestamp: i64,
    /// Unpack it (archive) or not (file).
    pub archive: bool,
    /// Who may share the NodeManager's localized copy.
    pub visibility: Visibility,
}

/// How long a NodeManager keeps a localized file and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Localized for this application only, deleted with it.
    #[default]
    Application,
    /// Kept in the user's cache on the node and reused by their later applications
    /// (while the file's size and modification time stay the same).
    Private,
}

impl Visibility {
    /// The name YARN's REST API and logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Application => "APPLICATION",
            Visibility::Private => "PRIVATE",
        }
    }

    /// Parses [`Visibility::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "APPLICATION" => Some(Visibility::Application),
            "PRIVATE" => Some(Visibility::Private),
            _ => None,
        }
    }
}

/// What a container runs.
#[derive(Debug, Clone, Default)]
pub struct LaunchContext {
    /// Files to localize, by link name.
    pub local_resources: Vec<(String, LocalResource)>,
    /// Environment variables.
    pub environment: Vec<(String, String)>,
    /// Shell command (YARN joins the pieces).
    pub commands: Vec<String>,
    /// A whole `HDTS` credentials stream for the container, if any.
    pub tokens: Option<Vec<u8>>,
}

/// One block of a file and where its replicas are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLocation {
    /// Offset of the block in the file.
    pub offset: u64,
    /// Bytes in the block.
    pub length: u64,
    /// Host names of the DataNodes holding a replica.
    pub hosts: Vec<String>,
    /// `ip:xferPort` of the same DataNodes.
    pub names: Vec<String>,
}

/// What the NameNode knows of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// Length in bytes (0 for directories).
    pub length: u64,
    /// Directory or not.
    pub is_dir: bool,
    /// Modification time, ms since the epoch.
    pub modification_time: u64,
    /// Block size.
    pub block_size: u64,
    /// Replication factor.
    pub replication: u32,
}

// ---- conversions (crate-private) ----

pub(crate) fn token_from_proto(t: &TokenProto) -> Token {
    Token::new(
        t.identifier.clone(),
        t.password.clone(),
        t.kind.clone(),
        t.service.clone(),
    )
}

pub(crate) fn token_to_proto(t: &Token) -> TokenProto {
    TokenProto {
        identifier: t.identifier.clone(),
        password: t.password.clone(),
        kind: t.kind.clone(),
        service: t.service.clone(),
    }
}

pub(crate) fn app_id_from_proto(p: &y::ApplicationIdProto) -> ApplicationId {
    ApplicationId {
        cluster_timestamp: p.cluster_timestamp.unwrap_or_default(),
        id: p.id.unwrap_or_default(),
    }
}

pub(crate) fn container_id_from_proto(p: &y::ContainerIdProto) -> ContainerId {
    let attempt = p.app_attempt_id.unwrap_or_default();
    let app = attempt
        .application_id
        .as_ref()
        .or(p.app_id.as_ref())
        .map(app_id_from_proto)
        .unwrap_or(ApplicationId {
            cluster_timestamp: 0,
            id: 0,
        });
    ContainerId {
        attempt: ApplicationAttemptId {
            app,
            attempt: attempt.attempt_id.unwrap_or_default(),
        },
        id: p.id.unwrap_or_default(),
    }
}

pub(crate) fn container_id_to_proto(c: &ContainerId) -> y::ContainerIdProto {
    let app = y::ApplicationIdProto {
        id: Some(c.attempt.app.id),
        cluster_timestamp: Some(c.attempt.app.cluster_timestamp),
    };
    y::ContainerIdProto {
        app_id: Some(app),
        app_attempt_id: Some(y::ApplicationAttemptIdProto {
            application_id: Some(app),
            attempt_id: Some(c.attempt.attempt),
        }),
        id: Some(c.id),
    }
}

pub(crate) fn node_from_proto(p: &y::NodeIdProto) -> NodeId {
    NodeId {
        host: p.host.clone().unwrap_or_default(),
        port: p.port.unwrap_or_default(),
    }
}

pub(crate) fn resource_from_proto(p: &y::ResourceProto) -> Resource {
    Resource {
        memory_mb: p.memory.unwrap_or_default(),
        vcores: p.virtual_cores.unwrap_or_default(),
    }
}

pub(crate) fn resource_to_proto(r: &Resource) -> y::ResourceProto {
    y::ResourceProto {
        memory: Some(r.memory_mb),
        virtual_cores: Some(r.vcores),
        ..Default::default()
    }
}

pub(crate) fn container_from_proto(p: &y::ContainerProto) -> Option<Container> {
    Some(Container {
        id: container_id_from_proto(p.id.as_ref()?),
        node: node_from_proto(p.node_id.as_ref()?),
        node_http_address: p.node_http_address.clone().unwrap_or_default(),
        resource: p
            .resource
            .as_ref()
            .map(resource_from_proto)
            .unwrap_or_default(),
        priority: p.priority.and_then(|p| p.priority).unwrap_or_default(),
        token: token_from_proto(p.container_token.as_ref()?),
    })
}

pub(crate) fn status_from_proto(p: &y::ContainerStatusProto) -> Option<ContainerStatus> {
    let state = match p.state() {
        y::ContainerStateProto::CNew => ContainerState::New,
        y::ContainerStateProto::CRunning => ContainerState::Running,
        y::ContainerStateProto::CComplete => ContainerState::Complete,
    };
    Some(ContainerStatus {
        id: container_id_from_proto(p.container_id.as_ref()?),
        state,
        exit_status: p.exit_status(),
        diagnostics: p.diagnostics().to_string(),
    })
}

pub(crate) fn launch_to_proto(l: &LaunchContext) -> y::ContainerLaunchContextProto {
    y::ContainerLaunchContextProto {
        local_resources: l
            .local_resources
            .iter()
            .map(|(name, r)| y::StringLocalResourceMapProto {
                key: Some(name.clone()),
                value: Some(y::LocalResourceProto {
                    resource: Some(y::UrlProto {
                        scheme: Some(r.scheme.clone()),
                        host: Some(r.host.clone()),
                        port: Some(r.port),
                        file: Some(r.file.clone()),
                        user_info: None,
                    }),
                    size: Some(r.size),
                    timestamp: Some(r.timestamp),
                    r#type: Some(if r.archive {
                        y::LocalResourceTypeProto::Archive as i32
                    } else {
                        y::LocalResourceTypeProto::File as i32
                    }),
                    visibility: Some(match r.visibility {
                        Visibility::Application => y::LocalResourceVisibilityProto::Application,
                        Visibility::Private => y::LocalResourceVisibilityProto::Private,
                    } as i32),
                    ..Default::default()
                }),
            })
            .collect(),
        tokens: l.tokens.clone(),
        environment: l
            .environment
            .iter()
            .map(|(k, v)| y::StringStringMapProto {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect(),
        command: l.commands.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_yarn_does() {
        let app: ApplicationId = "application_1795814129912_0002".parse().expect("app id");
        assert_eq!(app.id, 2);
        assert_eq!(app.to_string(), "application_1795814129912_0002");
        for s in [
            "container_1795814129912_0002_01_000001",
            "container_e17_1795814129912_0002_01_000003",
        ] {
            let c: ContainerId = s.parse().expect("container id");
            assert_eq!(c.to_string(), s);
            assert_eq!(container_id_from_proto(&container_id_to_proto(&c)), c);
        }
        for bad in [
            "",
            "application_x_1",
            "container_1_2_3",
            "container_e_1_2_3_4",
        ] {
            assert!(bad.parse::<ContainerId>().is_err(), "{bad}");
        }
        assert!("application_1".parse::<ApplicationId>().is_err());
    }
}
