//! The flags `run` and `create` share, and how they become a create request:
//! environment (`-e`, `--env-file`), labels, entrypoint, network, restart
//! policy, volumes, and the image with its command.

use berth_api::container::{ContainerConfig, CreateRequest, HostConfig, RestartPolicy};
use clap::ArgAction;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ContainerOptions {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the caller's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Connect a container to a network (none, default, bridge, host)
    #[arg(long, visible_alias = "net", default_value = "default")]
    pub network: String,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    pub stop_timeout: Option<i64>,
    /// Bind mount a volume (SRC:DST[:OPTS]), or create an anonymous one (DST)
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Print help (`-h` is --hostname, as in docker)
    #[arg(long = "help", action = ArgAction::Help)]
    _help: Option<bool>,
    /// The image, then the command and its arguments, passed as they are
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerOptions {
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }

    /// The create body. `attach` says whether the caller will attach to the
    /// container's output (not for `run -d`).
    pub fn create_request(&self, attach: bool) -> Result<CreateRequest, String> {
        let env = collect_env(&self.env_file, &self.env)?;
        let restart_policy = parse_restart(&self.restart)?;
        if self.rm && !matches!(restart_policy.name.as_str(), "" | "no") {
            return Err("Conflicting options: --restart and --rm".to_string());
        }
        let (binds, anonymous): (Vec<String>, Vec<String>) =
            self.volumes.iter().cloned().partition(|v| v.contains(':'));
        let attach_stdin = attach && self.interactive;
        let config = ContainerConfig {
            hostname: self.hostname.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            attach_stdin,
            attach_stdout: attach,
            attach_stderr: attach,
            tty: self.tty,
            open_stdin: self.interactive,
            stdin_once: attach_stdin,
            env,
            cmd: (!self.command().is_empty()).then(|| self.command().to_vec()),
            image: self.image().to_string(),
            volumes: (!anonymous.is_empty()).then(|| {
                anonymous
                    .into_iter()
                    .map(|path| (path, serde_json::json!({})))
                    .collect()
            }),
            working_dir: self.workdir.clone().unwrap_or_default(),
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            labels: parse_labels(&self.labels),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            ..ContainerConfig::default()
        };
        let host_config = HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            network_mode: self.network.clone(),
            restart_policy,
            auto_remove: self.rm,
            privileged: self.privileged,
            readonly_rootfs: self.read_only,
            ..HostConfig::default()
        };
        Ok(CreateRequest {
            config,
            host_config: Some(host_config),
            networking_config: None,
        })
    }
}

/// The environment from `--env-file`s (in order) then `-e` values, as
/// docker's `run`, `create` and `exec` build it.
pub fn collect_env(env_files: &[PathBuf], env: &[String]) -> Result<Vec<String>, String> {
    let lookup = |key: &str| std::env::var(key).ok();
    let mut all = Vec::new();
    for path in env_files {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("open {}: {}", path.display(), super::io_error_text(&e)))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("env file {} contains invalid utf8 bytes", path.display()))?;
        all.extend(parse_env_file(&text, lookup)?);
    }
    for value in env {
        all.extend(parse_env(value, lookup)?);
    }
    Ok(all)
}

/// One `-e` value: `KEY=VALUE` as is; a bare `KEY` takes the caller's value
/// and is dropped when the caller has none.
pub fn parse_env(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    match value.split_once('=') {
        Some(("", _)) => Err(format!("invalid environment variable: {value}")),
        Some(_) => Ok(Some(value.to_string())),
        None if value.is_empty() => Err(format!("invalid environment variable: {value}")),
        None => Ok(lookup(value).map(|v| format!("{value}={v}"))),
    }
}

/// An `--env-file`, in docker's format: `KEY=VALUE` lines with the value
/// kept verbatim, `#` comments and blank lines skipped, leading whitespace
/// ignored, and bare `KEY` lines taken from the caller's environment.
pub fn parse_env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut env = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        if key.is_empty() {
            return Err(format!("no variable name on line '{line}'"));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        match value {
            Some(value) => env.push(format!("{key}={value}")),
            None => env.extend(lookup(key).map(|value| format!("{key}={value}"))),
        }
    }
    Ok(env)
}

/// `-l key=value` and `-l key` (an empty value).
pub fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (label.clone(), String::new()),
        })
        .collect()
}

/// `--restart no|always|unless-stopped|on-failure[:N]`; the daemon judges
/// the name.
pub fn parse_restart(policy: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match policy.split_once(':') {
        Some(("", _)) => {
            return Err(
                "invalid restart policy format: no policy provided before colon".to_string(),
            )
        }
        Some((name, count)) => (name, Some(count)),
        None => (policy, None),
    };
    let maximum_retry_count = match count {
        None | Some("") => 0,
        Some(count) => count.parse().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?,
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(key: &str) -> Option<String> {
        match key {
            "HOME" => Some("/root".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn env_key_alone_takes_the_callers_value_or_is_dropped() {
        assert_eq!(parse_env("A=1", env_of).unwrap(), Some("A=1".into()));
        assert_eq!(parse_env("A=", env_of).unwrap(), Some("A=".into()));
        assert_eq!(parse_env("A=b=c", env_of).unwrap(), Some("A=b=c".into()));
        assert_eq!(
            parse_env("HOME", env_of).unwrap(),
            Some("HOME=/root".into())
        );
        assert_eq!(parse_env("EMPTY", env_of).unwrap(), Some("EMPTY=".into()));
        assert_eq!(parse_env("UNSET_VAR", env_of).unwrap(), None);
        assert_eq!(
            parse_env("=x", env_of).unwrap_err(),
            "invalid environment variable: =x"
        );
    }

    #[test]
    fn env_files_follow_dockers_format() {
        let text = "\u{feff}# a comment\n\
                    A=1\n\
                    \n\
                    \x20  B=two words  \n\
                    C=\"quoted\"\n\
                    HOME\n\
                    UNSET_VAR\n\
                    D=x=y\n\
                    \t# indented comment\n";
        assert_eq!(
            parse_env_file(text, env_of).unwrap(),
            vec![
                "A=1",
                "B=two words  ",
                "C=\"quoted\"",
                "HOME=/root",
                "D=x=y"
            ]
        );
    }

    #[test]
    fn env_file_errors() {
        assert_eq!(
            parse_env_file("A B=1\n", env_of).unwrap_err(),
            "variable 'A B' contains whitespaces"
        );
        assert_eq!(
            parse_env_file("=1\n", env_of).unwrap_err(),
            "no variable name on line '=1'"
        );
        assert_eq!(
            parse_env_file("HOME  \n", env_of).unwrap_err(),
            "variable 'HOME  ' contains whitespaces"
        );
    }

    #[test]
    fn labels_and_restart_policies() {
        let labels = parse_labels(&["a=1".into(), "b".into(), "c=x=y".into()]);
        assert_eq!(labels["a"], "1");
        assert_eq!(labels["b"], "");
        assert_eq!(labels["c"], "x=y");
        let policy = parse_restart("on-failure:3").unwrap();
        assert_eq!(
            (policy.name.as_str(), policy.maximum_retry_count),
            ("on-failure", 3)
        );
        assert_eq!(parse_restart("always").unwrap().name, "always");
        assert!(parse_restart(":3").is_err());
        assert!(parse_restart("on-failure:x").is_err());
    }
}
