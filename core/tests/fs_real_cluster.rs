//! `spindle_core::fs` against the real loopback cluster: what HdfsFs writes Hadoop's own
//! FsShell reads byte for byte and the other way round, block hosts are the DataNodes'
//! names, and listing, globbing, renaming and deleting behave as Hadoop's do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use spindle_conf::HadoopConf;
use spindle_core::CoreError;
use spindle_core::fs::{FileSystem, HdfsFs, for_uri};
use spindle_integration::unique_name;
use spindle_integration::{Cluster, ensure_cluster};

const KIB: u64 = 1024;
const HOSTS: [&str; 2] = ["127.0.0.2", "127.0.0.3"];

/// A fresh absolute HDFS path under /tmp.
fn unique(prefix: &str) -> String {
    format!("/tmp/{}", unique_name(&format!("spindle-fs-{prefix}")))
}

/// Bytes that differ at every offset within a block, so a misplaced range shows.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

async fn setup() -> (&'static Cluster, HadoopConf, HdfsFs) {
    let cluster = ensure_cluster().await.expect("cluster up");
    let conf = HadoopConf::from_dir(&cluster.conf_dir()).expect("cluster conf");
    let fs = HdfsFs::new(&cluster.namenode_address(), "root", &conf).expect("HdfsFs");
    (cluster, conf, fs)
}

async fn fs_shell(cluster: &Cluster, args: &[&str]) -> Vec<u8> {
    cluster.fs_shell(args).await.expect("hdfs dfs")
}

async fn cleanup(fs: &dyn FileSystem, dir: &str) {
    let _ = fs.delete(dir).await;
}

#[tokio::test]
async fn hdfs_fs_write_is_read_by_fsshell_and_blocks_name_datanodes() {
    let (cluster, _conf, fs) = setup().await;
    let dir = unique("write");
    let path = format!("{dir}/multi.bin");
    let data = pattern(300 * KIB as usize + 123, 1);
    fs.write_with_block_size(&path, Bytes::from(data.clone()), Some(64 * KIB))
        .await
        .expect("write");

    let catted = fs_shell(cluster, &["-cat", &path]).await;
    assert!(
        catted == data,
        "FsShell -cat differs from what HdfsFs wrote"
    );

    let info = fs.info(&path).await.expect("info").expect("exists");
    assert_eq!(info.path, format!("{}{path}", cluster.default_fs()));
    assert_eq!(info.length, data.len() as u64);
    assert_eq!(info.block_size, 64 * KIB);
    assert!(!info.is_dir);
    assert!(info.modification_time > 0);

    let blocks = fs.blocks(&info).await.expect("blocks");
    assert_eq!(blocks.len(), 5, "{blocks:?}");
    let mut next = 0;
    for b in &blocks {
        assert_eq!(b.offset, next, "{blocks:?}");
        next += b.length;
        assert!(!b.hosts.is_empty(), "{b:?}");
        let distinct: BTreeSet<&String> = b.hosts.iter().collect();
        assert_eq!(distinct.len(), b.hosts.len(), "{b:?}");
        for h in &b.hosts {
            assert!(
                HOSTS.contains(&h.as_str()),
                "host {h} not a NodeManager name"
            );
        }
    }
    assert_eq!(next, info.length);

    // Whole-file read through the trait, and the write refuses to overwrite.
    let back = fs
        .read_range(&info.path, 0, info.length + 10)
        .await
        .expect("read");
    assert!(back == data);
    let err = fs
        .write(&path, Bytes::from_static(b"other"))
        .await
        .expect_err("exists");
    assert!(
        matches!(&err, CoreError::Fs { op: "creating", .. })
            && err.to_string().contains("already exists"),
        "{err}"
    );
    assert_eq!(
        fs.read_range(&path, 0, 4).await.expect("unchanged"),
        data[..4]
    );
    cleanup(&fs, &dir).await;
}

