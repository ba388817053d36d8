//! Start, stop, kill, restart, remove and wait; watching monitors for exits
//! and re-adopting them after a daemon restart.

use super::container::{Container, Lifecycle, Status};
use super::{blocking, image_error, now_rfc3339, Engine};
use berth_api::ApiError;
use berth_runtime::{ContainerSpec, FileBind, ProcessSpec, RootfsSpec, StartReport};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

/// How long stop and kill wait for a SIGKILLed container to be reaped.
const KILL_GRACE: Duration = Duration::from_secs(30);

/// The `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(value: Option<&str>) -> Result<WaitCondition, ApiError> {
        match value.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(ApiError::invalid(format!("invalid condition: {other:?}"))),
        }
    }
}

/// A registered waiter: it has seen the state at registration, so an exit
/// that happens after it was made is never missed.
pub struct Waiter {
    rx: watch::Receiver<Lifecycle>,
    at_start: Lifecycle,
    condition: WaitCondition,
}

impl Waiter {
    pub fn new(container: &Container, condition: WaitCondition) -> Waiter {
        let rx = container.subscribe();
        let at_start = rx.borrow().clone();
        Waiter {
            rx,
            at_start,
            condition,
        }
    }

    /// Resolves with the exit code once the condition holds.
    pub async fn wait(mut self) -> i64 {
        loop {
            let now = self.rx.borrow_and_update().clone();
            let done = match self.condition {
                WaitCondition::NotRunning => !now.running,
                WaitCondition::NextExit => now.exits > self.at_start.exits || now.removed,
                WaitCondition::Removed => now.removed,
            };
            if done {
                return now.exit_code.into();
            }
            if self.rx.changed().await.is_err() {
                return self.rx.borrow().exit_code.into();
            }
        }
    }
}

/// Parses `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(value: &str) -> Result<nix::sys::signal::Signal, ApiError> {
    use nix::sys::signal::Signal;
    let invalid = || ApiError::invalid(format!("Invalid signal: {value}"));
    if let Ok(n) = value.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| invalid());
    }
    let upper = value.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| invalid())
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // no memory is shared with the kernel.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the syscall just returned this fd, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_signal(fd: &OwnedFd, signal: i32) -> std::io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// HostConfig.ConsoleSize, `[height, width]`, when the client sent one.
pub fn console_size(host: &berth_api::container::HostConfig) -> Option<[u16; 2]> {
    let size: [u16; 2] = serde_json::from_value(host.extra.get("ConsoleSize")?.clone()).ok()?;
    (size != [0, 0]).then_some(size)
}

