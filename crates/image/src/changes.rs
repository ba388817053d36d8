//! `docker import --change`: the Dockerfile instructions that may be applied
//! to an imported image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! STOPSIGNAL, USER, VOLUME, WORKDIR).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::config::RunConfig;
use crate::error::ImageError;

/// Applies each change, in order, to `config`.
pub fn apply_changes(config: &mut RunConfig, changes: &[String]) -> Result<(), ImageError> {
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (instruction, args) = change
            .split_once(char::is_whitespace)
            .map(|(i, a)| (i, a.trim()))
            .unwrap_or((change, ""));
        let instruction = instruction.to_uppercase();
        let known = [
            "CMD",
            "ENTRYPOINT",
            "ENV",
            "EXPOSE",
            "LABEL",
            "STOPSIGNAL",
            "USER",
            "VOLUME",
            "WORKDIR",
        ];
        if !known.contains(&instruction.as_str()) {
            return Err(ImageError::invalid(format!(
                "{instruction} is not a valid change command"
            )));
        }
        if args.is_empty() {
            return Err(ImageError::invalid(format!(
                "{instruction} requires at least one argument"
            )));
        }
        match instruction.as_str() {
            "CMD" => config.cmd = Some(command(args)),
            "ENTRYPOINT" => config.entrypoint = Some(command(args)),
            "ENV" => {
                let env = config.env.get_or_insert_with(Vec::new);
                for (key, value) in key_values(&instruction, args)? {
                    let prefix = format!("{key}=");
                    env.retain(|e| !e.starts_with(&prefix) && e != &key);
                    env.push(format!("{key}={value}"));
                }
            }
            "LABEL" => {
                let labels = config.labels.get_or_insert_with(BTreeMap::new);
                labels.extend(key_values(&instruction, args)?);
            }
            "EXPOSE" => {
                let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for word in split_words(args)? {
                    for port in exposed_ports(&word)? {
                        ports.insert(port, Value::Object(Default::default()));
                    }
                }
            }
            "VOLUME" => {
                let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
                let paths = match json_array(args) {
                    Some(paths) => paths,
                    None => split_words(args)?,
                };
                for path in paths {
                    volumes.insert(path, Value::Object(Default::default()));
                }
            }
            "STOPSIGNAL" => config.stop_signal = Some(args.to_string()),
            "USER" => config.user = Some(args.to_string()),
            _ => config.working_dir = Some(working_dir(config.working_dir.as_deref(), args)),
        }
    }
    Ok(())
}

/// Exec form (a JSON array of strings) or shell form (`/bin/sh -c "..."`).
fn command(args: &str) -> Vec<String> {
    json_array(args).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), args.to_string()])
}

fn json_array(args: &str) -> Option<Vec<String>> {
    if !args.starts_with('[') {
        return None;
    }
    serde_json::from_str(args).ok()
}

/// `K=V K2="v 2"` pairs, or the legacy single pair `K some value`.
fn key_values(instruction: &str, args: &str) -> Result<Vec<(String, String)>, ImageError> {
    let first = args.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (key, value) = args
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((args, ""));
        if value.is_empty() {
            return Err(ImageError::invalid(format!(
                "{instruction} must have two arguments"
            )));
        }
        return Ok(vec![(key.to_string(), unquote_whole(value))]);
    }
    split_words(args)?
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(ImageError::invalid(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ))),
        })
        .collect()
}

/// Removes one pair of surrounding quotes from a legacy-form value.
fn unquote_whole(value: &str) -> String {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_string();
        }
    }
    value.to_string()
}