#[tokio::test]
async fn hdfs_fs_reads_ranges_of_an_fsshell_file_across_blocks() {
    let (cluster, conf, _) = setup().await;
    let dir = unique("ranges");
    let path = format!("{dir}/put.bin");
    let local = tempfile::tempdir().expect("tempdir");
    let local_file = local.path().join("put.bin");
    let data = pattern(5 * 64 * KIB as usize + 777, 2);
    std::fs::write(&local_file, &data).expect("local write");
    let local_s = local_file.to_string_lossy().into_owned();
    fs_shell(
        cluster,
        &["-D", "dfs.blocksize=65536", "-mkdir", "-p", &dir],
    )
    .await;
    fs_shell(
        cluster,
        &["-D", "dfs.blocksize=65536", "-put", &local_s, &path],
    )
    .await;

    // A bare path, resolved through fs.defaultFS.
    let fs: Arc<dyn FileSystem> = for_uri(&path, &conf, "root").await.expect("for_uri");
    let info = fs.info(&path).await.expect("info").expect("exists");
    assert_eq!(info.length, data.len() as u64);
    assert_eq!(fs.blocks(&info).await.expect("blocks").len(), 6);

    let b = 64 * KIB;
    let len = data.len() as u64;
    let ranges = [
        (0, 100),
        (b - 10, 20),
        (b, b),
        (b - 1, 2 * b + 2),
        (3 * b + 5, 1),
        (len - 50, 50),
        (len - 50, 5000),
        (0, len),
    ];
    for (offset, n) in ranges {
        let got = fs.read_range(&info.path, offset, n).await.expect("range");
        let end = (offset + n).min(len) as usize;
        assert!(
            got == data[offset as usize..end],
            "range {offset}+{n}: {} bytes, differs",
            got.len()
        );
    }
    assert!(fs.read_range(&path, len, 10).await.expect("eof").is_empty());
    assert!(
        fs.read_range(&path, len + 99, 10)
            .await
            .expect("past")
            .is_empty()
    );

    // Sequential chunks not aligned to blocks, as a record reader asks.
    let mut joined = Vec::new();
    let mut offset = 0;
    while offset < len {
        let chunk = fs.read_range(&path, offset, 50_000).await.expect("chunk");
        assert!(!chunk.is_empty());
        offset += chunk.len() as u64;
        joined.extend_from_slice(&chunk);
    }
    assert!(joined == data);

    let err = fs
        .read_range(&format!("{dir}/missing.bin"), 0, 10)
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("FileNotFoundException"), "{err}");
    cleanup(fs.as_ref(), &dir).await;
}

#[tokio::test]
async fn list_inputs_globs_and_hidden_files() {
    let (cluster, conf, fs) = setup().await;
    let dir = unique("list");
    for (name, body) in [
        ("in/part-00000", "a\n"),
        ("in/part-00001", "bb\n"),
        ("in/sub/part-00002", "ccc\n"),
        ("in/_SUCCESS", ""),
        ("in/.hidden", "x\n"),
        ("in/.part-00000.crc", "x\n"),
        ("in/_temporary/0/part-9", "x\n"),
        ("other/data.txt", "dddd\n"),
    ] {
        fs.write(&format!("{dir}/{name}"), Bytes::from(body))
            .await
            .expect("write");
    }
    fs.mkdirs(&format!("{dir}/empty")).await.expect("mkdirs");
    let root = format!("{}{dir}", cluster.default_fs());
    let rel = |files: &[spindle_core::fs::FileInfo]| -> Vec<String> {
        files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(&format!("{root}/"))
                    .expect("full URI under the test dir")
                    .to_string()
            })
            .collect()
    };

    let got = fs.list_inputs(&format!("{dir}/in")).await.expect("dir");
    assert_eq!(
        rel(&got),
        ["in/part-00000", "in/part-00001", "in/sub/part-00002"]
    );
    assert_eq!(got.iter().map(|f| f.length).collect::<Vec<_>>(), [2, 3, 4]);

    let got = fs
        .list_inputs(&format!("{root}/in/part-0000[01]"))
        .await
        .expect("glob");
    assert_eq!(rel(&got), ["in/part-00000", "in/part-00001"]);
    let got = fs
        .list_inputs(&format!("{dir}/*"))
        .await
        .expect("star over dirs");
    assert_eq!(
        rel(&got),
        [
            "in/part-00000",
            "in/part-00001",
            "in/sub/part-00002",
            "other/data.txt"
        ]
    );
    let got = fs
        .list_inputs(&format!("{dir}/{{in/sub,other}}"))
        .await
        .expect("braces");
    assert_eq!(rel(&got), ["in/sub/part-00002", "other/data.txt"]);
    let got = fs
        .list_inputs(&format!("{dir}/in/part-00001"))
        .await
        .expect("file");
    assert_eq!(rel(&got), ["in/part-00001"]);
    assert!(
        fs.list_inputs(&format!("{dir}/empty"))
            .await
            .expect("empty dir")
            .is_empty()
    );

    // The same through for_uri with a full URI.
    let via = for_uri(&root, &conf, "root").await.expect("for_uri");
    let got = via
        .list_inputs(&format!("{root}/other"))
        .await
        .expect("uri");
    assert_eq!(rel(&got), ["other/data.txt"]);

    for missing in [
        format!("{dir}/nope"),
        format!("{dir}/in/*.csv"),
        format!("{dir}/in/_*"),
        format!("{dir}/nodir/*"),
    ] {
        let err = fs.list_inputs(&missing).await.expect_err("missing");
        assert!(
            matches!(&err, CoreError::InputMissing(p) if *p == missing),
            "{missing}: {err}"
        );
    }

    let listed = fs.list_dir(&format!("{dir}/in")).await.expect("list_dir");
    assert_eq!(
        rel(&listed),
        [
            "in/.hidden",
            "in/.part-00000.crc",
            "in/_SUCCESS",
            "in/_temporary",
            "in/part-00000",
            "in/part-00001",
            "in/sub"
        ]
    );
    assert!(fs.list_dir(&format!("{dir}/nope")).await.is_err());
    cleanup(&fs, &dir).await;
}

