//! YARN's aggregated container logs, read without a JVM: one file per NodeManager
//! under `<remote-app-log-dir>/<user>/bucket-<suffix>/<nnnn>/<appId>/<host>_<port>`,
//! written by the NodeManager when the application ends.
//!
//! The layers, as Hadoop writes them (`org.apache.hadoop.io.file.tfile.{BCFile,TFile,
//! Chunk,Utils}`, `org.apache.hadoop.yarn.logaggregation.AggregatedLogFormat`):
//!
//! * **BCFile**: a 16-byte magic, blocks, a meta index, and a tail of the meta index's
//!   offset (big-endian i64), the version (two big-endian i16, major 1) and the magic
//!   again. The meta index names regions (`data:BCFile.index`, `data:TFile.meta`,
//!   `data:TFile.index`) with their compression (`none`, `gz`, `lzo`) and
//!   offset/compressed/raw sizes; `BCFile.index` lists the data blocks. Numbers are
//!   TFile's variable-length integers ([`Cursor::vlong`]), strings a length and UTF-8.
//! * **TFile**: each data block is a run of entries: a key (length, bytes) and a value
//!   in chunks (a negative length for each chunk but the last). `TFile.meta` holds the
//!   entry count.
//! * **AggregatedLogFormat**: keys are Java `writeUTF` strings: `VERSION` (value: an
//!   i32), `APPLICATION_OWNER` (a `writeUTF` user), `APPLICATION_ACL` (pairs), and one
//!   key per container id whose value is a run of (`writeUTF` file name, `writeUTF`
//!   decimal length, that many bytes).
//!
//! Everything here is input from a file: every length and offset is checked, nothing
//! panics, and errors say which layer was wrong and where. Compression `none` (YARN's
//! default) and `gz` (zlib streams, Hadoop's `DefaultCodec`) are read; `lzo` is refused
//! by name. Other aggregation formats (`IFile`) are not TFiles and are refused by the
//! magic check.

use std::io::Read;

use crate::ClientError;

/// BCFile's magic, at both ends of the file.
const MAGIC: [u8; 16] = [
    0xd1, 0x11, 0xd3, 0x68, 0x91, 0xb5, 0xd7, 0xb6, 0x39, 0xdf, 0x41, 0x40, 0x92, 0xba, 0xe1, 0x50,
];
/// The tail after the meta index: its offset (8), the version (4), the magic (16).
const TAIL_LEN: usize = 8 + 4 + 16;
/// TFile refuses longer keys; so do we.
const MAX_KEY_LEN: i64 = 64 * 1024;
/// TFile's bound on meta strings (names, compression, comparator).
const MAX_META_STRING: i64 = 64 * 1024;
/// Preallocate no more than this for a block, whatever its header claims.
const MAX_PREALLOC: usize = 1 << 20;

/// The reserved keys of `AggregatedLogFormat`.
const VERSION_KEY: &str = "VERSION";
const OWNER_KEY: &str = "APPLICATION_OWNER";
const ACL_KEY: &str = "APPLICATION_ACL";

/// One NodeManager's aggregated log file, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeLogs {
    /// The format version the NodeManager wrote (the `VERSION` key; 1 today).
    pub version: Option<i32>,
    /// The application's owner (the `APPLICATION_OWNER` key).
    pub owner: Option<String>,
    /// The compression of the data blocks (`none`, `gz`).
    pub compression: String,
    /// Containers in the order the file holds them.
    pub containers: Vec<ContainerLogs>,
}

/// The log files of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLogs {
    /// `container_…`.
    pub container_id: String,
    /// Its files (`stderr`, `stdout`, `prelaunch.err`, …) in file order.
    pub files: Vec<LogFile>,
}

/// One aggregated log file of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The file name in the container's log directory.
    pub name: String,
    /// Its contents as uploaded.
    pub data: Vec<u8>,
}

/// What went wrong, without the file's path (added by [`parse`]).
type Malformed = String;

