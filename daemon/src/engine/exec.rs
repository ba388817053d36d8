//! `docker exec`: processes started in a running container through an exec
//! monitor (`berth-shim exec`), which is berthd's direct child and joins the
//! container's namespaces and root. The process gets the container's
//! privileges and limits (capabilities, no_new_privs, seccomp, rlimits, OOM
//! score, extra groups); `Privileged` gives it every capability.

use super::{Container, Engine};
use berth_api::ApiError;
use berth_runtime::{ExecSpec, ExitStatus, ProcessSpec, StartReport};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::{Arc, Mutex, RwLock};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::oneshot;

/// The body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    #[serde(deserialize_with = "berth_api::strslice::deserialize")]
    pub cmd: Option<Vec<String>>,
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub privileged: bool,
    pub detach_keys: String,
    pub console_size: Option<[u16; 2]>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default)]
struct ExecState {
    started: bool,
    running: bool,
    pid: i32,
    exit_code: Option<i32>,
}

/// One exec instance.
pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    state: Mutex<ExecState>,
}

impl Exec {
    fn state(&self) -> ExecState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, change: impl FnOnce(&mut ExecState)) {
        change(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The exec's pid on the host while it runs (0 before).
    pub fn pid(&self) -> i32 {
        self.state().pid
    }

    /// The command line as Docker shows it in events.
    pub fn command_line(&self) -> String {
        self.config.cmd.clone().unwrap_or_default().join(" ")
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect(&self) -> serde_json::Value {
        let state = self.state();
        let cmd = self.config.cmd.clone().unwrap_or_default();
        json!({
            "ID": self.id,
            "Running": state.running,
            "ExitCode": state.exit_code,
            "ProcessConfig": {
                "tty": self.config.tty,
                "entrypoint": cmd.first().cloned().unwrap_or_default(),
                "arguments": cmd.iter().skip(1).collect::<Vec<_>>(),
                "privileged": self.config.privileged,
                "user": self.config.user,
            },
            "OpenStdin": self.config.attach_stdin,
            "OpenStderr": self.config.attach_stderr,
            "OpenStdout": self.config.attach_stdout,
            "CanRemove": false,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.detach_keys,
            "Pid": state.pid,
        })
    }

    pub fn tty(&self) -> bool {
        self.config.tty
    }
}

/// The exec table.
#[derive(Default)]
pub struct Execs(RwLock<HashMap<String, Arc<Exec>>>);

impl Execs {
    pub fn get(&self, id: &str) -> Result<Arc<Exec>, ApiError> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }

    pub fn of_container(&self, container_id: &str) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.id.clone())
            .collect()
    }

    /// Drops one exec from the table (a health probe, once recorded).
    pub fn forget(&self, id: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    pub fn forget_container(&self, container_id: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.container_id != container_id);
    }
}

/// A started exec's pipes, for the route to stream.
pub struct Running {
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
    /// Resolves once the exit is recorded (ExitCode set, Running false).
    pub finished: oneshot::Receiver<i32>,
}

fn not_running(container: &Container) -> ApiError {
    ApiError::conflict(format!("Container {} is not running", container.id))
}

