//! Byte sizes on the command line (`1KB`, `64MiB`, `4GiB`, `16m`) and in tables.

/// Parses a size: a number (decimals allowed) and an optional unit. `KiB`/`MiB`/`GiB`/
/// `TiB` and Hadoop's bare `k`/`m`/`g`/`t` are powers of 1024; `KB`/`MB`/`GB`/`TB` are
/// powers of 1000; `B` or nothing is bytes. Case-insensitive, spaces allowed.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (want B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    if num.is_empty() || num.matches('.').count() > 1 {
        return Err(format!("{text:?}: want a number and a unit, e.g. 64MiB"));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{text:?}: {num:?} is not a number"))?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes > 1e15 {
        return Err(format!("{text:?}: too large"));
    }
    if bytes.fract() != 0.0 {
        return Err(format!("{text:?}: not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

/// A size for people: `1 KiB`, `64 MiB`, `1.5 GiB`, `999 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (name, unit) in UNITS {
        if bytes >= unit {
            let v = bytes as f64 / unit as f64;
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{v:.2} {name}")
            };
        }
    }
    format!("{bytes} B")
}

/// A size as a file-name word: `1KiB`, `4GiB`, `1536B`.
pub fn size_tag(bytes: u64) -> String {
    for (name, unit) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_decimal_and_hadoop_units() {
        assert_eq!(parse_size("1KB"), Ok(1000));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4 gib"), Ok(4 << 30));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "GiB", "1.2.3MiB", "5 parsecs", "-1MiB", "0.3B", "1e30"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(4 << 30), "4 GiB");
        assert_eq!(format_size(3 << 29), "1.50 GiB");
        assert_eq!(format_size(999), "999 B");
        assert_eq!(size_tag(256 << 10), "256KiB");
        assert_eq!(size_tag(1536), "1536B");
        assert_eq!(size_tag(4 << 30), "4GiB");
    }
}