/// Parses one aggregated log file; `path` only names it in errors.
pub fn parse(path: &str, data: &[u8]) -> Result<NodeLogs, ClientError> {
    parse_bytes(data).map_err(|detail| ClientError::MalformedLog {
        path: path.to_string(),
        detail,
    })
}

fn parse_bytes(data: &[u8]) -> Result<NodeLogs, Malformed> {
    let bc = BcFile::open(data)?;
    let meta = bc.meta_block("TFile.meta")?;
    let mut c = Cursor::new(&meta, "TFile.meta");
    let (major, minor) = (c.be_i16()?, c.be_i16()?);
    if major != 1 {
        return Err(format!(
            "TFile version {major}.{minor} is not one this reader knows (1.x)"
        ));
    }
    let records = c.vlong()?;
    let comparator = c.string(MAX_META_STRING)?;
    if !comparator.is_empty() && comparator != "memcmp" {
        // Aggregated logs are unsorted; a comparator means this is some other TFile.
        return Err(format!(
            "a TFile sorted by {comparator:?}, not YARN's unsorted log format"
        ));
    }

    let mut out = NodeLogs {
        compression: bc.data_compression.name().to_string(),
        ..NodeLogs::default()
    };
    let mut seen: i64 = 0;
    for (i, region) in bc.data_blocks.iter().enumerate() {
        let block = bc.read_region(region, bc.data_compression, &format!("data block {i}"))?;
        let mut c = Cursor::new(&block, "data block");
        while !c.is_empty() {
            let at = c.pos;
            let (key, value) = tfile_entry(&mut c)
                .map_err(|e| format!("data block {i}, entry at byte {at}: {e}"))?;
            seen += 1;
            log_entry(&key, &value, &mut out)
                .map_err(|e| format!("data block {i}, entry at byte {at}: {e}"))?;
        }
    }
    if seen != records {
        return Err(format!(
            "TFile.meta counts {records} entries but the data blocks hold {seen}"
        ));
    }
    Ok(out)
}

/// One TFile entry: the key and the value's chunks joined.
fn tfile_entry(c: &mut Cursor<'_>) -> Result<(Vec<u8>, Vec<u8>), Malformed> {
    let key_len = c.vlong()?;
    if !(0..=MAX_KEY_LEN).contains(&key_len) {
        return Err(format!("key length {key_len} is out of range"));
    }
    let key = c.bytes(key_len as usize)?.to_vec();
    let mut value = Vec::new();
    loop {
        let n = c.vlong()?;
        if !(i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) {
            return Err(format!("value chunk length {n} is out of range"));
        }
        let last = n >= 0;
        let len = n.unsigned_abs() as usize;
        value.extend_from_slice(c.bytes(len)?);
        if last {
            return Ok((key, value));
        }
        if len == 0 {
            return Err("a non-final value chunk is empty".into());
        }
    }
}

/// Files one key/value pair of `AggregatedLogFormat` into `out`.
fn log_entry(key: &[u8], value: &[u8], out: &mut NodeLogs) -> Result<(), Malformed> {
    let mut k = Cursor::new(key, "key");
    let name = k.java_utf()?;
    if !k.is_empty() {
        return Err(format!("key {name:?} has {} bytes after it", k.remaining()));
    }
    let mut v = Cursor::new(value, "value");
    match name.as_str() {
        VERSION_KEY => out.version = Some(v.be_i32()?),
        OWNER_KEY => out.owner = Some(v.java_utf()?),
        ACL_KEY => {}
        container => {
            if !container.starts_with("container_") {
                return Err(format!("key {container:?} is not a container id"));
            }
            let files = container_files(&mut v).map_err(|e| format!("logs of {container}: {e}"))?;
            match out
                .containers
                .iter_mut()
                .find(|c| c.container_id == container)
            {
                Some(c) => c.files.extend(files),
                None => out.containers.push(ContainerLogs {
                    container_id: container.to_string(),
                    files,
                }),
            }
        }
    }
    Ok(())
}

