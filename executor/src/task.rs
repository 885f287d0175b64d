//! Running one task: decoding its payload, reading its input (a file split or shuffle
//! blocks), mapping or reducing, and writing its output. Owns the executor's file-system
//! cache. It does not talk to the driver: the session turns outcomes into `TaskStatus`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use spindle_conf::HadoopConf;
use spindle_core::CoreError;
use spindle_core::fs::{FileSystem, for_uri};
use spindle_core::job::{
    Counts, Mapper, TaskPayload, decode_payload, decode_shuffle_block, encode_map_result,
    format_output, merge_into, partition,
};
use spindle_core::lines::for_each_line;
use spindle_core::split::Split;
use spindle_proto::spindle::task_description::Input;
use spindle_proto::spindle::{FileSplit, ShuffleInput, TaskDescription};
use tokio::sync::OnceCell;

/// How much of a split is read per file-system call.
pub(crate) const READ_CHUNK: usize = 8 * 1024 * 1024;

/// What a task that ran to the end produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskOutput {
    /// The engine-encoded result (map tasks), empty for reduce tasks.
    pub result: Vec<u8>,
    pub input_bytes: u64,
    pub input_records: u64,
    pub output_records: u64,
}

/// File systems by scheme and authority, created on first use and shared by all tasks
/// (an HDFS client holds NameNode connections worth reusing).
#[derive(Debug)]
pub(crate) struct FsCache {
    conf: HadoopConf,
    user: String,
    default_fs: String,
    by_authority: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One file system, created by the first task that needs it.
type Slot = OnceCell<Arc<dyn FileSystem>>;

impl FsCache {
    /// A cache resolving bare paths against `conf`'s `fs.defaultFS`.
    pub(crate) fn new(conf: HadoopConf, user: String) -> FsCache {
        let default_fs = conf.get_or("fs.defaultFS", "file:///");
        FsCache {
            conf,
            user,
            default_fs,
            by_authority: Mutex::new(HashMap::new()),
        }
    }

