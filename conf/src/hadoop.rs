//! Hadoop's XML configuration format: `<configuration><property><name/><value/><final/>`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::ConfError;

/// The files Hadoop's client classes read, in the order they are layered.
pub const SITE_FILES: [&str; 4] = [
    "core-site.xml",
    "hdfs-site.xml",
    "yarn-site.xml",
    "mapred-site.xml",
];

/// How deep `${var}` substitution may nest before it is taken as a loop (Hadoop uses 20).
const MAX_SUBST_DEPTH: usize = 20;

#[derive(Debug, Clone)]
struct Property {
    value: String,
    is_final: bool,
}

/// A merged view of Hadoop's `*-site.xml` files.
#[derive(Debug, Clone, Default)]
pub struct HadoopConf {
    props: HashMap<String, Property>,
    dir: Option<PathBuf>,
}

impl HadoopConf {
    /// Reads the site files from `HADOOP_CONF_DIR`, else `$HADOOP_HOME/etc/hadoop`.
    pub fn from_env() -> Result<Self, ConfError> {
        let dir = match std::env::var_os("HADOOP_CONF_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => match std::env::var_os("HADOOP_HOME") {
                Some(h) if !h.is_empty() => PathBuf::from(h).join("etc").join("hadoop"),
                _ => return Err(ConfError::NoConfDir),
            },
        };
        Self::from_dir(&dir)
    }

    /// Reads every site file present in `dir`; missing files are skipped, as Hadoop does.
    pub fn from_dir(dir: &Path) -> Result<Self, ConfError> {
        if !dir.is_dir() {
            return Err(ConfError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let mut conf = HadoopConf {
            dir: Some(dir.to_path_buf()),
            ..Default::default()
        };
        for name in SITE_FILES {
            let path = dir.join(name);
            if path.is_file() {
                conf.add_file(&path)?;
            }
        }
        Ok(conf)
    }

    /// The directory the configuration was read from, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Layers one XML file over what is already loaded; `final` keys are not overridden.
    pub fn add_file(&mut self, path: &Path) -> Result<(), ConfError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_xml(&text).map_err(|message| ConfError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Layers XML text over what is already loaded.
    pub fn add_xml(&mut self, xml: &str) -> Result<(), String> {
        for (name, value, is_final) in parse_properties(xml)? {
            if self.props.get(&name).is_some_and(|p| p.is_final) {
                continue;
            }
            self.props.insert(name, Property { value, is_final });
        }
        Ok(())
    }

    /// Sets a value as a `-D key=value` override would (a `final` key keeps its value).
    pub fn set(&mut self, key: &str, value: &str) {
        if self.props.get(key).is_some_and(|p| p.is_final) {
            return;
        }
        self.props.insert(
            key.to_string(),
            Property {
                value: value.to_string(),
                is_final: false,
            },
        );
    }

    /// The raw value of `key` with `${var}` references expanded.
    pub fn get(&self, key: &str) -> Option<String> {
        self.props
            .get(key)
            .map(|p| self.substitute(&p.value, MAX_SUBST_DEPTH))
    }

    /// The value of `key`, or `default` when unset.
    pub fn get_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_string())
    }

    /// The value of `key`, or an error naming it.
    pub fn require(&self, key: &str) -> Result<String, ConfError> {
        self.get(key)
            .ok_or_else(|| ConfError::Missing(key.to_string()))
    }

    /// `fs.defaultFS`, e.g. `hdfs://127.0.0.1:9000`.
    pub fn default_fs(&self) -> Result<String, ConfError> {
        self.require("fs.defaultFS")
    }

    /// The NameNode's RPC `host:port`, taken from `fs.defaultFS`.
    pub fn namenode_address(&self) -> Result<String, ConfError> {
        let fs = self.default_fs()?;
        let rest = fs
            .strip_prefix("hdfs://")
            .ok_or_else(|| ConfError::Invalid {
                key: "fs.defaultFS".into(),
                value: fs.clone(),
                reason: "not an hdfs:// URI".into(),
            })?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(ConfError::Invalid {
                key: "fs.defaultFS".into(),
                value: fs.clone(),
                reason: "no host".into(),
            });
        }
        if authority.contains(':') {
            Ok(authority.to_string())
        } else {
            Ok(format!("{authority}:8020"))
        }
    }

    /// The ResourceManager's web/REST base URL, e.g. `http://127.0.0.1:8088`.
    pub fn rm_web_url(&self) -> String {
        let host = self.get_or("yarn.resourcemanager.hostname", "0.0.0.0");
        let addr = self
            .get("yarn.resourcemanager.webapp.address")
            .unwrap_or_else(|| format!("{host}:8088"));
        format!("http://{addr}")
    }

    /// Expands `${name}` from this configuration, then from `${env.NAME}` or system-like
    /// sources, leaving unresolvable references as they are (as Hadoop does).
    fn substitute(&self, value: &str, depth: usize) -> String {
        if depth == 0 || !value.contains("${") {
            return value.to_string();
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            let replacement = if let Some(var) = name.strip_prefix("env.") {
                std::env::var(var).ok()
            } else {
                self.props
                    .get(name)
                    .map(|p| self.substitute(&p.value, depth - 1))
                    .or_else(|| system_property(name))
            };
            match replacement {
                Some(r) => out.push_str(&r),
                None => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// The few Java system properties Hadoop's defaults refer to.
fn system_property(name: &str) -> Option<String> {
    match name {
        "user.name" => std::env::var("HADOOP_USER_NAME")
            .or_else(|_| std::env::var("USER"))
            .ok(),
        "java.io.tmpdir" => Some(std::env::temp_dir().to_string_lossy().into_owned()),
        _ => None,
    }
}

/// Parses `<property>` elements into (name, value, final).
fn parse_properties(xml: &str) -> Result<Vec<(String, String, bool)>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, Option<String>, bool)> = None;
    let mut field: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Err(e) => return Err(format!("at byte {}: {e}", reader.buffer_position())),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                let tag = AsRef::<str>::as_ref(&e.name()).to_string();
                if tag == "property" {
                    current = Some((None, None, false));
                } else if current.is_some() {
                    field = Some(tag);
                    text.clear();
                }
            }
            Ok(Event::Text(t)) => {
                if field.is_some() {
                    text.push_str(&t.into_inner());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if field.is_some() {
                    let name = AsRef::<str>::as_ref(&r).to_string();
                    text.push_str(&resolve_entity(&name)?);
                }
            }
            Ok(Event::CData(t)) => {
                if field.is_some() {
                    text.push_str(&t.into_inner());
                }
            }
            Ok(Event::End(e)) => {
                let tag = AsRef::<str>::as_ref(&e.name()).to_string();
                if tag == "property" {
                    if let Some((Some(name), value, is_final)) = current.take() {
                        out.push((name, value.unwrap_or_default(), is_final));
                    }
                } else if let (Some(f), Some(cur)) = (field.take(), current.as_mut()) {
                    let v = text.trim().to_string();
                    match f.as_str() {
                        "name" => cur.0 = Some(v),
                        "value" => cur.1 = Some(v),
                        "final" => cur.2 = v == "true",
                        _ => {}
                    }
                }
            }
            Ok(Event::Empty(e)) => {
                // `<value/>` is an empty value.
                if let Some(cur) = current.as_mut()
                    && AsRef::<str>::as_ref(&e.name()) == "value"
                {
                    cur.1 = Some(String::new());
                }
            }
            Ok(_) => {}
        }
    }
    Ok(out)
}