/// A container's value: (name, decimal length, bytes) until the value ends.
fn container_files(v: &mut Cursor<'_>) -> Result<Vec<LogFile>, Malformed> {
    let mut files = Vec::new();
    while !v.is_empty() {
        let name = v.java_utf()?;
        let len_text = v.java_utf()?;
        let len: usize = len_text
            .parse()
            .map_err(|_| format!("file {name:?} has length {len_text:?}, not a number"))?;
        let data = v
            .bytes(len)
            .map_err(|e| format!("file {name:?} of {len} bytes: {e}"))?
            .to_vec();
        files.push(LogFile { name, data });
    }
    Ok(files)
}

/// How a BCFile block is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    /// Hadoop's `DefaultCodec`: zlib streams.
    Gz,
}

impl Compression {
    fn parse(name: &str) -> Result<Self, Malformed> {
        match name {
            "none" => Ok(Compression::None),
            "gz" => Ok(Compression::Gz),
            "lzo" => Err(
                "blocks are compressed with lzo, which spindle does not read (only none and gz); \
                 use `yarn logs`"
                    .into(),
            ),
            other => Err(format!("unknown block compression {other:?}")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gz => "gz",
        }
    }
}

/// Where a block is: offset, stored size and size once decompressed.
#[derive(Debug, Clone, Copy)]
struct Region {
    offset: u64,
    stored: u64,
    raw: u64,
}

/// A BCFile's index: its named meta blocks and its data blocks.
struct BcFile<'a> {
    data: &'a [u8],
    /// Where blocks may lie: before the meta index.
    blocks_end: usize,
    meta: Vec<(String, Compression, Region)>,
    data_compression: Compression,
    data_blocks: Vec<Region>,
}

impl<'a> BcFile<'a> {
    fn open(data: &'a [u8]) -> Result<Self, Malformed> {
        if data.len() < MAGIC.len() + TAIL_LEN {
            return Err(format!(
                "{} bytes is too short for a TFile (at least {})",
                data.len(),
                MAGIC.len() + TAIL_LEN
            ));
        }
        let tail_at = data.len() - TAIL_LEN;
        if data[..MAGIC.len()] != MAGIC || data[data.len() - MAGIC.len()..] != MAGIC {
            return Err(
                "no BCFile magic at its start and end: not a TFile (truncated, still being \
                 written, or another aggregation format such as IFile)"
                    .into(),
            );
        }
        let mut tail = Cursor::new(&data[tail_at..], "the tail");
        let index_at = tail.be_i64()?;
        let (major, minor) = (tail.be_i16()?, tail.be_i16()?);
        if major != 1 {
            return Err(format!(
                "BCFile version {major}.{minor} is not one this reader knows (1.x)"
            ));
        }
        let index_at = usize::try_from(index_at)
            .ok()
            .filter(|at| (MAGIC.len()..=tail_at).contains(at))
            .ok_or_else(|| {
                format!("the meta index offset {index_at} lies outside the file's blocks")
            })?;
        let mut c = Cursor::new(&data[index_at..tail_at], "the meta index");
        let count = c.vlong()?;
        if count < 0 {
            return Err(format!("the meta index counts {count} entries"));
        }
        let mut meta = Vec::new();
        for _ in 0..count {
            let full = c.string(MAX_META_STRING)?;
            let name = full
                .strip_prefix("data:")
                .ok_or_else(|| format!("meta block name {full:?} lacks the data: prefix"))?
                .to_string();
            let compression = Compression::parse(&c.string(MAX_META_STRING)?)?;
            let region = c.region()?;
            meta.push((name, compression, region));
        }
        let mut bc = BcFile {
            data,
            blocks_end: index_at,
            meta,
            data_compression: Compression::None,
            data_blocks: Vec::new(),
        };
        let index = bc.meta_block("BCFile.index")?;
        let mut c = Cursor::new(&index, "BCFile.index");
        bc.data_compression = Compression::parse(&c.string(MAX_META_STRING)?)?;
        let blocks = c.vlong()?;
        if blocks < 0 {
            return Err(format!("BCFile.index counts {blocks} data blocks"));
        }
        for _ in 0..blocks {
            bc.data_blocks.push(c.region()?);
        }
        Ok(bc)
    }

