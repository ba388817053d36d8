//! The storage flags of `run` and `create`, read as docker's CLI reads them:
//! `-v` specs split into binds (`HostConfig.Binds`) and anonymous volumes
//! (`Config.Volumes`), and `--mount`'s CSV syntax as a `HostConfig.Mounts`
//! entry, with docker's messages. The daemon judges paths and names.

use super::isolation::clean_path;
use crate::format::go_quote;
use berth_api::container::{BindOptions, Mount, TmpfsOptions, VolumeDriver, VolumeOptions};
use std::collections::BTreeMap;

/// What `-v` adds to a create request.
#[derive(Debug, Default, PartialEq)]
pub struct VolumeFlags {
    /// `SOURCE:TARGET[:OPTIONS]` specs, a relative bind source made
    /// absolute; each spec once, in the order given.
    pub binds: Vec<String>,
    /// Targets of new anonymous volumes.
    pub anonymous: Vec<String>,
}

/// Splits `-v` values as docker does: a spec whose first part is a source
/// is a bind (of a host path or a named volume), one with only a target an
/// anonymous volume.
pub fn volume_flags(specs: &[String]) -> Result<VolumeFlags, String> {
    let mut flags = VolumeFlags::default();
    for spec in specs {
        let parsed = parse_volume(spec)?;
        let (list, value) = if parsed.source.is_empty() {
            (&mut flags.anonymous, spec.clone())
        } else if parsed.is_bind() {
            (&mut flags.binds, absolute_bind(spec))
        } else {
            (&mut flags.binds, spec.clone())
        };
        if !list.contains(&value) {
            list.push(value);
        }
    }
    Ok(flags)
}

/// A `-v` spec's source and target (`loader.ParseVolume`); the options
/// after them are the daemon's to read.
#[derive(Debug, Default, PartialEq)]
struct VolumeSpec {
    source: String,
    target: String,
}

impl VolumeSpec {
    /// A host path (`/x`, `./x`, `~/x`, Windows forms) rather than a volume
    /// name.
    fn is_bind(&self) -> bool {
        let source = &self.source;
        if source.starts_with(['.', '/', '~']) {
            return true;
        }
        let mut chars = source.chars();
        match (chars.next(), chars.next()) {
            (_, None) => false,
            _ if source.starts_with("\\\\") => true,
            (Some(first), Some(second)) => first.is_alphabetic() && second == ':',
            _ => false,
        }
    }
}

/// `loader.ParseVolume`: colon-separated sections, where a colon after a
/// lone letter belongs to a Windows drive; one or two characters are a
/// target alone.
fn parse_volume(spec: &str) -> Result<VolumeSpec, String> {
    let mut volume = VolumeSpec::default();
    match spec.len() {
        0 => return Err("invalid empty volume spec".to_string()),
        1 | 2 => {
            volume.target = spec.to_string();
            return Ok(volume);
        }
        _ => {}
    }
    let mut buffer = String::new();
    for c in spec.chars().chain(std::iter::once('\0')) {
        let drive =
            c == ':' && buffer.chars().count() == 1 && buffer.chars().all(char::is_alphabetic);
        if drive || (c != ':' && c != '\0') {
            buffer.push(c);
            continue;
        }
        let end = c == '\0';
        if buffer.is_empty() {
            return Err(format!(
                "invalid spec: {spec}: empty section between colons"
            ));
        }
        if volume.source.is_empty() && end {
            volume.target = std::mem::take(&mut buffer);
        } else if volume.source.is_empty() {
            volume.source = std::mem::take(&mut buffer);
        } else if volume.target.is_empty() {
            volume.target = std::mem::take(&mut buffer);
        } else if !end {
            return Err(format!("invalid spec: {spec}: too many colons"));
        }
    }
    Ok(volume)
}

/// A bind spec with a relative source (`./data:/data`) made absolute, as
/// docker's CLI sends it.
fn absolute_bind(spec: &str) -> String {
    match spec.split_once(':') {
        Some((host, rest)) => format!("{}:{rest}", absolute(host)),
        None => spec.to_string(),
    }
}

