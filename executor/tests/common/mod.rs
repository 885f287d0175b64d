//! A fake driver speaking the executor protocol through `spindle_core::transport`, and a
//! task runner scripted by its payloads, for tests of the executor runtime.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use spindle_executor::{TaskOutput, TaskRequest, TaskRunner};

use spindle_core::transport::{read_msg, write_msg};
use spindle_proto::spindle::{
    AuthChallenge, DriverMessage, ExecutorMessage, ExecutorRegister, Heartbeat, RegisterAck,
    TaskStatus, driver_message, executor_message,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// The application secret of the tests.
pub const SECRET: &[u8] = b"the application secret";
/// The fake driver's challenge.
pub const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef";
/// Longest wait for anything in a test.
pub const WAIT: Duration = Duration::from_secs(30);

/// Runs tasks whose payload is a command: `echo TEXT` answers TEXT (with its length
/// as the input bytes), `fail MESSAGE` fails with it, `sleep MS` answers after MS
/// milliseconds, `panic` panics.
pub struct ScriptRunner;

impl TaskRunner for ScriptRunner {
    fn run(&self, task: TaskRequest) -> Result<TaskOutput, String> {
        let payload = String::from_utf8_lossy(&task.payload).into_owned();
        let (command, arg) = payload.split_once(' ').unwrap_or((payload.as_str(), ""));
        match command {
            "echo" => Ok(TaskOutput {
                result: arg.as_bytes().to_vec(),
                input_bytes: arg.len() as u64,
                input_records: 1,
                output_records: 1,
            }),
            "fail" => Err(arg.to_string()),
            "sleep" => {
                let ms = arg.parse().map_err(|_| format!("sleep {arg:?}?"))?;
                std::thread::sleep(Duration::from_millis(ms));
                Ok(TaskOutput {
                    result: b"slept".to_vec(),
                    ..TaskOutput::default()
                })
            }
            "panic" => panic!("the task's own panic"),
            _ => Err(format!("not a test payload: {payload:?}")),
        }
    }
}

/// [`ScriptRunner`], shareable.
pub fn runner() -> Arc<dyn TaskRunner> {
    Arc::new(ScriptRunner)
}

/// A listening fake driver.
pub struct FakeDriver {
    pub listener: TcpListener,
}

impl FakeDriver {
    pub async fn bind() -> FakeDriver {
        FakeDriver {
            listener: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        }
    }

    pub fn address(&self) -> String {
        self.listener.local_addr().expect("local addr").to_string()
    }

    /// Accepts the executor's connection and runs the challenge; returns its registration.
    pub async fn accept(&self) -> (Conn, ExecutorRegister) {
        let (stream, _) = timeout(WAIT, self.listener.accept())
            .await
            .expect("executor connects in time")
            .expect("accept");
        let mut conn = Conn { stream };
        conn.send(driver_message::Kind::Challenge(AuthChallenge {
            nonce: NONCE.to_vec(),
        }))
        .await;
        match conn.recv().await {
            executor_message::Kind::Register(r) => (conn, r),
            other => panic!("expected a registration, got {other:?}"),
        }
    }
}

/// One executor connection, seen from the driver.
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub async fn send(&mut self, kind: driver_message::Kind) {
        write_msg(&mut self.stream, &DriverMessage { kind: Some(kind) })
            .await
            .expect("driver sends");
    }

    pub async fn ack(&mut self, heartbeat_interval_ms: u64) {
        self.send(driver_message::Kind::RegisterAck(RegisterAck {
            accepted: true,
            reason: String::new(),
            heartbeat_interval_ms,
        }))
        .await;
    }

    /// The executor's next message, within [`WAIT`].
    pub async fn recv(&mut self) -> executor_message::Kind {
        let msg: Option<ExecutorMessage> = timeout(WAIT, read_msg(&mut self.stream))
            .await
            .expect("executor speaks in time")
            .expect("a well-formed frame");
        msg.and_then(|m| m.kind)
            .expect("a message with a kind, not the end of the stream")
    }

    /// The executor's next task status (heartbeats skipped).
    pub async fn status(&mut self) -> TaskStatus {
        loop {
            if let executor_message::Kind::TaskStatus(s) = self.recv().await {
                return s;
            }
        }
    }

    /// The executor's next heartbeat (statuses skipped).
    pub async fn heartbeat(&mut self) -> Heartbeat {
        loop {
            if let executor_message::Kind::Heartbeat(h) = self.recv().await {
                return h;
            }
        }
    }
}
