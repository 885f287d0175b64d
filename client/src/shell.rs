//! Quoting for the AM's launch command and environment.
//!
//! YARN writes the command into `launch_container.sh` as `exec /bin/bash -c "<command>"`
//! and each variable as `export KEY="<value>"`, without escaping either, after replacing
//! `<LOG_DIR>`, `<CPS>`, `{{` and `}}`. So an argument is quoted twice: for the inner
//! `bash -c` (single quotes) and then, with the whole command, for the outer double
//! quotes. The YARN markers cannot be escaped at all and are refused.

/// Markers YARN rewrites in commands and environment values.
const YARN_MARKERS: [&str; 4] = ["<LOG_DIR>", "<CPS>", "{{", "}}"];

/// Quotes one word for a POSIX shell: unchanged when it holds only safe characters,
/// else in single quotes with embedded single quotes as `'\''`.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Escapes text for the inside of a bash double-quoted string.
pub fn escape_double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The YARN marker `text` contains, if any.
pub fn yarn_marker(text: &str) -> Option<&'static str> {
    YARN_MARKERS.into_iter().find(|m| text.contains(m))
}

/// The command string for YARN: each word quoted for `bash -c`, the whole escaped for
/// YARN's outer double quotes, then `suffix` (redirections with `<LOG_DIR>`) appended
/// verbatim. Errors name the word holding a YARN marker.
pub fn yarn_command(words: &[String], suffix: &str) -> Result<String, String> {
    for w in words {
        if let Some(m) = yarn_marker(w) {
            return Err(format!(
                "{w:?} contains {m}, which YARN rewrites in launch commands"
            ));
        }
    }
    let inner = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    Ok(format!("{} {suffix}", escape_double_quoted(&inner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `text` through bash as YARN's launch script would and returns what the
    /// program would receive as its arguments.
    fn through_launch_script(command: &str) -> Vec<String> {
        let script = format!(
            "exec /bin/bash -c \"{}\"",
            command.replace("printf-args", "printf '%s\\0'")
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "{script}: {out:?}");
        let Some(body) = out.stdout.strip_suffix(&[0]) else {
            return Vec::new();
        };
        body.split(|b| *b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    #[test]
    fn quote_table() {
        let cases: &[(&str, &str)] = &[
            ("wordcount", "wordcount"),
            ("hdfs://nn:9000/a/b", "hdfs://nn:9000/a/b"),
            ("--num-executors", "--num-executors"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("$HOME", "'$HOME'"),
            ("a*b", "'a*b'"),
            ("x\ny", "'x\ny'"),
        ];
        for (word, quoted) in cases {
            assert_eq!(quote(word), *quoted, "{word:?}");
        }
    }

    #[test]
    fn words_survive_both_shells() {
        let words: Vec<String> = [
            "plain",
            "two words",
            "it's",
            r#"say "hi""#,
            "$HOME and ${PATH} and $(id) and `id`",
            r"back\slash\\ and \n",
            "^[a-z]+$",
            "tab\there",
            "!bang",
            "",
            "ünïcode ✓",
            "semi;colon && pipe | amp &",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut cmd = vec!["printf-args".to_string()];
        cmd.extend(words.iter().cloned());
        let line = yarn_command(&cmd, "").expect("no markers");
        // printf-args is replaced after quoting, so it must have stayed unquoted.
        assert_eq!(through_launch_script(&line), words);
    }

    #[test]
    fn yarn_markers_are_refused() {
        for bad in ["a{{b", "x}}", "<LOG_DIR>/x", "a<CPS>b"] {
            let err = yarn_command(&[bad.to_string()], "").expect_err("should be refused");
            assert!(err.contains("YARN rewrites"), "{err}");
        }
        let ok = yarn_command(&["a{b}".to_string()], "1><LOG_DIR>/stdout").expect("ok");
        assert_eq!(ok, "'a{b}' 1><LOG_DIR>/stdout");
    }

    #[test]
    fn double_quote_escaping() {
        assert_eq!(escape_double_quoted(r#"a"b$c`d\e"#), r#"a\"b\$c\`d\\e"#);
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "X=\"{}\"; printf %s \"$X\"",
                escape_double_quoted(r#"v="1" $Y `z` \q"#)
            ))
            .output()
            .expect("bash runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), r#"v="1" $Y `z` \q"#);
    }
}