/// Go's `filepath.Abs` for a path starting with `.`; other paths as they
/// are.
fn absolute(path: &str) -> String {
    if path.starts_with('/') || !path.starts_with('.') {
        return path.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => clean_path(&format!("{}/{path}", cwd.display())),
        Err(_) => path.to_string(),
    }
}

/// One `--mount` value as a `HostConfig.Mounts` entry, or docker's
/// `invalid argument "..." for "--mount" flag: ...`.
pub fn mount(value: &str) -> Result<Mount, String> {
    parse_mount(value).map_err(|e| {
        format!(
            "invalid argument {} for \"--mount\" flag: {e}",
            go_quote(value)
        )
    })
}

/// docker's `MountOpt.Set`: `type=bind|volume|tmpfs` (volume by default),
/// `source|src`, `target|destination|dst`, `readonly|ro[=BOOL]`, and the
/// options of each type, which may not be mixed with another type.
fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut mount = Mount {
        kind: "volume".to_string(),
        ..Mount::default()
    };
    let mut volume: Option<VolumeOptions> = None;
    let mut bind: Option<BindOptions> = None;
    let mut tmpfs: Option<TmpfsOptions> = None;
    let mut volume_labels = BTreeMap::new();
    for field in csv_record(value)? {
        let Some((key, val)) = field.split_once('=') else {
            match field.to_lowercase().as_str() {
                "readonly" | "ro" => mount.read_only = true,
                "volume-nocopy" => volume_options(&mut volume).no_copy = true,
                "bind-nonrecursive" => {
                    bind.get_or_insert_with(Default::default).non_recursive = true
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let key = key.to_lowercase();
        let invalid = || format!("invalid value for {key}: {val}");
        match key.as_str() {
            "type" => mount.kind = val.to_lowercase(),
            "source" | "src" => mount.source = absolute(val),
            "target" | "dst" | "destination" => mount.target = val.to_string(),
            "readonly" | "ro" => mount.read_only = go_bool(val).ok_or_else(invalid)?,
            "consistency" => mount.consistency = val.to_lowercase(),
            "bind-propagation" => {
                bind.get_or_insert_with(Default::default).propagation = val.to_lowercase();
            }
            "bind-nonrecursive" => {
                bind.get_or_insert_with(Default::default).non_recursive =
                    go_bool(val).ok_or_else(invalid)?;
            }
            "bind-recursive" => {
                let options = bind.get_or_insert_with(Default::default);
                match val {
                    "enabled" => {}
                    "disabled" => options.non_recursive = true,
                    // API 1.45's BindOptions as Berth has them carry no
                    // read-only recursion settings.
                    "writable" | "readonly" => {
                        return Err(format!("option '{key}={val}' is not supported"))
                    }
                    _ => {
                        return Err(format!(
                            "invalid value for {key}: {val} (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
                        ))
                    }
                }
            }
            "volume-subpath" => volume_options(&mut volume).subpath = val.to_string(),
            "volume-nocopy" => {
                volume_options(&mut volume).no_copy = go_bool(val)
                    .ok_or_else(|| format!("invalid value for volume-nocopy: {val}"))?;
            }
            "volume-label" => {
                volume_options(&mut volume);
                set_key_value(&mut volume_labels, val);
            }
            "volume-driver" => {
                let options = volume_options(&mut volume);
                options
                    .driver_config
                    .get_or_insert_with(Default::default)
                    .name = val.to_string();
            }
            "volume-opt" => {
                let options = volume_options(&mut volume);
                let driver = options.driver_config.get_or_insert_with(Default::default);
                set_key_value(driver.options.get_or_insert_with(BTreeMap::new), val);
            }
            "tmpfs-size" => {
                tmpfs.get_or_insert_with(Default::default).size_bytes =
                    ram_in_bytes(val).ok_or_else(invalid)?;
            }
            "tmpfs-mode" => {
                tmpfs.get_or_insert_with(Default::default).mode =
                    octal_u32(val).ok_or_else(invalid)?;
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if mount.kind.is_empty() {
        return Err("type is required".to_string());
    }
    if mount.target.is_empty() {
        return Err("target is required".to_string());
    }
    for (set, prefix, kind) in [
        (volume.is_some(), "volume", "volume"),
        (bind.is_some(), "bind", "bind"),
        (tmpfs.is_some(), "tmpfs", "tmpfs"),
    ] {
        if set && mount.kind != kind {
            return Err(format!(
                "cannot mix '{prefix}-*' options with mount type '{}'",
                mount.kind
            ));
        }
    }
    if let Some(options) = volume.as_mut() {
        options.labels = (!volume_labels.is_empty()).then_some(volume_labels);
    }
    mount.volume_options = volume;
    mount.bind_options = bind;
    mount.tmpfs_options = tmpfs;
    Ok(mount)
}

/// The volume options of a mount being parsed; as docker, a `volume-*`
/// option brings an empty driver config along.
fn volume_options(volume: &mut Option<VolumeOptions>) -> &mut VolumeOptions {
    volume.get_or_insert_with(|| VolumeOptions {
        driver_config: Some(VolumeDriver::default()),
        ..VolumeOptions::default()
    })
}

/// `KEY=VALUE` into a map, as docker's `setValueOnMap`: an empty key is
/// dropped, a missing `=` gives an empty value.
fn set_key_value(map: &mut BTreeMap<String, String>, value: &str) {
    let (key, val) = value.split_once('=').unwrap_or((value, ""));
    if !key.is_empty() {
        map.insert(key.to_string(), val.to_string());
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(value, 8, 32)`: octal digits only.
fn octal_u32(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(value, 8).ok()
}

/// go-units' `RAMInBytes`: a number, an optional space, and an optional
/// binary unit `k`, `m`, `g`, `t` or `p` (any case, with an optional `b`
/// or `ib`); a bare `b` means bytes.
pub fn ram_in_bytes(text: &str) -> Option<i64> {
    let sep = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (number, suffix) = if text.as_bytes()[sep] == b' ' {
        (&text[..sep], &text[sep + 1..])
    } else {
        (&text[..=sep], &text[sep + 1..])
    };
    let size: f64 = number.parse().ok()?;
    if size < 0.0 || size.is_nan() {
        return None;
    }
    let suffix = suffix.to_lowercase();
    let multiplier: f64 = match suffix.as_str() {
        "" | "b" => 1.0,
        _ => {
            let exponent = match suffix.as_bytes()[0] {
                b'k' => 1,
                b'm' => 2,
                b'g' => 3,
                b't' => 4,
                b'p' => 5,
                _ => return None,
            };
            if !matches!(&suffix[1..], "" | "b" | "ib") {
                return None;
            }
            1024f64.powi(exponent)
        }
    };
    Some((size * multiplier) as i64)
}

/// The first record of `text` as Go's `encoding/csv` reads it: fields
/// split at commas, `"quoted, fields"` with `""` for a quote; a quote
/// anywhere else is an error worded as Go's.
fn csv_record(text: &str) -> Result<Vec<String>, String> {
    const BARE_QUOTE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    let mut lines = text
        .split_inclusive('\n')
        .map(|line| match line.strip_suffix("\r\n") {
            Some(rest) => format!("{rest}\n"),
            None => line.to_string(),
        });
    let mut line_no = 0;
    let first = loop {
        let Some(line) = lines.next() else {
            return Err("EOF".to_string());
        };
        line_no += 1;
        if line != "\n" {
            break line;
        }
    };
    let record_line = line_no;
    let error = |line: usize, column: usize, what: &str| {
        if line == record_line {
            format!("parse error on line {line}, column {column}: {what}")
        } else {
            format!(
                "record on line {record_line}; parse error on line {line}, column {column}: {what}"
            )
        }
    };
    let mut fields = Vec::new();
    let mut line = first;
    let mut rest = 0;
    let mut column = 1;
    'fields: loop {
        if !line[rest..].starts_with('"') {
            let comma = line[rest..].find(',');
            let field = match comma {
                Some(i) => &line[rest..rest + i],
                None => line[rest..].strip_suffix('\n').unwrap_or(&line[rest..]),
            };
            if let Some(j) = field.find('"') {
                return Err(error(line_no, column + j, BARE_QUOTE));
            }
            fields.push(field.to_string());
            match comma {
                Some(i) => {
                    rest += i + 1;
                    column += i + 1;
                }
                None => break,
            }
            continue;
        }
        let mut field = String::new();
        rest += 1;
        column += 1;
        loop {
            if let Some(i) = line[rest..].find('"') {
                field.push_str(&line[rest..rest + i]);
                rest += i + 1;
                column += i + 1;
                let after = &line[rest..];
                if after.starts_with('"') {
                    field.push('"');
                    rest += 1;
                    column += 1;
                } else if after.starts_with(',') {
                    rest += 1;
                    column += 1;
                    fields.push(field);
                    continue 'fields;
                } else if after.is_empty() || after == "\n" {
                    fields.push(field);
                    break 'fields;
                } else {
                    return Err(error(line_no, column - 1, QUOTE));
                }
            } else if rest < line.len() {
                field.push_str(&line[rest..]);
                column += line.len() - rest;
                match lines.next() {
                    Some(next) => {
                        line = next;
                        line_no += 1;
                        column = 1;
                    }
                    None => line = String::new(),
                }
                rest = 0;
            } else {
                return Err(error(line_no, column, QUOTE));
            }
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn mount_json(value: &str) -> Value {
        serde_json::to_value(mount(value).unwrap()).unwrap()
    }

    fn mount_err(value: &str) -> String {
        parse_mount(value).unwrap_err()
    }

    fn cwd() -> String {
        std::env::current_dir().unwrap().display().to_string()
    }

    #[test]
    fn volume_specs_with_a_source_are_binds_the_rest_anonymous() {
        let flags = volume_flags(&strings(&[
            "/host:/in",
            "/data",
            "named:/vol:ro",
            "/host:/in",
            "/x:/y:ro,rshared",
            "/data",
            "ab",
            "c:/windows-drive",
            "~/home:/h",
        ]))
        .unwrap();
        assert_eq!(
            flags.binds,
            [
                "/host:/in",
                "named:/vol:ro",
                "/x:/y:ro,rshared",
                "~/home:/h"
            ]
        );
        assert_eq!(flags.anonymous, ["/data", "ab", "c:/windows-drive"]);
    }

    #[test]
    fn relative_bind_sources_become_absolute() {
        let flags = volume_flags(&strings(&["./data:/data:ro", ".:/here", "../up:/up"])).unwrap();
        let parent = std::path::Path::new(&cwd())
            .parent()
            .unwrap()
            .display()
            .to_string();
        assert_eq!(
            flags.binds,
            [
                format!("{}/data:/data:ro", cwd()),
                format!("{}:/here", cwd()),
                format!("{parent}/up:/up"),
            ]
        );
    }

    #[test]
    fn bad_volume_specs_read_like_docker() {
        let err = |spec: &str| volume_flags(&strings(&[spec])).unwrap_err();
        assert_eq!(err(""), "invalid empty volume spec");
        assert_eq!(
            err("/a::/b"),
            "invalid spec: /a::/b: empty section between colons"
        );
        assert_eq!(
            err("/a:"),
            "invalid spec: /a:: empty section between colons"
        );
        assert_eq!(
            err("/a:/b:ro:x"),
            "invalid spec: /a:/b:ro:x: too many colons"
        );
    }

    #[test]
    fn parse_volume_fills_source_and_target() {
        let spec = parse_volume("vol:/data:nocopy").unwrap();
        assert_eq!(
            (spec.source.as_str(), spec.target.as_str()),
            ("vol", "/data")
        );
        assert!(!spec.is_bind());
        assert!(parse_volume("/h:/c").unwrap().is_bind());
        assert!(parse_volume("\\\\pipe\\x:/c").unwrap().is_bind());
        assert_eq!(parse_volume("/data").unwrap().target, "/data");
    }

    #[test]
    fn bind_mounts_with_every_spelling() {
        for value in [
            "type=bind,target=/target,source=/source",
            "type=bind,src=/source,dst=/target",
            "type=bind,source=/source,destination=/target",
            "TYPE=BIND,Src=/source,Target=/target",
        ] {
            assert_eq!(
                mount_json(value),
                json!({"Type": "bind", "Source": "/source", "Target": "/target"}),
                "{value}"
            );
        }
        assert_eq!(
            mount_json("type=bind,src=/s,dst=/t,ro,bind-propagation=RSHARED,bind-nonrecursive"),
            json!({
                "Type": "bind", "Source": "/s", "Target": "/t", "ReadOnly": true,
                "BindOptions": {"Propagation": "rshared", "NonRecursive": true}
            })
        );
        assert_eq!(
            mount_json("type=bind,src=.,dst=/t,bind-recursive=disabled")["BindOptions"],
            json!({"NonRecursive": true})
        );
        assert_eq!(
            mount_json("type=bind,src=./x,dst=/t")["Source"],
            format!("{}/x", cwd())
        );
        assert_eq!(mount_json("type=bind,src=..,dst=/t")["Source"], {
            let cwd = cwd();
            std::path::Path::new(&cwd)
                .parent()
                .unwrap()
                .display()
                .to_string()
        });
    }

    #[test]
    fn readonly_takes_go_booleans() {
        for (value, want) in [
            ("ro", true),
            ("readonly", true),
            ("readonly=1", true),
            ("ro=true", true),
            ("readonly=0", false),
            ("ro=False", false),
        ] {
            let m = parse_mount(&format!("type=bind,src=/a,dst=/b,{value}")).unwrap();
            assert_eq!(m.read_only, want, "{value}");
        }
        assert_eq!(
            mount_err("type=volume,readonly=no,dst=/b"),
            "invalid value for readonly: no"
        );
        assert_eq!(
            mount_err("type=volume,RO=invalid,dst=/b"),
            "invalid value for ro: invalid"
        );
    }

    #[test]
    fn volume_mounts_and_their_options() {
        assert_eq!(
            mount_json("target=/data,source=vol"),
            json!({"Type": "volume", "Source": "vol", "Target": "/data"})
        );
        assert_eq!(
            mount_json("type=volume,dst=/data,volume-nocopy"),
            json!({
                "Type": "volume", "Target": "/data",
                "VolumeOptions": {"NoCopy": true, "DriverConfig": {}}
            })
        );
        assert_eq!(
            mount_json(
                "type=volume,src=v,dst=/d,volume-label=a=1,volume-label=b,volume-label==x,\
                 volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,\
                 \"volume-opt=o=size=1m,uid=1000\",volume-nocopy=false,volume-subpath=sub"
            ),
            json!({
                "Type": "volume", "Source": "v", "Target": "/d",
                "VolumeOptions": {
                    "Labels": {"a": "1", "b": ""},
                    "Subpath": "sub",
                    "DriverConfig": {
                        "Name": "local",
                        "Options": {"device": "tmpfs", "o": "size=1m,uid=1000", "type": "tmpfs"}
                    }
                }
            })
        );
        assert_eq!(
            mount_err("type=volume,dst=/d,volume-nocopy=maybe"),
            "invalid value for volume-nocopy: maybe"
        );
    }

    #[test]
    fn tmpfs_mounts_take_sizes_with_units_and_octal_modes() {
        assert_eq!(
            mount_json("type=tmpfs,target=/cache,tmpfs-size=64m,tmpfs-mode=1770"),
            json!({
                "Type": "tmpfs", "Target": "/cache",
                "TmpfsOptions": {"SizeBytes": 67108864, "Mode": 0o1770}
            })
        );
        for (size, bytes) in [
            ("1m", 1 << 20),
            ("1MB", 1 << 20),
            ("1MiB", 1 << 20),
            ("512", 512),
            ("512b", 512),
            ("2 k", 2048),
            ("1.5g", 3 << 29),
            ("1T", 1 << 40),
        ] {
            assert_eq!(ram_in_bytes(size), Some(bytes), "{size}");
        }
        for size in ["", "m", "-1m", "1x", "1mbb", "1mab", "foo"] {
            assert_eq!(ram_in_bytes(size), None, "{size}");
        }
        assert_eq!(
            mount_err("type=tmpfs,target=/foo,tmpfs-size=foo"),
            "invalid value for tmpfs-size: foo"
        );
        assert_eq!(
            mount_err("type=tmpfs,target=/foo,tmpfs-mode=0789"),
            "invalid value for tmpfs-mode: 0789"
        );
        assert_eq!(
            mount_err("type=tmpfs,target=/foo,tmpfs-mode=+7"),
            "invalid value for tmpfs-mode: +7"
        );
        assert_eq!(mount_err("type=tmpfs"), "target is required");
    }

    #[test]
    fn errors_read_like_docker() {
        assert_eq!(mount_err("type=volume,source=/foo"), "target is required");
        assert_eq!(mount_err("type=,target=/foo"), "type is required");
        assert_eq!(
            mount_err("type=volume,bogus=foo"),
            "unexpected key 'bogus' in 'bogus=foo'"
        );
        assert_eq!(
            mount_err("type=volume,Bogus=foo"),
            "unexpected key 'bogus' in 'Bogus=foo'"
        );
        assert_eq!(
            mount_err("type=volume,foo"),
            "invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            mount_err("type=bind,target=/foo,source=/foo,volume-nocopy=true"),
            "cannot mix 'volume-*' options with mount type 'bind'"
        );
        assert_eq!(
            mount_err("type=volume,target=/foo,source=/foo,bind-propagation=rprivate"),
            "cannot mix 'bind-*' options with mount type 'volume'"
        );
        assert_eq!(
            mount_err("target=/foo,tmpfs-size=1m"),
            "cannot mix 'tmpfs-*' options with mount type 'volume'"
        );
        assert_eq!(
            mount_err("type=bind,src=/a,dst=/b,bind-recursive=sometimes"),
            "invalid value for bind-recursive: sometimes (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
        );
        assert_eq!(
            mount_err("type=bind,src=/a,dst=/b,ro,bind-recursive=writable"),
            "option 'bind-recursive=writable' is not supported"
        );
        assert_eq!(
            mount("type=bind,source=/foo").unwrap_err(),
            "invalid argument \"type=bind,source=/foo\" for \"--mount\" flag: target is required"
        );
        assert_eq!(
            mount("").unwrap_err(),
            "invalid argument \"\" for \"--mount\" flag: EOF"
        );
    }

    #[test]
    fn csv_fields_follow_go() {
        assert_eq!(csv_record("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            csv_record("\"a,b\",\"say \"\"hi\"\"\",c\nignored").unwrap(),
            ["a,b", "say \"hi\"", "c"]
        );
        assert_eq!(csv_record("\n\na,b\r\n").unwrap(), ["a", "b"]);
        assert_eq!(
            csv_record("\"multi\nline\",x").unwrap(),
            ["multi\nline", "x"]
        );
        assert_eq!(csv_record("").unwrap_err(), "EOF");
        assert_eq!(
            csv_record("type=bind,a\"b").unwrap_err(),
            "parse error on line 1, column 12: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_record("\"ab\"c").unwrap_err(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            csv_record("\"abc").unwrap_err(),
            "parse error on line 1, column 5: extraneous or missing \" in quoted-field"
        );
    }
}