fn resolve_entity(name: &str) -> Result<String, String> {
    Ok(match name {
        "lt" => "<".into(),
        "gt" => ">".into(),
        "amp" => "&".into(),
        "apos" => "'".into(),
        "quot" => "\"".into(),
        _ => {
            let code = name
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| name.strip_prefix('#').map(|d| d.parse::<u32>()))
                .ok_or_else(|| format!("unknown entity &{name};"))?
                .map_err(|_| format!("bad character reference &{name};"))?;
            char::from_u32(code)
                .ok_or_else(|| format!("bad character reference &{name};"))?
                .to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(xml: &str) -> HadoopConf {
        let mut c = HadoopConf::default();
        c.add_xml(xml).expect("valid xml");
        c
    }

    #[test]
    fn reads_properties_and_substitutes() {
        let c = conf(
            r#"<?xml version="1.0"?><configuration>
            <property><name>a</name><value>hdfs://127.0.0.1:9000</value></property>
            <property><name>b</name><value>${a}/x &amp; y</value></property>
            <property><name>c</name><value>${missing}</value></property>
            <property><name>e</name><value/></property>
            </configuration>"#,
        );
        assert_eq!(c.get("b").as_deref(), Some("hdfs://127.0.0.1:9000/x & y"));
        assert_eq!(c.get("c").as_deref(), Some("${missing}"));
        assert_eq!(c.get("e").as_deref(), Some(""));
        assert_eq!(c.get("zzz"), None);
    }

    #[test]
    fn final_is_not_overridden() {
        let mut c = conf(
            "<configuration><property><name>k</name><value>1</value><final>true</final></property></configuration>",
        );
        c.add_xml(
            "<configuration><property><name>k</name><value>2</value></property></configuration>",
        )
        .expect("valid xml");
        c.set("k", "3");
        assert_eq!(c.get("k").as_deref(), Some("1"));
    }

    #[test]
    fn substitution_loop_terminates() {
        let c = conf(
            "<configuration><property><name>x</name><value>${x}</value></property></configuration>",
        );
        assert!(c.get("x").is_some());
    }

    #[test]
    fn namenode_address_from_default_fs() {
        let cases = [
            ("hdfs://127.0.0.1:9000", Some("127.0.0.1:9000")),
            ("hdfs://nn/", Some("nn:8020")),
            ("file:///", None),
            ("hdfs://", None),
        ];
        for (fs, want) in cases {
            let mut c = HadoopConf::default();
            c.set("fs.defaultFS", fs);
            assert_eq!(c.namenode_address().ok().as_deref(), want, "{fs}");
        }
    }

    #[test]
    fn malformed_xml_is_an_error() {
        let mut c = HadoopConf::default();
        assert!(c.add_xml("<configuration><property><name>a</nme>").is_err());
    }

    #[test]
    fn from_dir_reads_site_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("yarn-site.xml"),
            "<configuration><property><name>yarn.resourcemanager.webapp.address</name><value>127.0.0.1:8088</value></property></configuration>",
        )
        .expect("write");
        let c = HadoopConf::from_dir(dir.path()).expect("conf");
        assert_eq!(c.rm_web_url(), "http://127.0.0.1:8088");
        assert!(HadoopConf::from_dir(&dir.path().join("nope")).is_err());
    }
}
