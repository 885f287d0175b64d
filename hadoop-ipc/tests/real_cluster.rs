//! Our IPC against the real daemons: NameNode block locations equal what Hadoop's own
//! fsck reports, and a wrong token is refused with a typed error, not a hang.

use std::time::Duration;

use spindle_hadoop_ipc::credentials::Token;
use spindle_hadoop_ipc::namenode::NameNodeClient;
use spindle_hadoop_ipc::rm::{AMRM_TOKEN_KIND, AmRmClient};
use spindle_hadoop_ipc::{Auth, Connection, ConnectionConfig, IpcError, Qop};
use spindle_integration::ensure_cluster;
use spindle_integration::unique_name as unique;

/// (block length, sorted `ip:port` of replicas) per block, from `hdfs fsck -locations`.
fn fsck_blocks(report: &str) -> Vec<(u64, Vec<String>)> {
    report
        .lines()
        .filter(|l| l.contains(" len=") && l.contains("DatanodeInfoWithStorage"))
        .map(|l| {
            let len = l
                .split(" len=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .expect("len= field");
            let mut names: Vec<String> = l
                .split("DatanodeInfoWithStorage[")
                .skip(1)
                .filter_map(|r| r.split(',').next())
                .map(str::to_string)
                .collect();
            names.sort();
            (len, names)
        })
        .collect()
}

#[tokio::test]
async fn block_locations_equal_fsck() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("blocks.txt");
    // 5 blocks of 64 KiB plus a partial one.
    let data: String = (0..6000)
        .map(|i| format!("line {i:08} of the file\n"))
        .collect();
    std::fs::write(&local, &data).expect("write");
    let remote = format!("/tmp/{}.txt", unique("locations"));
    let local_s = local.to_string_lossy().into_owned();
    let out = cluster
        .hadoop_cli(
            "org.apache.hadoop.fs.FsShell",
            &["-D", "dfs.blocksize=65536", "-put", &local_s, &remote],
        )
        .await
        .expect("FsShell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cluster
        .hadoop_cli(
            "org.apache.hadoop.hdfs.tools.DFSck",
            &[&remote, "-files", "-blocks", "-locations"],
        )
        .await
        .expect("DFSck");
    let want = fsck_blocks(&String::from_utf8_lossy(&out.stdout));
    assert!(want.len() > 1, "fsck found {} blocks", want.len());

    let nn = NameNodeClient::new(&cluster.namenode_address(), "root");
    let status = nn
        .file_info(&remote)
        .await
        .expect("getFileInfo")
        .expect("exists");
    assert_eq!(status.length, data.len() as u64);
    assert!(!status.is_dir);
    assert_eq!(status.block_size, 65536);
    let blocks = nn
        .block_locations(&remote, 0, status.length)
        .await
        .expect("getBlockLocations");
    let got: Vec<(u64, Vec<String>)> = blocks
        .iter()
        .map(|b| {
            let mut n = b.names.clone();
            n.sort();
            (b.length, n)
        })
        .collect();
    assert_eq!(got, want);
    // Offsets are contiguous and host names are the DataNodes' node names.
    let mut offset = 0;
    for b in &blocks {
        assert_eq!(b.offset, offset);
        offset += b.length;
        for h in &b.hosts {
            assert!(h == "127.0.0.2" || h == "127.0.0.3", "host {h}");
        }
    }
    assert!(nn.file_info("/no/such/path").await.expect("call").is_none());
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_typed_error() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let conf = spindle_conf::HadoopConf::from_dir(&cluster.conf_dir()).expect("conf");
    let scheduler = conf
        .get("yarn.resourcemanager.scheduler.address")
        .expect("scheduler address");
    // A well-formed but unknown AMRM token identifier: attempt 1 of an application that
    // never existed, key id 42.
    let fake = Token::new(
        vec![0x08, 0x01, 0x12, 0x04, 0x08, 0x01, 0x10, 0x2a],
        vec![1, 2, 3, 4],
        AMRM_TOKEN_KIND,
        scheduler.clone(),
    );
    let mut rm = AmRmClient::new(&scheduler, fake, Qop::ALL.to_vec());
    let err = tokio::time::timeout(Duration::from_secs(30), rm.register("127.0.0.1", 0, ""))
        .await
        .expect("refused in time, not a hang")
        .expect_err("a fake token must be refused");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            IpcError::Remote { .. }
                | IpcError::AuthRejected { .. }
                | IpcError::ConnectionClosed { .. }
        ),
        "{err:?}"
    );
    assert!(!msg.is_empty());

    // SIMPLE where only TOKEN is accepted: the RM's own words come back.
    let simple = ConnectionConfig::new(
        scheduler.as_str(),
        "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB",
        Auth::Simple {
            user: "root".into(),
        },
    );
    let conn = Connection::connect(simple)
        .await
        .expect("TCP and header accepted");
    let err = conn
        .call::<_, spindle_proto_free::Empty>(
            "registerApplicationMaster",
            &spindle_proto_free::Empty {},
        )
        .await
        .expect_err("SIMPLE is refused");
    assert!(err.to_string().contains("TOKEN"), "{err}");
}

/// A message with no fields, to call methods without naming prost types here.
mod spindle_proto_free {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}
}