/// Resolves when process `pid` has exited (immediately if it is gone already).
async fn process_exit(pid: i32) {
    let Ok(fd) = pidfd_open(pid) else { return };
    // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays open and
    // the same for the AsyncFd's whole life.
    match unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) } {
        Ok(async_fd) => {
            let _ = async_fd.readable().await;
        }
        Err(e) => {
            tracing::warn!(pid, error = %e, "cannot watch monitor; polling");
            let pid = nix::unistd::Pid::from_raw(pid);
            while nix::sys::signal::kill(pid, None).is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Collects the exit status of a monitor that berthd inherited as subreaper;
/// a monitor adopted after a restart is not our child, and that is fine.
fn reap(pid: i32) {
    use nix::sys::wait::{waitpid, WaitPidFlag};
    let _ = waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

fn unix_nanos_rfc3339(nanos: u64) -> String {
    let secs = (nanos / 1_000_000_000) as i64;
    let sub = (nanos % 1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, sub)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Engine {
    /// After a restart: watch monitors that still run, record the exits of
    /// containers that died while the daemon was down.
    pub(super) fn adopt(self: &Arc<Self>, container: Arc<Container>) {
        let record = container.snapshot();
        if !record.running() {
            return;
        }
        let shim_pid = record.state.shim_pid;
        if berth_runtime::shim_alive(shim_pid, &container.id) {
            tracing::info!(container = %container.id, shim_pid, "re-adopted running container");
            *container
                .init_pidfd
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = pidfd_open(record.state.pid).ok();
            self.watch_exit(container.clone(), shim_pid);
            self.watch_health(container);
        } else {
            let engine = self.clone();
            tokio::spawn(async move { engine.on_exit(&container).await });
        }
    }

    fn watch_exit(self: &Arc<Self>, container: Arc<Container>, shim_pid: i32) {
        let engine = self.clone();
        tokio::spawn(async move {
            process_exit(shim_pid).await;
            reap(shim_pid);
            engine.on_exit(&container).await;
        });
    }

    async fn on_exit(self: &Arc<Self>, container: &Arc<Container>) {
        let exit_path = self.paths.exit_path(&container.id);
        let exit = blocking(move || {
            berth_runtime::read_exit_status(&exit_path).map_err(|e| ApiError::system(e.to_string()))
        })
        .await;
        let (code, finished, error) = match exit {
            Ok(Some(status)) => (
                status.exit_code,
                unix_nanos_rfc3339(status.finished_unix_nanos),
                String::new(),
            ),
            other => {
                tracing::warn!(container = %container.id, result = ?other.err(), "monitor left no exit status");
                (
                    255,
                    now_rfc3339(),
                    "container monitor exited unexpectedly".to_string(),
                )
            }
        };
        self.release_networks(container).await;
        self.release_mounts(&container.id).await;
        let host_config = container.record().host_config.clone();
        let oom_killed = self.oom_killed(&container.id, &host_config);
        self.remove_cgroup(&container.id, &host_config);
        if oom_killed {
            self.container_event(container, "oom", &[]);
        }
        let auto_remove = {
            let mut record = container.record();
            record.state.status = Status::Exited;
            record.state.oom_killed = oom_killed;
            record.state.pid = 0;
            record.state.shim_pid = 0;
            record.state.exit_code = code;
            record.state.finished_at = Some(finished);
            record.state.error = error;
            record.host_config.auto_remove
        };
        *container
            .init_pidfd
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        if let Err(e) = self.save(container) {
            tracing::error!(container = %container.id, error = %e, "saving exit state");
        }
        tracing::info!(container = %container.id, exit_code = code, "exited");
        self.container_event(container, "die", &[("exitCode", code.to_string())]);
        container.notify(|l| {
            l.running = false;
            l.exits += 1;
            l.exit_code = code;
        });
        if !auto_remove && self.restart_by_policy(container) {
            return;
        }
        if auto_remove {
            if let Err(e) = self.remove_container(container, true, true).await {
                tracing::warn!(container = %container.id, error = %e, "auto-remove failed");
            }
        }
    }

    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        container.record().state.manually_stopped = false;
        self.start_locked(&container).await
    }

    pub(super) async fn start_locked(
        self: &Arc<Self>,
        container: &Arc<Container>,
    ) -> Result<(), ApiError> {
        let record = container.snapshot();
        match record.state.status {
            Status::Running | Status::Paused => return Err(ApiError::not_modified()),
            Status::Removing => {
                return Err(ApiError::conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    record.id
                )))
            }
            Status::Created | Status::Exited | Status::Restarting => {}
        }
        let images = self.images.clone();
        let image_id = record.image_id.clone();
        let mut lower = blocking(move || images.layer_dirs(&image_id).map_err(image_error)).await?;
        lower.reverse();

        let dir = self.paths.container_dir(&record.id);
        let runtime_dir = self.paths.runtime_dir(&record.id);
        let mut env = vec![format!("HOSTNAME={}", record.config.hostname)];
        if record.config.tty {
            env.push("TERM=xterm".to_string());
        }
        for entry in &record.config.env {
            let key = entry.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(entry.clone());
        }
        let mut args = vec![record.path.clone()];
        args.extend(record.args.iter().cloned());
        let seccomp = super::security::seccomp_filter(&self.seccomp, &record.host_config).await?;
        let security = super::security::security_spec(&record.host_config, false, seccomp)?;
        let missing = berth_runtime::missing_from_bounding_set(&security.capabilities);
        if !missing.is_empty() && !record.host_config.privileged {
            tracing::warn!(
                container = %record.id,
                capabilities = ?missing,
                "not in the daemon's bounding set: the container runs without them"
            );
        }
        let mut filesystem = super::security::filesystem_spec(&record.host_config)?;
        let devices = super::devices::nodes(&record.host_config)?;
        let (cgroup_procs, warnings) = self.create_cgroup(&record.id, &record.host_config)?;
        for warning in &warnings {
            tracing::warn!(container = %record.id, %warning, "limit not applied");
        }
        let (mounts, tmpfs) = match self.prepare_mounts(&record).await {
            Ok(prepared) => prepared,
            Err(e) => {
                self.remove_cgroup(&record.id, &record.host_config);
                return Err(e);
            }
        };
        filesystem.tmpfs.extend(tmpfs);
        let prepared = match self.prepare_networks(container).await {
            Ok(prepared) => prepared,
            Err(e) => {
                self.release_mounts(&record.id).await;
                self.remove_cgroup(&record.id, &record.host_config);
                return Err(e);
            }
        };
        let spec = ContainerSpec {
            id: record.id.clone(),
            cgroup_procs,
            cgroupns_host: record
                .host_config
                .extra
                .get("CgroupnsMode")
                .and_then(serde_json::Value::as_str)
                == Some("host"),
            rootfs: RootfsSpec {
                lower,
                upper: dir.join("upper"),
                work: dir.join("work"),
                target: dir.join("rootfs"),
                idmapped: self.layer_idmap.is_some(),
            },
            process: ProcessSpec {
                args,
                env,
                cwd: if record.config.working_dir.is_empty() {
                    "/".to_string()
                } else {
                    record.config.working_dir.clone()
                },
                user: record.config.user.clone(),
                open_stdin: record.config.open_stdin,
                tty: record.config.tty,
                console_size: console_size(&record.host_config),
                stdin_once: record.config.stdin_once,
            },
            control_socket: Some(self.paths.control_socket(&record.id)),
            hostname: record.config.hostname.clone(),
            file_binds: ["resolv.conf", "hostname", "hosts"]
                .iter()
                .map(|f| FileBind {
                    source: dir.join(f),
                    destination: format!("/etc/{f}"),
                })
                .collect(),
            log_path: self.paths.log_path(&record.id),
            exit_path: self.paths.exit_path(&record.id),
            network: prepared.network,
            devices,
            security,
            filesystem,
            user_namespace: self
                .userns_remap
                .clone()
                .filter(|_| !super::security::shares_host_userns(&record.host_config)),
            sysctls: super::security::sysctls(&record.host_config)?,
            mounts,
        };
        // A remapped container's root owns its `/` (the upper directory)
        // and the files written for it, as with Docker.
        let owner = spec
            .user_namespace
            .as_ref()
            .and_then(berth_runtime::UserNamespace::host_root);
        let hostname = record.config.hostname.clone();
        let shim = self.paths.shim.clone();
        let spec_path = runtime_dir.join("spec.json");
        let gateway = self
            .net
            .networks
            .find(super::networks::BRIDGE)
            .and_then(|n| n.ipam)
            .map(|ipam| ipam.gateway);
        let hosts = super::name_files::hosts(&record.host_config, prepared.hosts, gateway);
        let resolv_conf = super::name_files::resolv_conf(&record.host_config, prepared.resolv_conf);
        let netns = prepared.netns;
        let report = blocking(move || {
            let io = |e: std::io::Error| ApiError::system(format!("preparing container: {e}"));
            std::fs::create_dir_all(&runtime_dir).map_err(io)?;
            let _ = std::fs::remove_file(&spec.exit_path);
            std::fs::write(dir.join("hostname"), format!("{hostname}\n")).map_err(io)?;
            std::fs::write(dir.join("hosts"), hosts).map_err(io)?;
            std::fs::write(dir.join("resolv.conf"), resolv_conf).map_err(io)?;
            if let Some((uid, gid)) = owner {
                for path in ["upper", "hostname", "hosts", "resolv.conf"] {
                    std::os::unix::fs::chown(dir.join(path), Some(uid), Some(gid)).map_err(io)?;
                }
            }
            let bytes = serde_json::to_vec(&spec).expect("specs serialize");
            std::fs::write(&spec_path, bytes).map_err(io)?;
            let report = berth_runtime::launch(&shim, &spec_path)
                .map_err(|e| ApiError::system(format!("starting container monitor: {e}")));
            // The init has joined the namespace (or failed): let go of it.
            drop(netns);
            report
        })
        .await;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                self.release_networks(container).await;
                self.release_mounts(&record.id).await;
                self.remove_cgroup(&record.id, &record.host_config);
                return Err(e);
            }
        };
        match report {
            StartReport::Started { pid, shim_pid } => {
                {
                    let mut record = container.record();
                    record.state.status = Status::Running;
                    record.state.pid = pid;
                    record.state.shim_pid = shim_pid;
                    record.state.exit_code = 0;
                    record.state.oom_killed = false;
                    record.state.error.clear();
                    record.state.started_at = Some(now_rfc3339());
                }
                *container
                    .init_pidfd
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = pidfd_open(pid).ok();
                self.save(container)?;
                container.notify(|l| l.running = true);
                tracing::info!(container = %container.id, pid, shim_pid, "started");
                self.container_event(container, "start", &[]);
                self.watch_exit(container.clone(), shim_pid);
                self.watch_health(container.clone());
                Ok(())
            }
            StartReport::Failed { message, exit_code } => {
                self.release_networks(container).await;
                self.release_mounts(&record.id).await;
                self.remove_cgroup(&record.id, &record.host_config);
                let auto_remove = {
                    let mut record = container.record();
                    record.state.exit_code = exit_code;
                    record.state.error = message.clone();
                    record.host_config.auto_remove
                };
                self.save(container)?;
                container.notify(|l| {
                    l.exits += 1;
                    l.exit_code = exit_code;
                });
                tracing::info!(container = %container.id, %message, "start failed");
                if auto_remove {
                    self.remove_unlocked(container, true).await?;
                }
                Err(ApiError::invalid(format!(
                    "failed to create task for container: unable to start container process: {message}: unknown"
                )))
            }
        }
    }

    fn signal(&self, container: &Container, signal: i32) -> Result<(), ApiError> {
        let pidfd = container
            .init_pidfd
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let sent = match pidfd.as_ref() {
            Some(fd) => pidfd_send_signal(fd, signal),
            None => {
                let pid = container.record().state.pid;
                if pid <= 0 {
                    return Ok(());
                }
                // SAFETY: kill(2) with a pid and a signal number touches no memory.
                match unsafe { libc::kill(pid, signal) } {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            }
        };
        self.container_event(container, "kill", &[("signal", signal.to_string())]);
        match sent {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(ApiError::system(format!(
                "sending signal {signal} to container {}: {e}",
                container.id
            ))),
        }
    }

    /// Sends `signal`, waits up to `timeout` for the exit, then SIGKILL.
    async fn stop_locked(
        &self,
        container: &Container,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), ApiError> {
        let record = container.snapshot();
        if !record.running() {
            return Err(ApiError::not_modified());
        }
        self.thaw_if_paused(container)?;
        let signal = parse_signal(
            signal
                .filter(|s| !s.is_empty())
                .or(record.config.stop_signal.as_deref())
                .unwrap_or("SIGTERM"),
        )?;
        let timeout = timeout.or(record.config.stop_timeout).unwrap_or(10);
        let waiter = Waiter::new(container, WaitCondition::NotRunning);
        self.signal(container, signal as i32)?;
        let exited = if timeout < 0 {
            waiter.wait().await;
            true
        } else {
            tokio::time::timeout(Duration::from_secs(timeout as u64), waiter.wait())
                .await
                .is_ok()
        };
        if !exited {
            tracing::info!(container = %container.id, timeout, "stop timed out; killing");
            self.kill_and_wait(container).await?;
        }
        self.container_event(container, "stop", &[]);
        Ok(())
    }

    async fn kill_and_wait(&self, container: &Container) -> Result<(), ApiError> {
        self.thaw_if_paused(container)?;
        let waiter = Waiter::new(container, WaitCondition::NotRunning);
        self.signal(container, libc::SIGKILL)?;
        // Every process in the container's cgroup, not just the init's pid
        // namespace (cgroup.kill where the kernel has it).
        tokio::task::block_in_place(|| self.kill_cgroup(container));
        tokio::time::timeout(KILL_GRACE, waiter.wait())
            .await
            .map(|_| ())
            .map_err(|_| {
                ApiError::system(format!(
                    "container {} did not exit after SIGKILL",
                    container.id
                ))
            })
    }

    pub async fn stop(
        &self,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        if self.stopped_by_user(&container)? {
            return Ok(());
        }
        self.stop_locked(&container, timeout, signal).await
    }

    pub async fn restart(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        self.stopped_by_user(&container)?;
        container.notify(|l| l.restarting = true);
        let stopped = match self.stop_locked(&container, timeout, signal).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind == berth_api::ErrorKind::NotModified => Ok(()),
            Err(e) => Err(e),
        };
        let started = match stopped {
            Ok(()) => {
                container.record().state.manually_stopped = false;
                self.start_locked(&container).await
            }
            Err(e) => Err(e),
        };
        container.notify(|l| l.restarting = false);
        started?;
        self.container_event(&container, "restart", &[]);
        Ok(())
    }

    pub async fn kill(&self, reference: &str, signal: Option<&str>) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let signal = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
        if container.record().running() {
            self.stopped_by_user(&container)?;
        } else {
            return Err(ApiError::conflict(format!(
                "Cannot kill container: {reference}: Container {} is not running",
                container.id
            )));
        }
        if signal == nix::sys::signal::Signal::SIGKILL {
            return self.kill_and_wait(&container).await;
        }
        self.thaw_if_paused(&container)?;
        self.signal(&container, signal as i32)
    }

    /// `DELETE /containers/{id}`; with `volumes` (`v`), the container's
    /// anonymous volumes go too.
    pub async fn remove(
        &self,
        reference: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        self.remove_container(&container, force, volumes).await
    }

    pub(super) async fn remove_container(
        &self,
        container: &Arc<Container>,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        let _op = container.op.lock().await;
        if container.lifecycle().removed {
            return Ok(());
        }
        if container.record().running() {
            if !force {
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    container.record().name
                )));
            }
            // Going for good: no restart policy brings it back meanwhile.
            container.record().state.manually_stopped = true;
            self.kill_and_wait(container).await?;
        }
        self.remove_unlocked(container, volumes).await
    }

    async fn remove_unlocked(
        &self,
        container: &Arc<Container>,
        volumes: bool,
    ) -> Result<(), ApiError> {
        container.record().state.status = Status::Removing;
        let dir = self.paths.container_dir(&container.id);
        let runtime_dir = self.paths.runtime_dir(&container.id);
        blocking(move || {
            let _ = std::fs::remove_dir_all(&runtime_dir);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(ApiError::system(format!(
                    "removing container directory {}: {e}",
                    dir.display()
                ))),
            }
        })
        .await?;
        self.forget(container);
        self.forget_mounts(&container.snapshot(), volumes).await;
        self.execs.forget_container(&container.id);
        self.container_event(container, "destroy", &[]);
        container.notify(|l| l.removed = true);
        tracing::info!(container = %container.id, "removed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("HUP").unwrap(), Signal::SIGHUP);
        assert_eq!(
            parse_signal("SIGNOPE").unwrap_err().message,
            "Invalid signal: SIGNOPE"
        );
        assert!(parse_signal("999").is_err());
    }

    #[test]
    fn wait_conditions_parse() {
        assert_eq!(
            WaitCondition::parse(None).unwrap(),
            WaitCondition::NotRunning
        );
        assert_eq!(
            WaitCondition::parse(Some("next-exit")).unwrap(),
            WaitCondition::NextExit
        );
        assert_eq!(
            WaitCondition::parse(Some("removed")).unwrap(),
            WaitCondition::Removed
        );
        assert_eq!(
            WaitCondition::parse(Some("soon")).unwrap_err().status(),
            400
        );
    }

    #[tokio::test]
    async fn next_exit_waiter_ignores_past_exits_and_sees_the_next() {
        let record: super::super::Record = serde_json::from_value(serde_json::json!({
            "id": "a".repeat(64), "name": "/t", "created": "", "image_id": "sha256:x",
            "path": "true", "args": [], "config": {}, "host_config": {},
            "state": {"status": "exited", "pid": 0, "shim_pid": 0, "exit_code": 3,
                      "error": "", "started_at": null, "finished_at": null},
            "restart_count": 0
        }))
        .unwrap();
        let container = Container::new(record);
        let not_running = Waiter::new(&container, WaitCondition::NotRunning);
        assert_eq!(not_running.wait().await, 3);
        let next = Waiter::new(&container, WaitCondition::NextExit);
        let task = tokio::spawn(next.wait());
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        container.notify(|l| {
            l.exits += 1;
            l.exit_code = 7;
        });
        assert_eq!(task.await.unwrap(), 7);
    }
}
