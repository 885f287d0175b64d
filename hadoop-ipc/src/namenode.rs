//! Client → NameNode (`ClientProtocol`): only what locality needs — block locations and
//! file status. Data itself goes through hdfs-native.

use spindle_proto::hadoop::hdfs as h;

use crate::client::RpcClient;
use crate::connection::{Auth, ConnectionConfig};
use crate::error::Result;
use crate::types::{BlockLocation, FileStatus};

const PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";

/// The NameNode calls Spindle makes over its own IPC.
#[derive(Debug)]
pub struct NameNodeClient {
    rpc: RpcClient,
}

impl NameNodeClient {
    /// A client for the NameNode at `addr` acting as `user` (SIMPLE auth).
    pub fn new(addr: &str, user: &str) -> Self {
        NameNodeClient {
            rpc: RpcClient::new(ConnectionConfig::new(
                addr,
                PROTOCOL,
                Auth::Simple {
                    user: user.to_string(),
                },
            )),
        }
    }

    /// A client with explicit connection settings (auth, qops, timeouts).
    pub fn with_config(config: ConnectionConfig) -> Self {
        NameNodeClient {
            rpc: RpcClient::new(ConnectionConfig {
                protocol: PROTOCOL.to_string(),
                ..config
            }),
        }
    }

    /// Status of `path`, or `None` when it does not exist.
    pub async fn file_info(&self, path: &str) -> Result<Option<FileStatus>> {
        let req = h::GetFileInfoRequestProto {
            src: path.to_string(),
        };
        let resp: h::GetFileInfoResponseProto = self.rpc.call("getFileInfo", &req, true).await?;
        Ok(resp.fs.map(|fs| FileStatus {
            length: fs.length,
            is_dir: fs.file_type == h::hdfs_file_status_proto::FileType::IsDir as i32,
            modification_time: fs.modification_time,
            block_size: fs.blocksize.unwrap_or_default(),
            replication: fs.block_replication.unwrap_or_default(),
        }))
    }

    /// The blocks of `path` overlapping `[offset, offset + length)`, with their hosts.
    pub async fn block_locations(
        &self,
        path: &str,
        offset: u64,
        length: u64,
    ) -> Result<Vec<BlockLocation>> {
        let req = h::GetBlockLocationsRequestProto {
            src: path.to_string(),
            offset,
            length,
        };
        let resp: h::GetBlockLocationsResponseProto =
            self.rpc.call("getBlockLocations", &req, true).await?;
        let Some(located) = resp.locations else {
            return Ok(Vec::new());
        };
        Ok(located
            .blocks
            .iter()
            .map(|b| BlockLocation {
                offset: b.offset,
                length: b.b.num_bytes.unwrap_or_default(),
                hosts: b.locs.iter().map(|d| d.id.host_name.clone()).collect(),
                names: b
                    .locs
                    .iter()
                    .map(|d| format!("{}:{}", d.id.ip_addr, d.id.xfer_port))
                    .collect(),
            })
            .collect())
    }
}