    /// The decompressed contents of the meta block `name`.
    fn meta_block(&self, name: &str) -> Result<Vec<u8>, Malformed> {
        let (_, compression, region) = self
            .meta
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| format!("no {name} meta block"))?;
        self.read_region(region, *compression, name)
    }

    fn read_region(
        &self,
        region: &Region,
        compression: Compression,
        what: &str,
    ) -> Result<Vec<u8>, Malformed> {
        let stored = usize::try_from(region.offset)
            .ok()
            .zip(usize::try_from(region.stored).ok())
            .and_then(|(at, len)| Some((at, at.checked_add(len)?)))
            .filter(|(at, end)| *at >= MAGIC.len() && *end <= self.blocks_end)
            .map(|(at, end)| &self.data[at..end])
            .ok_or_else(|| {
                format!(
                    "{what} at offset {} with {} bytes lies outside the file's blocks (which end at {})",
                    region.offset, region.stored, self.blocks_end
                )
            })?;
        let raw = match compression {
            Compression::None => stored.to_vec(),
            Compression::Gz => inflate(stored, region.raw).map_err(|e| format!("{what}: {e}"))?,
        };
        if raw.len() as u64 != region.raw {
            return Err(format!(
                "{what} holds {} bytes, its index says {}",
                raw.len(),
                region.raw
            ));
        }
        Ok(raw)
    }
}

/// Inflates one or more concatenated zlib streams, reading at most `raw + 1` bytes so
/// that a lying index cannot make us inflate without end.
fn inflate(mut stored: &[u8], raw: u64) -> Result<Vec<u8>, Malformed> {
    let mut out = Vec::with_capacity(usize::try_from(raw).unwrap_or(0).min(MAX_PREALLOC));
    while !stored.is_empty() && (out.len() as u64) <= raw {
        let limit = raw + 1 - out.len() as u64;
        let mut z = flate2::bufread::ZlibDecoder::new(stored);
        (&mut z)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| format!("the zlib stream is damaged: {e}"))?;
        let rest = z.into_inner();
        if rest.len() == stored.len() {
            break;
        }
        stored = rest;
    }
    Ok(out)
}

/// A reader over untrusted bytes: every read is checked, errors say what was read.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Cursor { buf, pos: 0, what }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "{} ends after {} bytes, {n} more wanted at byte {}",
                    self.what,
                    self.buf.len(),
                    self.pos
                )
            })?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    fn be_u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn be_i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn be_i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn be_i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// TFile's `Utils.readVLong`: one byte for [-32, 127], else a first byte saying how
    /// many follow (big-endian).
    pub(crate) fn vlong(&mut self) -> Result<i64, Malformed> {
        let first = i64::from(self.u8()? as i8);
        if first >= -32 {
            return Ok(first);
        }
        match (first + 128) / 8 {
            7..=11 => Ok(((first + 52) << 8) | i64::from(self.u8()?)),
            3..=6 => Ok(((first + 88) << 16) | i64::from(self.be_u16()?)),
            1 | 2 => {
                let hi = i64::from(self.be_u16()?);
                let lo = i64::from(self.u8()?);
                Ok(((first + 112) << 24) | (hi << 8) | lo)
            }
            _ => {
                let len = first + 129;
                let int = i64::from(self.be_i32()?);
                match len {
                    4 => Ok(int),
                    5 => Ok((int << 8) | i64::from(self.u8()?)),
                    6 => Ok((int << 16) | i64::from(self.be_u16()?)),
                    7 => {
                        let hi = i64::from(self.be_u16()?);
                        let lo = i64::from(self.u8()?);
                        Ok((int << 24) | (hi << 8) | lo)
                    }
                    8 => {
                        let lo = self.be_i32()?;
                        Ok((int << 32) | i64::from(lo as u32))
                    }
                    _ => Err(format!(
                        "{}: bad variable-length integer (first byte {:#04x}) at byte {}",
                        self.what,
                        first as u8,
                        self.pos - 5
                    )),
                }
            }
        }
    }

    /// TFile's `Utils.readString`: a vlong length (-1: null, read as empty) and UTF-8.
    fn string(&mut self, max: i64) -> Result<String, Malformed> {
        let at = self.pos;
        let len = self.vlong()?;
        if len == -1 {
            return Ok(String::new());
        }
        if !(0..=max).contains(&len) {
            return Err(format!(
                "{}: string length {len} at byte {at} is out of range",
                self.what
            ));
        }
        let b = self.bytes(len as usize)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| format!("{}: string at byte {at} is not UTF-8", self.what))
    }

    /// Java's `DataInput.readUTF`: a big-endian u16 length and modified UTF-8.
    fn java_utf(&mut self) -> Result<String, Malformed> {
        let at = self.pos;
        let len = self.be_u16()?;
        let b = self.bytes(usize::from(len))?;
        modified_utf8(b)
            .ok_or_else(|| format!("{}: text at byte {at} is not modified UTF-8", self.what))
    }

    /// BCFile's `BlockRegion`: offset, stored size, raw size, each a vlong ≥ 0.
    fn region(&mut self) -> Result<Region, Malformed> {
        let at = self.pos;
        let mut next = |field: &str| -> Result<u64, Malformed> {
            let v = self.vlong()?;
            u64::try_from(v)
                .map_err(|_| format!("{}: block {field} {v} at byte {at} is negative", self.what))
        };
        Ok(Region {
            offset: next("offset")?,
            stored: next("size")?,
            raw: next("raw size")?,
        })
    }
}

