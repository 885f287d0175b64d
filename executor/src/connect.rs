//! Reaching the driver and registering: TCP connect with bounded retries (the driver may
//! still be starting when YARN launches the container), then the challenge, the
//! registration with the secret's proof, and the driver's answer.

use std::time::Duration;

use spindle_core::transport::{PROTOCOL_VERSION, read_msg, secret_proof, write_msg};
use spindle_proto::spindle::{
    DriverMessage, ExecutorMessage, ExecutorRegister, RegisterAck, driver_message, executor_message,
};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tracing::{debug, info};

use crate::config::ExecutorConfig;
use crate::error::ExecutorError;

/// How long and how often to try reaching the driver.
#[derive(Debug, Clone)]
pub(crate) struct ConnectPolicy {
    /// Give up once this much time has passed.
    pub deadline: Duration,
    /// Wait after the first failure; doubles up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest single connect attempt.
    pub attempt_timeout: Duration,
    /// Longest wait for each of the driver's registration messages.
    pub handshake_timeout: Duration,
}

impl Default for ConnectPolicy {
    fn default() -> Self {
        ConnectPolicy {
            deadline: Duration::from_secs(30),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Connects to `driver`, retrying with backoff until `policy.deadline`.
pub(crate) async fn connect(
    driver: &str,
    policy: &ConnectPolicy,
) -> Result<TcpStream, ExecutorError> {
    let started = Instant::now();
    let mut backoff = policy.first_backoff;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let error = match timeout(policy.attempt_timeout, TcpStream::connect(driver)).await {
            Ok(Ok(stream)) => {
                // Statuses and heartbeats are small and latency matters more than packing.
                if let Err(e) = stream.set_nodelay(true) {
                    debug!("cannot set TCP_NODELAY towards {driver}: {e}");
                }
                return Ok(stream);
            }
            Ok(Err(e)) => e,
            Err(_) => std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} ms", policy.attempt_timeout.as_millis()),
            ),
        };
        let elapsed = started.elapsed();
        if elapsed + backoff > policy.deadline {
            return Err(ExecutorError::Connect {
                driver: driver.to_string(),
                attempts,
                elapsed_secs: elapsed.as_secs(),
                source: error,
            });
        }
        debug!(
            "connecting to the driver at {driver} (attempt {attempts}): {error}; retrying in {} ms",
            backoff.as_millis()
        );
        sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

/// Answers the driver's challenge with this executor's registration and returns the
/// driver's acceptance; a refusal is [`ExecutorError::Refused`].
pub(crate) async fn register(
    stream: &mut TcpStream,
    config: &ExecutorConfig,
    policy: &ConnectPolicy,
) -> Result<RegisterAck, ExecutorError> {
    let fail = |message: String| ExecutorError::Handshake {
        driver: config.driver.clone(),
        message,
    };
    let challenge = match receive(stream, &config.driver, policy, "the challenge").await? {
        driver_message::Kind::Challenge(c) => c,
        other => {
            return Err(fail(format!(
                "expected a challenge, got {}",
                kind_name(&other)
            )));
        }
    };
    let register = ExecutorMessage {
        kind: Some(executor_message::Kind::Register(ExecutorRegister {
            protocol_version: PROTOCOL_VERSION,
            executor_id: config.executor_id.clone(),
            container_id: config.container_id.clone(),
            host: config.host.clone(),
            cores: config.cores,
            memory_bytes: config.memory_bytes,
            secret_proof: secret_proof(&config.secret, &challenge.nonce),
        })),
    };
    timeout(policy.handshake_timeout, write_msg(stream, &register))
        .await
        .map_err(|_| fail("timed out sending the registration".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let ack = match receive(stream, &config.driver, policy, "the registration answer").await? {
        driver_message::Kind::RegisterAck(ack) => ack,
        other => {
            return Err(fail(format!(
                "expected a registration answer, got {}",
                kind_name(&other)
            )));
        }
    };
    if !ack.accepted {
        return Err(ExecutorError::Refused {
            driver: config.driver.clone(),
            reason: if ack.reason.is_empty() {
                "no reason given".into()
            } else {
                ack.reason
            },
        });
    }
    info!(
        "registered with the driver at {} as executor {} ({} cores)",
        config.driver, config.executor_id, config.cores
    );
    Ok(ack)
}

/// One driver message during registration, within the handshake timeout.
async fn receive(
    stream: &mut TcpStream,
    driver: &str,
    policy: &ConnectPolicy,
    what: &str,
) -> Result<driver_message::Kind, ExecutorError> {
    let fail = |message: String| ExecutorError::Handshake {
        driver: driver.to_string(),
        message,
    };
    let msg: Option<DriverMessage> = timeout(policy.handshake_timeout, read_msg(stream))
        .await
        .map_err(|_| {
            fail(format!(
                "no {what} within {} s",
                policy.handshake_timeout.as_secs()
            ))
        })?
        .map_err(|e| fail(format!("waiting for {what}: {e}")))?;
    match msg {
        None => Err(fail(format!(
            "the driver closed the connection while this executor waited for {what} (wrong application secret?)"
        ))),
        Some(DriverMessage { kind: None }) => {
            Err(fail(format!("expected {what}, got an empty message")))
        }
        Some(DriverMessage { kind: Some(kind) }) => Ok(kind),
    }
}

/// The name of a driver message kind, for logs and errors.
pub(crate) fn kind_name(kind: &driver_message::Kind) -> &'static str {
    match kind {
        driver_message::Kind::RegisterAck(_) => "register_ack",
        driver_message::Kind::LaunchTask(_) => "launch_task",
        driver_message::Kind::KillTask(_) => "kill_task",
        driver_message::Kind::Shutdown(_) => "shutdown",
        driver_message::Kind::Challenge(_) => "challenge",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn quick() -> ConnectPolicy {
        ConnectPolicy {
            deadline: Duration::from_millis(400),
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            attempt_timeout: Duration::from_millis(200),
            handshake_timeout: Duration::from_millis(200),
        }
    }

    /// An address nothing listens on (for now).
    async fn free_addr() -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    }

    #[tokio::test]
    async fn waits_for_a_driver_that_starts_late() {
        let addr = free_addr().await;
        let late = tokio::spawn(async move {
            sleep(Duration::from_millis(150)).await;
            let l = TcpListener::bind(addr).await.expect("rebind");
            l.accept().await.expect("accept")
        });
        let policy = ConnectPolicy {
            deadline: Duration::from_secs(10),
            ..quick()
        };
        let stream = connect(&addr.to_string(), &policy).await.expect("connects");
        let (_, peer) = late.await.expect("joined");
        assert_eq!(stream.local_addr().expect("local"), peer);
    }

    #[tokio::test]
    async fn gives_up_after_the_deadline() {
        let addr = free_addr().await.to_string();
        let started = Instant::now();
        let err = connect(&addr, &quick()).await.expect_err("nobody listens");
        assert!(started.elapsed() < Duration::from_secs(3));
        match &err {
            ExecutorError::Connect { attempts, .. } => assert!(*attempts >= 2, "{err}"),
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains(&addr), "{err}");
    }
}
