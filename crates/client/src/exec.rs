//! Exec endpoints: run another process in a running container.
//!
//! `POST /containers/{id}/exec` creates the exec and returns its id;
//! `POST /exec/{id}/start` runs it, either detached (a plain `200`) or
//! hijacked like attach; `GET /exec/{id}/json` reports its state and, once
//! it has ended, its exit code; `POST /exec/{id}/resize` sizes its TTY.

use crate::attach::AttachConnection;
use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use serde::{Deserialize, Serialize};

/// Body of `POST /containers/{id}/exec` (Docker's `ExecOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecConfig {
    pub user: String,
    pub privileged: bool,
    pub tty: bool,
    /// The TTY's initial size as `[height, width]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u16; 2]>,
    pub attach_stdin: bool,
    pub attach_stderr: bool,
    pub attach_stdout: bool,
    /// The daemon's detach sequence; empty for the default.
    pub detach_keys: String,
    pub env: Vec<String>,
    pub working_dir: String,
    pub cmd: Vec<String>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecStartConfig {
    pub detach: bool,
    pub tty: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u16; 2]>,
}

/// The process an exec runs, as `GET /exec/{id}/json` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecProcessConfig {
    pub tty: bool,
    pub entrypoint: String,
    #[serde(deserialize_with = "crate::body::nullable")]
    pub arguments: Vec<String>,
    pub privileged: Option<bool>,
    pub user: Option<String>,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    /// `None` while the process runs (or before it started).
    pub exit_code: Option<i64>,
    pub process_config: ExecProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub detach_keys: String,
    pub pid: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdResponse {
    id: String,
}

fn exec_path(id: &str, action: &str) -> String {
    format!("/exec/{}{action}", path_segment(id))
}

impl Client {
    /// `POST /containers/{id}/exec`: returns the new exec's id.
    pub async fn create_exec(&self, container: &str, config: &ExecConfig) -> Result<String> {
        let request = ApiRequest::post(format!("/containers/{}/exec", path_segment(container)))
            .json(config)?;
        let created: IdResponse = self.send_json(request).await?;
        Ok(created.id)
    }

    /// `POST /exec/{id}/start` hijacked: the exec's stdio, multiplexed unless
    /// it has a TTY. A failure to run the command is reported in the output
    /// stream, as Docker does, and its exit code by [`Client::inspect_exec`].
    pub async fn start_exec(
        &self,
        id: &str,
        tty: bool,
        console_size: Option<[u16; 2]>,
    ) -> Result<AttachConnection> {
        let body = ExecStartConfig {
            detach: false,
            tty,
            console_size,
        };
        self.hijack(ApiRequest::post(exec_path(id, "/start")).json(&body)?)
            .await
    }

    /// `POST /exec/{id}/start` with `Detach`: returns once the process runs.
    pub async fn start_exec_detached(&self, id: &str, tty: bool) -> Result<()> {
        let body = ExecStartConfig {
            detach: true,
            tty,
            console_size: None,
        };
        self.send_ok(ApiRequest::post(exec_path(id, "/start")).json(&body)?)
            .await
    }

    /// `GET /exec/{id}/json`.
    pub async fn inspect_exec(&self, id: &str) -> Result<ExecInspect> {
        self.send_json(ApiRequest::get(exec_path(id, "/json")))
            .await
    }

    /// `POST /exec/{id}/resize?h=&w=`.
    pub async fn resize_exec(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let mut query = Query::new();
        query
            .push("h", height.to_string())
            .push("w", width.to_string());
        self.send_ok(ApiRequest::post(exec_path(id, "/resize")).query(query))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exec_bodies_use_dockers_field_names() {
        let config = ExecConfig {
            tty: true,
            console_size: Some([24, 80]),
            attach_stdout: true,
            cmd: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["A=1".into()],
            ..ExecConfig::default()
        };
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({
                "User": "", "Privileged": false, "Tty": true, "ConsoleSize": [24, 80],
                "AttachStdin": false, "AttachStderr": false, "AttachStdout": true,
                "DetachKeys": "", "Env": ["A=1"], "WorkingDir": "", "Cmd": ["sh", "-c", "echo hi"]
            })
        );
        let start = ExecStartConfig {
            detach: true,
            ..ExecStartConfig::default()
        };
        assert_eq!(
            serde_json::to_value(&start).unwrap(),
            json!({"Detach": true, "Tty": false})
        );
    }

    #[test]
    fn exec_inspect_reads_a_null_exit_code_as_still_running() {
        let running: ExecInspect = serde_json::from_value(json!({
            "ID": "e1", "Running": true, "ExitCode": null, "Pid": 42,
            "ProcessConfig": {"tty": false, "entrypoint": "sleep", "arguments": ["5"], "privileged": false, "user": ""},
            "ContainerID": "c1", "OpenStdin": false, "OpenStdout": true, "OpenStderr": true,
            "CanRemove": false, "DetachKeys": ""
        }))
        .unwrap();
        assert_eq!(running.exit_code, None);
        assert_eq!(running.process_config.arguments, ["5"]);
        assert_eq!(running.container_id, "c1");
        let done: ExecInspect =
            serde_json::from_value(json!({"ID": "e1", "Running": false, "ExitCode": 127, "ProcessConfig": {"arguments": null}}))
                .unwrap();
        assert_eq!(done.exit_code, Some(127));
    }
}
