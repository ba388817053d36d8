//! Healthchecks (`Config.Healthcheck`, the image's `HEALTHCHECK`), as
//! dockerd runs them.
//!
//! While a container runs, a task of its own probes it: every interval (the
//! start interval while a start period lasts) the test runs as an exec in
//! the container (`CMD` as given, `CMD-SHELL` through `/bin/sh -c`), its
//! output (stdout and stderr, the first 4096 bytes) and exit code logged in
//! `State.Health` (the last five probes). Exit 0 makes the container
//! `healthy`; `retries` failures in a row, `unhealthy`; failures within the
//! start period do not count while it is still `starting`. A probe that
//! outlives its timeout is killed and counts as a failure (exit code -1).
//! Each change of status is a `health_status: <status>` event. The task
//! ends with the run it was started for; a paused container is not probed.

use super::container::Container;
use super::exec::ExecConfig;
use super::Engine;
use berth_api::container::{HealthConfig, HealthLog};
use berth_api::time::go_duration_text;
use berth_api::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// dockerd's defaults.
const DEFAULT_INTERVAL: i64 = 30_000_000_000;
const DEFAULT_TIMEOUT: i64 = 30_000_000_000;
const DEFAULT_START_INTERVAL: i64 = 5_000_000_000;
const DEFAULT_RETRIES: i64 = 3;
/// Probe output kept, in bytes.
const MAX_OUTPUT: usize = 4096;
/// Probes kept in `State.Health.Log`.
const MAX_LOG: usize = 5;
/// The shortest duration a healthcheck may give.
const MIN_DURATION: i64 = 1_000_000;