impl Engine {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, reference: &str, config: ExecConfig) -> Result<String, ApiError> {
        let container = self.lookup(reference)?;
        if !container.record().running() {
            return Err(not_running(&container));
        }
        if container.record().paused() {
            return Err(ApiError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                container.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(ApiError::invalid("No exec command specified"));
        }
        if !config.detach_keys.is_empty() {
            super::detach::parse(&config.detach_keys)?;
        }
        let id = hex::encode(rand::random::<[u8; 32]>());
        let exec = Arc::new(Exec {
            id: id.clone(),
            container_id: container.id.clone(),
            config,
            state: Mutex::new(ExecState::default()),
        });
        self.execs
            .0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), exec.clone());
        self.container_event(
            &container,
            &format!("exec_create: {}", exec.command_line()),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    pub fn exec_control_socket(&self, exec_id: &str) -> std::path::PathBuf {
        self.paths
            .exec_root
            .join("sock")
            .join(format!("x{}.sock", &exec_id[..16.min(exec_id.len())]))
    }

    /// Whether `exec_start` can be tried: not started yet, container running.
    pub fn exec_check(&self, exec: &Exec) -> Result<(), ApiError> {
        if exec.state().started {
            return Err(ApiError::conflict(format!(
                "Exec command {} is already running",
                exec.id
            )));
        }
        let container = self.lookup(&exec.container_id)?;
        if !container.record().running() {
            return Err(not_running(&container));
        }
        Ok(())
    }

    /// Starts the exec. `Err` when it cannot be tried (unknown, already
    /// started, container stopped); `Ok(Err(message))` when the process
    /// failed to start, with Docker's wording, ExitCode already recorded.
    pub async fn exec_start(
        &self,
        exec: &Arc<Exec>,
        attach: bool,
        console_size: Option<[u16; 2]>,
    ) -> Result<Result<Running, String>, ApiError> {
        let container = self.lookup(&exec.container_id)?;
        {
            let mut state = exec.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.started {
                return Err(ApiError::conflict(format!(
                    "Exec command {} is already running",
                    exec.id
                )));
            }
            state.started = true;
        }
        let record = container.snapshot();
        if !record.running() {
            return Err(not_running(&container));
        }
        let config = &exec.config;
        let mut env = vec![format!("HOSTNAME={}", record.config.hostname)];
        if config.tty {
            env.push("TERM=xterm".to_string());
        }
        for entry in record.config.env.iter().chain(&config.env) {
            let key = entry.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(entry.clone());
        }
        let cwd = [&config.working_dir, &record.config.working_dir]
            .into_iter()
            .find(|d| !d.is_empty())
            .cloned()
            .unwrap_or_else(|| "/".to_string());
        let user = if config.user.is_empty() {
            record.config.user.clone()
        } else {
            config.user.clone()
        };
        let seccomp = super::security::seccomp_filter(&self.seccomp, &record.host_config).await?;
        let security =
            super::security::security_spec(&record.host_config, config.privileged, seccomp)?;
        let spec = ExecSpec {
            container_id: container.id.clone(),
            init_pid: record.state.pid,
            process: ProcessSpec {
                args: config.cmd.clone().unwrap_or_default(),
                env,
                cwd,
                user,
                open_stdin: attach && config.attach_stdin,
                tty: config.tty,
                console_size: console_size
                    .or(config.console_size)
                    .filter(|s| *s != [0, 0]),
                stdin_once: true,
            },
            control_socket: config.tty.then(|| self.exec_control_socket(&exec.id)),
            cgroup_procs: self.exec_cgroup_procs(&container.id, &record.host_config),
            security,
        };
        let spec_path = self
            .paths
            .runtime_dir(&container.id)
            .join(format!("exec-{}.json", exec.id));
        let bytes = serde_json::to_vec(&spec).expect("specs serialize");
        let io = |e: std::io::Error| ApiError::system(format!("starting exec: {e}"));
        std::fs::write(&spec_path, bytes).map_err(io)?;
        let (report_read, report_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| ApiError::system(format!("starting exec: {e}")))?;
        let mut command: tokio::process::Command =
            berth_runtime::exec_command(&self.paths.shim, &spec_path, report_write).into();
        let piped = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
        command
            .stdin(piped(attach && config.attach_stdin))
            .stdout(piped(attach && config.attach_stdout))
            .stderr(piped(attach && config.attach_stderr && !config.tty))
            .kill_on_drop(false);
        let child = command.spawn().map_err(io);
        // The command held the report pipe's write end; it must close here
        // so that the pipe reaches EOF when the monitor exits.
        drop(command);
        let mut child = child?;
        let (start_tx, start_rx) = oneshot::channel();
        let (exit_tx, exit_rx) = oneshot::channel();
        read_reports(report_read, start_tx, exit_tx);
        let report = start_rx.await.unwrap_or_else(|_| StartReport::Failed {
            message: "exec monitor exited without a report".to_string(),
            exit_code: 126,
        });
        let _ = std::fs::remove_file(&spec_path);
        match report {
            StartReport::Failed { message, exit_code } => {
                let _ = child.wait().await;
                exec.update(|s| s.exit_code = Some(exit_code));
                Ok(Err(format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown"
                )))
            }
            StartReport::Started { pid, .. } => {
                exec.update(|s| {
                    s.running = true;
                    s.pid = pid;
                });
                self.container_event(
                    &container,
                    &format!("exec_start: {}", exec.command_line()),
                    &[("execID", exec.id.clone())],
                );
                let running = Running {
                    stdin: child.stdin.take(),
                    stdout: child.stdout.take(),
                    stderr: child.stderr.take(),
                    finished: self.watch_exec(exec.clone(), container, child, exit_rx),
                };
                Ok(Ok(running))
            }
        }
    }

    fn watch_exec(
        &self,
        exec: Arc<Exec>,
        container: Arc<Container>,
        mut child: Child,
        exit: oneshot::Receiver<Option<ExitStatus>>,
    ) -> oneshot::Receiver<i32> {
        let (tx, rx) = oneshot::channel();
        let events = self.events.clone();
        tokio::spawn(async move {
            let status = exit.await.ok().flatten();
            let _ = child.wait().await;
            let code = status.map(|s| s.exit_code).unwrap_or(137);
            exec.update(|s| {
                s.running = false;
                s.exit_code = Some(code);
            });
            events.publish(super::events::container_event(
                &container,
                "exec_die",
                &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
            ));
            let _ = tx.send(code);
        });
        rx
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, exec: &Exec, height: u16, width: u16) -> Result<(), ApiError> {
        if !exec.state().running {
            return Err(ApiError::conflict(format!(
                "Exec {} is not running",
                exec.id
            )));
        }
        if !exec.tty() {
            return Err(ApiError::invalid(format!(
                "cannot resize exec {}: it has no TTY",
                exec.id
            )));
        }
        let socket = self.exec_control_socket(&exec.id);
        super::blocking(move || {
            berth_runtime::control::resize(&socket, height, width)
                .map_err(|e| ApiError::system(format!("resizing the TTY: {e}")))
        })
        .await
    }
}

/// Reads the monitor's two report lines on a blocking thread.
fn read_reports(
    read: OwnedFd,
    start: oneshot::Sender<StartReport>,
    exit: oneshot::Sender<Option<ExitStatus>>,
) {
    tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(std::fs::File::from(read)).lines();
        let report = lines
            .next()
            .and_then(Result::ok)
            .and_then(|l| serde_json::from_str::<StartReport>(&l).ok());
        let Some(report) = report else { return };
        let started = matches!(report, StartReport::Started { .. });
        let _ = start.send(report);
        if started {
            let status = lines
                .next()
                .and_then(Result::ok)
                .and_then(|l| serde_json::from_str::<ExitStatus>(&l).ok());
            let _ = exit.send(status);
        }
    });
}