/// Splits on unquoted whitespace, removing quotes and backslash escapes.
fn split_words(input: &str) -> Result<Vec<String>, ImageError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                loop {
                    match chars.next() {
                        None => {
                            return Err(ImageError::invalid(
                                "unexpected end of statement while looking for matching quote",
                            ))
                        }
                        Some(q) if q == quote => break,
                        Some('\\') if quote == '"' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        Some(other) => word.push(other),
                    }
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `80` / `80/tcp` / `53/udp` / `8000-8002/tcp` -> `["80/tcp"]` etc.
fn exposed_ports(spec: &str) -> Result<Vec<String>, ImageError> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(ImageError::invalid(format!("invalid proto: {proto}")));
    }
    let invalid = || ImageError::invalid(format!("invalid containerPort: {ports}"));
    let parse = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (parse(a).ok_or_else(invalid)?, parse(b).ok_or_else(invalid)?),
        None => {
            let port = parse(ports).ok_or_else(invalid)?;
            (port, port)
        }
    };
    if end < start {
        return Err(invalid());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// A relative WORKDIR is relative to the previous one (or `/`).
fn working_dir(current: Option<&str>, dir: &str) -> String {
    let joined = Path::new("/").join(current.unwrap_or("/")).join(dir);
    let mut clean = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    clean.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Result<RunConfig, ImageError> {
        let mut config = RunConfig::default();
        let changes: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        apply_changes(&mut config, &changes)?;
        Ok(config)
    }

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn cmd_and_entrypoint_accept_exec_and_shell_forms() {
        let c = apply(&[r#"CMD ["echo", "hi"]"#, "ENTRYPOINT /bin/run --flag"]).unwrap();
        assert_eq!(c.cmd, strings(&["echo", "hi"]));
        assert_eq!(c.entrypoint, strings(&["/bin/sh", "-c", "/bin/run --flag"]));
        let c = apply(&["cmd echo $HOME"]).unwrap();
        assert_eq!(c.cmd, strings(&["/bin/sh", "-c", "echo $HOME"]));
    }

    #[test]
    fn env_accepts_pairs_quotes_and_legacy_form_and_replaces_keys() {
        let c = apply(&[
            r#"ENV A=1 B="two words" C=x\ y"#,
            "ENV LEGACY some value",
            "ENV A=3",
        ])
        .unwrap();
        assert_eq!(
            c.env,
            strings(&["B=two words", "C=x y", "LEGACY=some value", "A=3"])
        );
    }

    #[test]
    fn label_workdir_user_stopsignal_volume() {
        let c = apply(&[
            r#"LABEL a=b "c d"="e f""#,
            "WORKDIR /app",
            "WORKDIR sub",
            "USER nobody:nogroup",
            "STOPSIGNAL SIGQUIT",
            r#"VOLUME ["/data"]"#,
        ])
        .unwrap();
        let labels = c.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c d"], "e f");
        assert_eq!(c.working_dir.as_deref(), Some("/app/sub"));
        assert_eq!(c.user.as_deref(), Some("nobody:nogroup"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        assert!(c.volumes.unwrap().contains_key("/data"));
    }

    #[test]
    fn expose_normalizes_ports_and_protocols() {
        let c = apply(&["EXPOSE 80 443/tcp 53/UDP 8000-8001"]).unwrap();
        let ports: Vec<String> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(
            ports,
            ["443/tcp", "53/udp", "80/tcp", "8000/tcp", "8001/tcp"]
        );
        assert!(apply(&["EXPOSE http"]).is_err());
        assert!(apply(&["EXPOSE 80/icmp"]).is_err());
    }

    #[test]
    fn unknown_instruction_is_not_a_valid_change_command() {
        let err = apply(&["FROM busybox"]).unwrap_err();
        assert_eq!(err.to_string(), "FROM is not a valid change command");
        let err = apply(&["run echo"]).unwrap_err();
        assert_eq!(err.to_string(), "RUN is not a valid change command");
    }

    #[test]
    fn env_without_value_is_rejected() {
        assert!(apply(&["ENV ONLYKEY"]).is_err());
        assert!(apply(&["ENV A=1 B"]).is_err());
        assert!(apply(&["ENV A=\"unterminated"]).is_err());
    }
}