/// The statuses of `State.Health`.
pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// Refuses what dockerd refuses at create, with its messages.
pub fn check(config: Option<&HealthConfig>) -> Result<(), ApiError> {
    let Some(config) = config else {
        return Ok(());
    };
    for (value, name) in [
        (config.interval, "Interval"),
        (config.timeout, "Timeout"),
        (config.start_period, "StartPeriod"),
        (config.start_interval, "StartInterval"),
    ] {
        if value != 0 && value < MIN_DURATION {
            return Err(ApiError::invalid(format!(
                "{name} in Healthcheck cannot be less than {}",
                go_duration_text(MIN_DURATION)
            )));
        }
    }
    if config.retries < 0 {
        return Err(ApiError::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    Ok(())
}

/// The container's healthcheck over the image's, field by field (dockerd's
/// merge): the container's test unless empty, each timing unless zero.
pub fn merge(container: Option<HealthConfig>, image: Option<HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else {
        return container;
    };
    let Some(mut mine) = container else {
        return Some(image);
    };
    if mine.test.as_ref().is_none_or(Vec::is_empty) {
        mine.test = image.test;
    }
    for (field, inherited) in [
        (&mut mine.interval, image.interval),
        (&mut mine.timeout, image.timeout),
        (&mut mine.start_period, image.start_period),
        (&mut mine.start_interval, image.start_interval),
        (&mut mine.retries, image.retries),
    ] {
        if *field == 0 {
            *field = inherited;
        }
    }
    Some(mine)
}

/// The command a test runs, or `None` for no healthcheck (`NONE`, empty).
fn probe_command(config: &HealthConfig) -> Option<Vec<String>> {
    let test = config.test.as_deref()?;
    match test.split_first()? {
        (kind, rest) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        (kind, [script]) if kind == "CMD-SHELL" => Some(vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            script.clone(),
        ]),
        _ => None,
    }
}

fn or_default(value: i64, default: i64) -> Duration {
    Duration::from_nanos(u64::try_from(if value > 0 { value } else { default }).unwrap_or(0))
}

impl Engine {
    /// Starts probing a container that has just started (or was re-adopted
    /// running), if it has a healthcheck.
    pub(super) fn watch_health(self: &Arc<Self>, container: Arc<Container>) {
        let (config, started_at) = {
            let record = container.record();
            (
                record.config.healthcheck.clone(),
                record.state.started_at.clone(),
            )
        };
        let Some((config, command)) = config.and_then(|c| probe_command(&c).map(|cmd| (c, cmd)))
        else {
            return;
        };
        container.record().state.health = Some(berth_api::container::Health {
            status: STARTING.to_string(),
            ..Default::default()
        });
        let engine = self.clone();
        tokio::spawn(async move {
            let began = tokio::time::Instant::now();
            let start_period = or_default(config.start_period, 0);
            let in_start_period = |container: &Container| {
                !start_period.is_zero()
                    && began.elapsed() < start_period
                    && container
                        .record()
                        .state
                        .health
                        .as_ref()
                        .is_some_and(|h| h.status == STARTING)
            };
            loop {
                let wait = if in_start_period(&container) {
                    or_default(config.start_interval, DEFAULT_START_INTERVAL)
                } else {
                    or_default(config.interval, DEFAULT_INTERVAL)
                };
                tokio::time::sleep(wait).await;
                let same_run = {
                    let record = container.record();
                    record.running() && record.state.started_at == started_at
                };
                if !same_run || container.lifecycle().removed {
                    return;
                }
                if container.record().paused() {
                    continue;
                }
                let counted = !in_start_period(&container);
                let probe = engine.probe(&container, &command, &config).await;
                engine.record_probe(&container, probe, counted, &config);
            }
        });
    }

    /// Runs the test once as an exec.
    async fn probe(
        &self,
        container: &Container,
        command: &[String],
        config: &HealthConfig,
    ) -> HealthLog {
        let start = super::now_rfc3339();
        let timeout = or_default(config.timeout, DEFAULT_TIMEOUT);
        let exec_config = ExecConfig {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(command.to_vec()),
            ..ExecConfig::default()
        };
        let (exit_code, output) = match self.run_probe(container, exec_config, timeout).await {
            Ok(result) => result,
            Err(message) => (-1, message),
        };
        HealthLog {
            start,
            end: super::now_rfc3339(),
            exit_code,
            output,
        }
    }

    /// The probe's exit code and output, or why it could not run.
    async fn run_probe(
        &self,
        container: &Container,
        config: ExecConfig,
        timeout: Duration,
    ) -> Result<(i64, String), String> {
        let id = self
            .exec_create(&container.id, config)
            .map_err(|e| e.message)?;
        let result = async {
            let exec = self.execs.get(&id).map_err(|e| e.message)?;
            let running = match self.exec_start(&exec, true, None).await {
                Ok(Ok(running)) => running,
                Ok(Err(message)) => return Ok((126, message)),
                Err(e) => return Err(e.message),
            };
            let collect = async {
                let (stdout, stderr) =
                    tokio::join!(read_some(running.stdout), read_some(running.stderr));
                let code = running.finished.await.unwrap_or(137);
                let mut output = stdout;
                output.extend(stderr);
                output.truncate(MAX_OUTPUT);
                (
                    i64::from(code),
                    String::from_utf8_lossy(&output).into_owned(),
                )
            };
            match tokio::time::timeout(timeout, collect).await {
                Ok(result) => Ok(result),
                Err(_) => {
                    let pid = exec.pid();
                    if pid > 0 {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    Ok((
                        -1,
                        format!(
                            "Health check exceeded timeout ({})",
                            go_duration_text(i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX))
                        ),
                    ))
                }
            }
        }
        .await;
        self.execs.forget(&id);
        result
    }

    /// Logs a probe and moves the status; an event when it changes.
    fn record_probe(
        &self,
        container: &Container,
        probe: HealthLog,
        counted: bool,
        config: &HealthConfig,
    ) {
        let retries = if config.retries > 0 {
            config.retries
        } else {
            DEFAULT_RETRIES
        };
        let changed = {
            let mut record = container.record();
            let Some(health) = record.state.health.as_mut() else {
                return;
            };
            let before = health.status.clone();
            if probe.exit_code == 0 {
                health.failing_streak = 0;
                health.status = HEALTHY.to_string();
            } else if counted {
                health.failing_streak += 1;
                if health.failing_streak >= retries {
                    health.status = UNHEALTHY.to_string();
                }
            }
            health.log.push(probe);
            if health.log.len() > MAX_LOG {
                health.log.remove(0);
            }
            (health.status != before).then(|| health.status.clone())
        };
        if let Err(e) = self.save(container) {
            tracing::warn!(container = %container.id, error = %e.message, "saving the health status");
        }
        if let Some(status) = changed {
            self.container_event(container, &format!("health_status: {status}"), &[]);
        }
    }
}

/// Reads a probe's stream to its end, keeping at most [`MAX_OUTPUT`] bytes.
async fn read_some(stream: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut stream) = stream else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..HealthConfig::default()
        }
    }

    #[test]
    fn tests_become_commands() {
        assert_eq!(
            probe_command(&config(&["CMD-SHELL", "exit 1"])),
            Some(vec!["/bin/sh".into(), "-c".into(), "exit 1".into()])
        );
        assert_eq!(
            probe_command(&config(&["CMD", "true", "x"])),
            Some(vec!["true".into(), "x".into()])
        );
        assert_eq!(probe_command(&config(&["NONE"])), None);
        assert_eq!(probe_command(&config(&[])), None);
    }

    #[test]
    fn the_container_s_fields_win_over_the_image_s() {
        let image = HealthConfig {
            interval: 5,
            retries: 7,
            ..config(&["CMD", "image"])
        };
        let mine = HealthConfig {
            interval: 9,
            ..HealthConfig::default()
        };
        let merged = merge(Some(mine), Some(image.clone())).unwrap();
        assert_eq!(merged.test, image.test);
        assert_eq!((merged.interval, merged.retries), (9, 7));
        assert_eq!(merge(None, Some(image.clone())), Some(image));
        assert_eq!(merge(None, None), None);
    }

    #[test]
    fn bad_timings_are_refused_in_dockers_words() {
        let short = HealthConfig {
            interval: 10,
            ..HealthConfig::default()
        };
        assert_eq!(
            check(Some(&short)).unwrap_err().message,
            "Interval in Healthcheck cannot be less than 1ms"
        );
        let negative = HealthConfig {
            retries: -1,
            ..HealthConfig::default()
        };
        assert_eq!(
            check(Some(&negative)).unwrap_err().message,
            "Retries in Healthcheck cannot be negative"
        );
        assert!(check(None).is_ok());
    }
}
