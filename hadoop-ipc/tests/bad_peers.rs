//! Our decoder against peers that misbehave on the wire (local sockets standing in for a
//! broken server; the real daemons are tested in `real_cluster.rs`): closed ports,
//! truncated and oversized frames, silence. Each must end in a typed error, never a
//! panic or a hang.

use std::time::Duration;

use spindle_hadoop_ipc::credentials::Token;
use spindle_hadoop_ipc::{Auth, Connection, ConnectionConfig, IpcError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn config(addr: String) -> ConnectionConfig {
    let mut c = ConnectionConfig::new(
        addr,
        "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB",
        Auth::Token(Token::new(vec![1], vec![2], "YARN_AM_RM_TOKEN", "")),
    );
    c.connect_timeout = Duration::from_secs(3);
    c.max_frame = 1024 * 1024;
    c
}

/// A server that reads the client's first bytes, then answers with `reply` and closes.
async fn peer(reply: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&reply).await;
            let _ = s.shutdown().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    addr
}

async fn connect_err(addr: String) -> IpcError {
    tokio::time::timeout(Duration::from_secs(10), Connection::connect(config(addr)))
        .await
        .expect("no hang")
        .expect_err("must fail")
}

#[tokio::test]
async fn closed_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let err = connect_err(addr.clone()).await;
    assert!(matches!(err, IpcError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr), "{err}");
}

#[tokio::test]
async fn oversized_frame() {
    let err = connect_err(peer(0x4000_0000u32.to_be_bytes().to_vec()).await).await;
    assert!(matches!(err, IpcError::FrameTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn truncated_frame() {
    let mut reply = 100u32.to_be_bytes().to_vec();
    reply.extend_from_slice(&[0x08; 10]);
    let err = connect_err(peer(reply).await).await;
    assert!(matches!(err, IpcError::ConnectionClosed { .. }), "{err:?}");
}

#[tokio::test]
async fn garbage_frame() {
    let mut reply = 8u32.to_be_bytes().to_vec();
    reply.extend_from_slice(&[0xff; 8]);
    let err = connect_err(peer(reply).await).await;
    assert!(matches!(err, IpcError::Malformed { .. }), "{err:?}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let hold = tokio::spawn(async move {
        let conn = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        drop(conn);
    });
    let err = connect_err(addr).await;
    assert!(matches!(err, IpcError::Timeout { .. }), "{err:?}");
    hold.abort();
}
