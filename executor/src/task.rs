//! Running one task: decoding its payload, reading its input (a file split or shuffle
//! blocks), mapping or reducing, and writing its output. Owns the executor's file-system
//! cache. It does not talk to the driver: the session turns outcomes into `TaskStatus`.

use bytes::Bytes;
use spindle_core::fs::FsCache;

use crate::TaskOutput;
use spindle_core::job::{
    Counts, Mapper, TaskPayload, decode_payload, decode_shuffle_block, encode_map_result,
    format_output, merge_into, partition,
};
use spindle_core::lines::for_each_line;
use spindle_core::split::Split;
use spindle_proto::spindle::task_description::Input;
use spindle_proto::spindle::{FileSplit, ShuffleInput, TaskDescription};

/// How much of a split is read per file-system call.
pub(crate) const READ_CHUNK: usize = 8 * 1024 * 1024;

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
    use spindle_conf::HadoopConf;

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
