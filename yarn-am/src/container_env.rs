//! What YARN tells a container about itself through its environment, and the Hadoop
//! settings the AM needs (scheduler address, RPC protection).

use std::path::PathBuf;

use spindle_conf::HadoopConf;
use spindle_hadoop_ipc::{ContainerId, Credentials, Qop, Token};

use crate::AmError;

/// The AM's view of its own container.
#[derive(Debug, Clone)]
pub struct ContainerEnv {
    /// `CONTAINER_ID`.
    pub container_id: ContainerId,
    /// `NM_HOST`: the node the AM runs on.
    pub nm_host: String,
    /// The AMRM token from `HADOOP_TOKEN_FILE_LOCATION`.
    pub amrm_token: Token,
    /// The credentials file's other tokens, passed on to executors.
    pub credentials: Credentials,
    /// `host:port` of the RM scheduler.
    pub scheduler_address: String,
    /// Qops acceptable under the cluster's `hadoop.rpc.protection`.
    pub qops: Vec<Qop>,
}

impl ContainerEnv {
    /// Reads the environment. `SPINDLE_RM_SCHEDULER_ADDRESS` and `SPINDLE_RPC_PROTECTION`
    /// (set by the client) win over `HADOOP_CONF_DIR`'s `yarn-site.xml`/`core-site.xml`.
    pub fn from_env() -> Result<Self, AmError> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    AmError::Environment(format!(
                        "{k} is not set: is this running in a YARN container?"
                    ))
                })
        };
        let container_id = var("CONTAINER_ID")?
            .parse()
            .map_err(|e| AmError::Environment(format!("CONTAINER_ID: {e}")))?;
        let nm_host = var("NM_HOST")?;
        let token_file = PathBuf::from(var("HADOOP_TOKEN_FILE_LOCATION")?);
        let bytes = std::fs::read(&token_file)
            .map_err(|e| AmError::Environment(format!("reading {}: {e}", token_file.display())))?;
        let credentials = Credentials::read_token_storage(&bytes)
            .map_err(|e| AmError::Environment(format!("parsing {}: {e}", token_file.display())))?;
        let amrm_token = credentials
            .first_token_of_kind(spindle_hadoop_ipc::rm::AMRM_TOKEN_KIND)
            .cloned()
            .ok_or_else(|| {
                AmError::Environment(format!(
                    "{} holds no {} token",
                    token_file.display(),
                    spindle_hadoop_ipc::rm::AMRM_TOKEN_KIND
                ))
            })?;
        let conf = HadoopConf::from_env().unwrap_or_default();
        let scheduler_address = std::env::var("SPINDLE_RM_SCHEDULER_ADDRESS")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| conf.get("yarn.resourcemanager.scheduler.address"))
            .unwrap_or_else(|| {
                format!(
                    "{}:8030",
                    conf.get_or("yarn.resourcemanager.hostname", "0.0.0.0")
                )
            });
        let protection = std::env::var("SPINDLE_RPC_PROTECTION")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| conf.get_or("hadoop.rpc.protection", "authentication"));
        Ok(ContainerEnv {
            container_id,
            nm_host,
            amrm_token,
            credentials,
            scheduler_address,
            qops: qops_for(&protection),
        })
    }
}

/// The qops a client accepts under a `hadoop.rpc.protection` list (the server picks).
pub fn qops_for(protection: &str) -> Vec<Qop> {
    let mut qops: Vec<Qop> = protection
        .split(',')
        .filter_map(|p| match p.trim() {
            "authentication" => Some(Qop::Auth),
            "integrity" => Some(Qop::AuthInt),
            "privacy" => Some(Qop::AuthConf),
            _ => None,
        })
        .collect();
    if qops.is_empty() {
        qops.push(Qop::Auth);
    }
    qops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_maps_to_qops() {
        assert_eq!(qops_for("privacy"), vec![Qop::AuthConf]);
        assert_eq!(
            qops_for("authentication, privacy"),
            vec![Qop::Auth, Qop::AuthConf]
        );
        assert_eq!(qops_for("nonsense"), vec![Qop::Auth]);
    }
}