/// Java's modified UTF-8 (NUL as two bytes, other characters outside the BMP as
/// surrogate pairs of three bytes each), or `None` when malformed.
fn modified_utf8(b: &[u8]) -> Option<String> {
    if let Ok(s) = std::str::from_utf8(b)
        && !s.contains('\0')
    {
        return Some(s.to_string());
    }
    let mut units = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (unit, used) = match c >> 4 {
            0..=7 => (u16::from(c), 1),
            12 | 13 => {
                let c2 = *b.get(i + 1)?;
                if c2 & 0xc0 != 0x80 {
                    return None;
                }
                ((u16::from(c & 0x1f) << 6) | u16::from(c2 & 0x3f), 2)
            }
            14 => {
                let (c2, c3) = (*b.get(i + 1)?, *b.get(i + 2)?);
                if c2 & 0xc0 != 0x80 || c3 & 0xc0 != 0x80 {
                    return None;
                }
                (
                    (u16::from(c & 0x0f) << 12)
                        | (u16::from(c2 & 0x3f) << 6)
                        | u16::from(c3 & 0x3f),
                    3,
                )
            }
            _ => return None,
        };
        units.push(unit);
        i += used;
    }
    Some(String::from_utf16_lossy(&units))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from the loopback cluster: the node file of a small `spindle submit
    /// wordcount` (AM and two executors on one NodeManager), compression none.
    const NONE_FIXTURE: &[u8] = include_bytes!("../tests/fixtures/aggregated-none.tfile");

    /// Java's `Utils.writeVLong`, to test the decoder against every encoding length.
    fn write_vlong(out: &mut Vec<u8>, n: i64) {
        if (-32..128).contains(&n) {
            out.push(n as u8);
            return;
        }
        let un = if n < 0 { !n } else { n };
        let len = (64 - un.leading_zeros() as i64) / 8 + 1;
        let mut first = (n >> ((len - 1) * 8)) as i32;
        let mut len = len;
        if len == 1 {
            first >>= 8;
            len = 2;
        }
        if len == 2 {
            if (-20..20).contains(&first) {
                out.push((first - 52) as u8);
                out.push(n as u8);
                return;
            }
            first >>= 8;
            len = 3;
        }
        if len == 3 {
            if (-16..16).contains(&first) {
                out.push((first - 88) as u8);
                out.extend_from_slice(&(n as u16).to_be_bytes());
                return;
            }
            first >>= 8;
            len = 4;
        }
        if len == 4 {
            if (-8..8).contains(&first) {
                out.push((first - 112) as u8);
                out.extend_from_slice(&((n as i32 as u32 >> 8) as u16).to_be_bytes());
                out.push(n as u8);
                return;
            }
            out.push((len - 129) as u8);
            out.extend_from_slice(&(n as i32).to_be_bytes());
            return;
        }
        out.push((len - 129) as u8);
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[(8 - len as usize)..]);
    }

    #[test]
    fn vlongs_round_trip_through_javas_encoding() {
        let mut values: Vec<i64> = (-5000..5000).collect();
        for shift in 0..63 {
            for base in [1i64 << shift, -(1i64 << shift)] {
                values.extend([base - 1, base, base + 1]);
            }
        }
        values.extend([i64::MIN, i64::MAX, i64::from(i32::MIN), i64::from(i32::MAX)]);
        for v in values {
            let mut buf = Vec::new();
            write_vlong(&mut buf, v);
            let mut c = Cursor::new(&buf, "test");
            assert_eq!(c.vlong(), Ok(v), "{v}: {buf:02x?}");
            assert!(c.is_empty(), "{v}: {buf:02x?} not all read");
        }
        // Known encodings from Hadoop's javadoc ranges.
        assert_eq!(Cursor::new(&[0x7f], "t").vlong(), Ok(127));
        assert_eq!(Cursor::new(&[0xe0], "t").vlong(), Ok(-32));
        assert_eq!(Cursor::new(&[0xa8, 0x1f, 0xe5], "t").vlong(), Ok(8165));
        // First bytes -125..-128 ask for 4..1 bytes; fewer than 4 are invalid.
        assert!(Cursor::new(&[0x80, 0, 0, 0, 0], "t").vlong().is_err());
        assert!(Cursor::new(&[0xa8, 0x1f], "t").vlong().is_err());
    }

    #[test]
    fn real_file_from_the_cluster() {
        let logs = parse("fixture", NONE_FIXTURE).expect("parses");
        assert_eq!(logs.version, Some(1));
        assert_eq!(logs.owner.as_deref(), Some("root"));
        assert_eq!(logs.compression, "none");
        let ids: Vec<&str> = logs
            .containers
            .iter()
            .map(|c| c.container_id.as_str())
            .collect();
        assert!(!ids.is_empty());
        assert!(ids.iter().all(|id| id.starts_with("container_")), "{ids:?}");
        let am = logs
            .containers
            .iter()
            .find(|c| c.container_id.ends_with("_000001"))
            .expect("the AM's container");
        let names: Vec<&str> = am.files.iter().map(|f| f.name.as_str()).collect();
        for want in ["stderr", "stdout", "launch_container.sh", "directory.info"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let stderr = am
            .files
            .iter()
            .find(|f| f.name == "stderr")
            .expect("stderr");
        let text = String::from_utf8_lossy(&stderr.data);
        assert!(text.contains("executor registered"), "{text}");
        assert!(text.contains("job done"), "{text}");
        let executors: Vec<&ContainerLogs> = logs
            .containers
            .iter()
            .filter(|c| !c.container_id.ends_with("_000001"))
            .collect();
        assert!(!executors.is_empty(), "{ids:?}");
        for e in executors {
            let stderr = e.files.iter().find(|f| f.name == "stderr").expect("stderr");
            let text = String::from_utf8_lossy(&stderr.data);
            assert!(text.contains("registered with the driver"), "{text}");
        }
    }

    #[test]
    fn the_same_logs_compressed_with_gz() {
        // Hadoop's own LogWriter, compression gz, over the very container log
        // directories the NodeManager aggregated into NONE_FIXTURE.
        let gz = parse(
            "gz fixture",
            include_bytes!("../tests/fixtures/aggregated-gz.tfile"),
        )
        .expect("parses");
        assert_eq!(gz.compression, "gz");
        assert_eq!(gz.owner.as_deref(), Some("root"));
        let plain = parse("none fixture", NONE_FIXTURE).expect("parses");
        let sorted = |mut c: Vec<ContainerLogs>| {
            c.sort_by(|a, b| a.container_id.cmp(&b.container_id));
            c
        };
        assert_eq!(sorted(gz.containers), sorted(plain.containers));
    }

    #[test]
    fn a_damaged_zlib_block_is_an_error() {
        let mut bad = include_bytes!("../tests/fixtures/aggregated-gz.tfile").to_vec();
        for b in &mut bad[40..80] {
            *b ^= 0x55;
        }
        let e = err(&bad);
        assert!(e.contains("data block 0"), "{e}");
    }

    fn err(data: &[u8]) -> String {
        match parse("f", data) {
            Ok(logs) => panic!("parsed: {logs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_files_give_errors_that_say_why() {
        let e = err(b"");
        assert!(
            e.contains("f is not a readable YARN aggregated log file"),
            "{e}"
        );
        assert!(e.contains("too short"), "{e}");
        let e = err(&[b'x'; 100]);
        assert!(e.contains("no BCFile magic"), "{e}");
        // Cut short, as a file still being written looks.
        let e = err(&NONE_FIXTURE[..NONE_FIXTURE.len() / 2]);
        assert!(e.contains("no BCFile magic"), "{e}");
        // The meta index offset pointing past the end.
        let mut bad = NONE_FIXTURE.to_vec();
        let at = bad.len() - TAIL_LEN;
        bad[at..at + 8].copy_from_slice(&(1i64 << 40).to_be_bytes());
        let e = err(&bad);
        assert!(e.contains("meta index offset"), "{e}");
        // A newer major version.
        let mut bad = NONE_FIXTURE.to_vec();
        let at = bad.len() - TAIL_LEN + 8;
        bad[at..at + 2].copy_from_slice(&2i16.to_be_bytes());
        let e = err(&bad);
        assert!(e.contains("BCFile version 2.0"), "{e}");
    }

    #[test]
    fn a_damaged_length_inside_a_container_is_reported_with_the_container() {
        // Make the AM's first file claim more bytes than its value holds.
        let mut bad = NONE_FIXTURE.to_vec();
        let logs = parse("f", NONE_FIXTURE).expect("parses");
        let first = &logs.containers[0].files[0];
        let len_text = first.data.len().to_string();
        let needle: Vec<u8> = [
            &(first.name.len() as u16).to_be_bytes()[..],
            first.name.as_bytes(),
            &(len_text.len() as u16).to_be_bytes()[..],
            len_text.as_bytes(),
        ]
        .concat();
        let at = bad
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .expect("first file header");
        let digit = at + needle.len() - len_text.len();
        bad[digit] = b'9';
        let e = err(&bad);
        assert!(e.contains(&logs.containers[0].container_id), "{e}");
        assert!(e.contains(&first.name), "{e}");
        // And a length that is not a number.
        bad[digit] = b'x';
        let e = err(&bad);
        assert!(e.contains("not a number"), "{e}");
    }

    #[test]
    fn no_truncation_or_byte_flip_panics() {
        for len in 0..NONE_FIXTURE.len() {
            let _ = parse("f", &NONE_FIXTURE[..len]);
        }
        let mut data = NONE_FIXTURE.to_vec();
        for i in 0..data.len() {
            let keep = data[i];
            for v in [0x00, 0x7f, 0x80, 0xff, keep ^ 0x01] {
                data[i] = v;
                let _ = parse("f", &data);
            }
            data[i] = keep;
        }
    }

    #[test]
    fn modified_utf8_text() {
        assert_eq!(modified_utf8(b"stderr").as_deref(), Some("stderr"));
        assert_eq!(modified_utf8(&[0xc0, 0x80]).as_deref(), Some("\0"));
        // U+1F600 as a surrogate pair, three bytes each.
        let smile = [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80];
        assert_eq!(modified_utf8(&smile).as_deref(), Some("😀"));
        assert_eq!(modified_utf8(&[0xc3]), None);
        assert_eq!(modified_utf8(&[0xff]), None);
    }
}