    /// The file system holding `uri`.
    pub(crate) async fn get(&self, uri: &str) -> Result<Arc<dyn FileSystem>, CoreError> {
        let key = fs_key(uri, &self.default_fs);
        let cell = self
            .by_authority
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        // One creation per key even when several tasks start at once; a failed creation
        // leaves the cell empty so the next task tries again.
        cell.get_or_try_init(|| for_uri(uri, &self.conf, &self.user))
            .await
            .cloned()
    }
}

/// `scheme://authority` of `uri` (lower-case scheme), bare paths taking `default_fs`'s.
/// `hdfs:///p` (no authority) shares the default file system's entry when that is HDFS.
fn fs_key(uri: &str, default_fs: &str) -> String {
    let default_key = authority_key(default_fs);
    match authority_key(uri) {
        None => default_key.unwrap_or_else(|| default_fs.to_string()),
        Some(key) => match default_key {
            Some(d) if key.ends_with("://") && d.starts_with(&key) => d,
            _ => key,
        },
    }
}

/// `scheme://authority` of a URI with a scheme.
fn authority_key(uri: &str) -> Option<String> {
    let (scheme, rest) = scheme_of(uri)?;
    let authority = rest
        .strip_prefix("//")
        .map(|r| r.split('/').next().unwrap_or_default())
        .unwrap_or_default();
    Some(format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

/// Splits `scheme:rest` when `uri` starts with an RFC 3986 scheme.
fn scheme_of(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// Runs `task` to the end; the error says what failed on which input.
pub(crate) async fn execute(task: TaskDescription, fs: &FsCache) -> Result<TaskOutput, String> {
    let payload = decode_payload(&task.payload)
        .map_err(|e| format!("decoding the payload of task {}: {e}", task.task_id))?;
    match (payload, task.input) {
        (TaskPayload::Map { job, reducers }, Some(Input::FileSplit(split))) => {
            let mut mapper =
                Mapper::new(&job).map_err(|e| format!("starting the {} map: {e}", job.name()))?;
            run_map(&mut mapper, reducers, split, fs).await
        }
        (TaskPayload::Reduce { output_file, .. }, Some(Input::Shuffle(shuffle))) => {
            run_reduce(shuffle, &output_file, fs).await
        }
        (TaskPayload::Map { .. }, other) => Err(format!(
            "map task {} needs a file_split input, got {}",
            task.task_id,
            input_name(&other)
        )),
        (TaskPayload::Reduce { .. }, other) => Err(format!(
            "reduce task {} needs a shuffle input, got {}",
            task.task_id,
            input_name(&other)
        )),
    }
}

fn input_name(input: &Option<Input>) -> &'static str {
    match input {
        None => "no input",
        Some(Input::FileSplit(_)) => "a file_split",
        Some(Input::Shuffle(_)) => "a shuffle input",
    }
}

async fn run_map(
    mapper: &mut Mapper,
    reducers: u32,
    input: FileSplit,
    fs: &FsCache,
) -> Result<TaskOutput, String> {
    if reducers == 0 {
        return Err("map task with 0 reducers".into());
    }
    let range = format!(
        "{} [{}, {})",
        input.path,
        input.start,
        input.start.saturating_add(input.length)
    );
    let split = Split {
        path: input.path,
        start: input.start,
        length: input.length,
        hosts: input.hosts,
    };
    let fs = fs
        .get(&split.path)
        .await
        .map_err(|e| format!("opening the file system of {}: {e}", split.path))?;
    let mut counts = Counts::default();
    let stats = for_each_line(fs.as_ref(), &split, READ_CHUNK, &mut |line| {
        mapper.map_line(line, &mut counts)
    })
    .await
    .map_err(|e| format!("reading {range}: {e}"))?;
    let output_records = counts.len() as u64;
    let buckets = partition(counts, reducers);
    Ok(TaskOutput {
        result: encode_map_result(&buckets),
        input_bytes: stats.bytes_read,
        input_records: stats.lines,
        output_records,
    })
}

async fn run_reduce(
    input: ShuffleInput,
    output_file: &str,
    fs: &FsCache,
) -> Result<TaskOutput, String> {
    let n = input.blocks.len();
    let mut merged = Counts::default();
    let mut input_bytes = 0u64;
    let mut input_records = 0u64;
    for (i, block) in input.blocks.iter().enumerate() {
        let counts = decode_shuffle_block(block)
            .map_err(|e| format!("decoding shuffle block {i} of {n}: {e}"))?;
        input_bytes += block.len() as u64;
        input_records += counts.len() as u64;
        merge_into(&mut merged, counts);
    }
    let bytes = format_output(&merged);
    let fs = fs
        .get(output_file)
        .await
        .map_err(|e| format!("opening the file system of {output_file}: {e}"))?;
    fs.write(output_file, Bytes::from(bytes))
        .await
        .map_err(|e| format!("writing {output_file}: {e}"))?;
    Ok(TaskOutput {
        result: Vec::new(),
        input_bytes,
        input_records,
        output_records: merged.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_systems_are_keyed_by_scheme_and_authority() {
        let cases = [
            ("hdfs://nn:8020/a/b", "file:///", "hdfs://nn:8020"),
            ("HDFS://nn:8020/a", "file:///", "hdfs://nn:8020"),
            ("hdfs://nn2:8020/a", "hdfs://nn:8020", "hdfs://nn2:8020"),
            ("/a/b", "hdfs://nn:8020", "hdfs://nn:8020"),
            ("/a/b", "hdfs://nn:8020/", "hdfs://nn:8020"),
            ("a/b", "file:///", "file://"),
            ("file:///tmp/x", "hdfs://nn:8020", "file://"),
            ("file:/tmp/x", "hdfs://nn:8020", "file://"),
            ("hdfs:///a", "hdfs://nn:8020", "hdfs://nn:8020"),
            ("hdfs:///a", "file:///", "hdfs://"),
        ];
        for (uri, default_fs, key) in cases {
            assert_eq!(fs_key(uri, default_fs), key, "{uri} under {default_fs}");
        }
    }

    #[tokio::test]
    async fn inputs_must_match_the_payload() {
        let fs = FsCache::new(HadoopConf::default(), "nobody".into());
        let task = TaskDescription {
            task_id: 9,
            payload: vec![0xff, 0xfe, 0xfd],
            ..Default::default()
        };
        let err = execute(task, &fs).await.expect_err("garbage payload");
        assert!(err.contains("decoding the payload of task 9"), "{err}");
    }
}
