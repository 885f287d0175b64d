//! The smallest whole AM: one shell command in each of N containers, optionally pinned
//! to named nodes; succeeds when every container exits 0.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use spindle_hadoop_ipc::nm::NmClient;
use spindle_hadoop_ipc::rm::{AmCommand, AmRmClient};
use spindle_hadoop_ipc::{Container, ContainerId, FinalStatus, LaunchContext, Resource};
use tracing::{info, warn};

use crate::{AmError, ContainerEnv, ipc};

/// The rack YARN puts every node in when no topology script is set.
const DEFAULT_RACK: &str = "/default-rack";

/// What to run.
#[derive(Debug, Clone)]
pub struct ShellJob {
    /// Shell command for each container.
    pub command: String,
    /// How many containers.
    pub containers: usize,
    /// Nodes (host names) to place them on, round robin; empty: anywhere.
    pub nodes: Vec<String>,
    /// Size of each container.
    pub resource: Resource,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Registers, runs the job, unregisters with its outcome. Returns the diagnostics.
pub async fn run_shell_job(env: &ContainerEnv, job: &ShellJob) -> Result<String, AmError> {
    let mut rm = AmRmClient::new(
        &env.scheduler_address,
        env.amrm_token.clone(),
        env.qops.clone(),
    );
    let reg = rm.register(&env.nm_host, 0, "").await.map_err(ipc(format!(
        "registering with the ResourceManager at {}",
        env.scheduler_address
    )))?;
    let qop = rm.qop().await.ok().flatten();
    info!(queue = %reg.queue, max = ?reg.max_capability, ?qop, "registered");

    let outcome = drive(&mut rm, env, job).await;
    let (status, diagnostics) = match &outcome {
        Ok(d) => (
            FinalStatus::Succeeded,
            match qop {
                Some(q) => format!("{d} (RPC qop {q})"),
                None => d.clone(),
            },
        ),
        Err(e) => (FinalStatus::Failed, e.to_string()),
    };
    rm.finish(status, &diagnostics, "")
        .await
        .map_err(ipc("unregistering from the ResourceManager"))?;
    outcome
}

async fn drive(rm: &mut AmRmClient, env: &ContainerEnv, job: &ShellJob) -> Result<String, AmError> {
    let nm = NmClient::new(rm.nm_tokens(), env.qops.clone());
    let priority = 1;
    // Pinned: node asks relaxable, rack and `*` not, so YARN places only on those nodes.
    let pinned = !job.nodes.is_empty();
    let mut per_node: HashMap<String, i32> = HashMap::new();
    for i in 0..job.containers {
        if pinned {
            *per_node
                .entry(job.nodes[i % job.nodes.len()].clone())
                .or_default() += 1;
        }
    }
    for (node, n) in &per_node {
        rm.set_ask(priority, node, job.resource, *n, true);
    }
    let total = job.containers as i32;
    if pinned {
        rm.set_ask(priority, DEFAULT_RACK, job.resource, total, false);
    }
    rm.set_ask(priority, "*", job.resource, total, !pinned);

    let deadline = Instant::now() + job.timeout;
    let mut launched: HashMap<ContainerId, Container> = HashMap::new();
    let mut done: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    while done.len() + failed.len() < job.containers {
        if Instant::now() > deadline {
            return Err(AmError::JobFailed(format!(
                "timed out after {:?}: {} of {} containers finished",
                job.timeout,
                done.len() + failed.len(),
                job.containers
            )));
        }
        let alloc = rm
            .allocate()
            .await
            .map_err(ipc("heartbeat to the ResourceManager"))?;
        match alloc.command {
            Some(AmCommand::Shutdown) => return Err(AmError::Shutdown),
            Some(AmCommand::Resync) => warn!("ResourceManager asked for a resync"),
            None => {}
        }
        for c in alloc.allocated {
            let wanted = launched.len() < job.containers
                && (!pinned || per_node.get(&c.node.host).copied().unwrap_or(0) > 0);
            if !wanted {
                info!(container = %c.id, node = %c.node, "surplus container released");
                rm.release(c.id);
                continue;
            }
            if pinned {
                if let Some(n) = per_node.get_mut(&c.node.host) {
                    *n -= 1;
                }
                rm.container_arrived(&c, &[c.node.host.clone(), DEFAULT_RACK.to_string()]);
            } else {
                rm.container_arrived(&c, &[]);
            }
            let launch = LaunchContext {
                commands: vec![format!(
                    "{} 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr",
                    job.command
                )],
                environment: vec![("SPINDLE_ROLE".into(), "shell".into())],
                ..Default::default()
            };
            nm.start(&c, &launch)
                .await
                .map_err(ipc(format!("starting {} on {}", c.id, c.node)))?;
            info!(container = %c.id, node = %c.node, "launched");
            launched.insert(c.id, c);
        }
        for s in alloc.completed {
            let Some(c) = launched.get(&s.id) else {
                continue;
            };
            let line = format!("{} on {} exited {}", s.id, c.node, s.exit_status);
            info!("{line}");
            if s.exit_status == 0 {
                done.push(line);
            } else {
                failed.push(format!("{line}: {}", s.diagnostics.trim()));
            }
        }
        rm.set_progress((done.len() + failed.len()) as f32 / job.containers as f32);
        let pending = launched.len() < job.containers;
        tokio::time::sleep(if pending {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(500)
        })
        .await;
    }
    if failed.is_empty() {
        done.sort();
        Ok(format!(
            "{} containers succeeded: {}",
            done.len(),
            done.join("; ")
        ))
    } else {
        Err(AmError::JobFailed(format!(
            "{} of {} containers failed: {}",
            failed.len(),
            job.containers,
            failed.join("; ")
        )))
    }
}