#[tokio::test]
async fn rename_and_delete() {
    let (cluster, _conf, fs) = setup().await;
    let dir = unique("rename");
    let a = format!("{dir}/a.txt");
    let b = format!("{dir}/b.txt");
    let c = format!("{dir}/moved/c.txt");
    fs.write(&a, Bytes::from_static(b"alpha")).await.expect("a");
    fs.write(&b, Bytes::from_static(b"beta")).await.expect("b");
    // Cache a reader of `a` to see that renames and deletes drop it.
    assert_eq!(fs.read_range(&a, 0, 5).await.expect("a"), "alpha");

    let err = fs.rename(&a, &b).await.expect_err("target exists");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(fs.read_range(&b, 0, 10).await.expect("b"), "beta");

    fs.mkdirs(&format!("{dir}/moved")).await.expect("mkdirs");
    fs.rename(&a, &c).await.expect("rename");
    assert!(fs.info(&a).await.expect("info").is_none());
    assert_eq!(fs.read_range(&c, 0, 10).await.expect("c"), "alpha");
    let err = fs.read_range(&a, 0, 5).await.expect_err("renamed away");
    assert!(err.to_string().contains("FileNotFoundException"), "{err}");
    let shell = fs_shell(cluster, &["-cat", &c]).await;
    assert_eq!(shell, b"alpha");

    // Replaced under the same name: the new content is read, not the cached blocks.
    fs.write(&a, Bytes::from_static(b"second"))
        .await
        .expect("rewrite");
    assert_eq!(fs.read_range(&a, 0, 10).await.expect("new a"), "second");

    assert!(fs.delete(&b).await.expect("delete file"));
    assert!(!fs.delete(&b).await.expect("already gone"));
    assert!(fs.delete(&dir).await.expect("delete tree"));
    assert!(fs.info(&dir).await.expect("info").is_none());
    assert!(!fs.delete(&dir).await.expect("tree gone"));
}

/// Not a benchmark gate: prints MB/s for a 64 MiB file read in 8 MiB chunks.
#[tokio::test]
async fn large_read_throughput() {
    let (_cluster, _conf, fs) = setup().await;
    let dir = unique("large");
    let path = format!("{dir}/64m.bin");
    let size = 64 * 1024 * KIB;
    let data = Bytes::from(pattern(size as usize, 3));
    let started = Instant::now();
    fs.write(&path, data.clone()).await.expect("write");
    let write_secs = started.elapsed().as_secs_f64();

    let chunk = 8 * 1024 * KIB;
    let started = Instant::now();
    let mut offset = 0;
    while offset < size {
        let got = fs.read_range(&path, offset, chunk).await.expect("read");
        assert!(
            got == data[offset as usize..(offset + got.len() as u64) as usize],
            "chunk at {offset} differs"
        );
        offset += got.len() as u64;
    }
    let read_secs = started.elapsed().as_secs_f64();
    let mib = size as f64 / (1024.0 * 1024.0);
    eprintln!(
        "HdfsFs 64 MiB: write {:.1} MiB/s ({write_secs:.2}s), read in 8 MiB chunks {:.1} MiB/s ({read_secs:.2}s)",
        mib / write_secs,
        mib / read_secs
    );
    cleanup(&fs, &dir).await;
}
