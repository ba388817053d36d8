//! Restart policies (`HostConfig.RestartPolicy`), as dockerd applies them.
//!
//! When a container exits on its own, `always` and `unless-stopped` start
//! it again, `on-failure` when it exited non-zero and has not used up its
//! `MaximumRetryCount` (0: no limit); `no` never does. A stop, a kill or a
//! restart by a user marks the container stopped by hand, which no policy
//! overrides until the next start. Between exit and restart the container
//! is `restarting`, for 100 ms at first, then twice as long after each quick
//! exit (up to a minute); a run of ten seconds or more resets the wait.
//! Every restart counts in `RestartCount`. When berthd starts, containers
//! it finds stopped with `always`, or with `unless-stopped` and not stopped
//! by hand, are started, and those whose restart it had scheduled.

use super::container::{Container, Status};
use super::Engine;
use berth_api::container::{HostConfig, RestartPolicy};
use berth_api::ApiError;
use std::sync::Arc;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run this long resets the wait.
const LONG_RUN: Duration = Duration::from_secs(10);

/// Refuses the policies dockerd refuses, with its messages.
pub fn check(host: &HostConfig) -> Result<(), ApiError> {
    let policy = &host.restart_policy;
    let invalid = |why: &str| ApiError::invalid(format!("invalid restart policy: {why}"));
    match policy.name.as_str() {
        "" | "no" | "always" | "unless-stopped" if policy.maximum_retry_count != 0 => Err(invalid(
            "maximum retry count can only be used with 'on-failure'",
        )),
        "" | "no" | "always" | "unless-stopped" => Ok(()),
        "on-failure" if policy.maximum_retry_count < 0 => {
            Err(invalid("maximum retry count cannot be negative"))
        }
        "on-failure" => Ok(()),
        other => Err(invalid(&format!(
            "unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        ))),
    }?;
    if host.auto_remove && !matches!(policy.name.as_str(), "" | "no") {
        return Err(ApiError::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    Ok(())
}

/// Whether a container that exited with `exit_code`, restarted `restarts`
/// times, starts again.
fn wants_restart(policy: &RestartPolicy, exit_code: i32, restarts: i64) -> bool {
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit_code != 0
                && (policy.maximum_retry_count == 0 || restarts < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// How long a run lasted, from RFC 3339 start and finish times.
fn run_length(started: Option<&str>, finished: Option<&str>) -> Option<Duration> {
    let at = |text: Option<&str>| chrono::DateTime::parse_from_rfc3339(text?).ok();
    (at(finished)? - at(started)?).to_std().ok()
}

impl Engine {
    /// Marks a container stopped by hand (before a user's stop, kill or
    /// restart) and calls off a restart it waits for; true if it was
    /// waiting for one.
    pub(super) fn stopped_by_user(&self, container: &Container) -> Result<bool, ApiError> {
        let was_restarting = {
            let mut record = container.record();
            record.state.manually_stopped = true;
            let restarting = record.state.status == Status::Restarting;
            if restarting {
                record.state.status = Status::Exited;
            }
            restarting
        };
        self.save(container)?;
        Ok(was_restarting)
    }

    /// After an exit (recorded): when the policy asks, marks the container
    /// `restarting` and starts it again after the wait. Returns whether it
    /// will.
    pub(super) fn restart_by_policy(self: &Arc<Self>, container: &Arc<Container>) -> bool {
        let (wanted, ran) = {
            let record = container.record();
            let wanted = !record.state.manually_stopped
                && wants_restart(
                    &record.host_config.restart_policy,
                    record.state.exit_code,
                    record.restart_count,
                );
            let ran = run_length(
                record.state.started_at.as_deref(),
                record.state.finished_at.as_deref(),
            );
            (wanted, ran)
        };
        if !wanted || container.lifecycle().removed {
            return false;
        }
        let delay = {
            let mut delay = container
                .restart_delay
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *delay = if delay.is_zero() || ran.is_some_and(|r| r >= LONG_RUN) {
                FIRST_DELAY
            } else {
                (*delay * 2).min(MAX_DELAY)
            };
            *delay
        };
        container.record().state.status = Status::Restarting;
        if let Err(e) = self.save(container) {
            tracing::warn!(container = %container.id, error = %e.message, "saving the restarting state");
        }
        tracing::info!(container = %container.id, ?delay, "restarting by policy");
        let engine = self.clone();
        let container = container.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _op = container.op.lock().await;
            {
                let mut record = container.record();
                if record.state.status != Status::Restarting || container.lifecycle().removed {
                    return;
                }
                record.restart_count += 1;
            }
            if let Err(e) = engine.start_locked(&container).await {
                tracing::warn!(container = %container.id, error = %e.message, "restart by policy failed");
                container.record().state.status = Status::Exited;
                let _ = engine.save(&container);
            }
        });
        true
    }

    /// At daemon start: starts a stopped container whose policy says it
    /// should run (`always`; `unless-stopped` unless stopped by hand), or
    /// whose restart the last berthd had scheduled.
    pub(super) fn start_by_policy(self: &Arc<Self>, container: Arc<Container>) {
        let due = {
            let record = container.record();
            let policy = record.host_config.restart_policy.name.as_str();
            // A restart the last berthd had scheduled is due too.
            !record.running()
                && record.state.status != Status::Created
                && (record.state.status == Status::Restarting
                    || policy == "always"
                    || (policy == "unless-stopped" && !record.state.manually_stopped))
        };
        if !due {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _op = container.op.lock().await;
            if let Err(e) = engine.start_locked(&container).await {
                tracing::warn!(container = %container.id, error = %e.message, "starting by restart policy");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, max: i64) -> RestartPolicy {
        RestartPolicy {
            name: name.to_string(),
            maximum_retry_count: max,
        }
    }

    #[test]
    fn policies_decide_as_dockers_do() {
        assert!(wants_restart(&policy("always", 0), 0, 100));
        assert!(wants_restart(&policy("unless-stopped", 0), 0, 0));
        assert!(!wants_restart(&policy("no", 0), 1, 0));
        assert!(!wants_restart(&policy("", 0), 1, 0));
        assert!(wants_restart(&policy("on-failure", 0), 1, 50));
        assert!(!wants_restart(&policy("on-failure", 0), 0, 0));
        assert!(wants_restart(&policy("on-failure", 2), 3, 1));
        assert!(!wants_restart(&policy("on-failure", 2), 3, 2));
    }

    #[test]
    fn bad_policies_are_refused_in_dockers_words() {
        let host = |name: &str, max: i64, auto_remove: bool| HostConfig {
            restart_policy: policy(name, max),
            auto_remove,
            ..HostConfig::default()
        };
        let refusal = |h: HostConfig| check(&h).unwrap_err().message;
        assert_eq!(
            refusal(host("sometimes", 0, false)),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        );
        assert_eq!(
            refusal(host("always", 3, false)),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        );
        assert_eq!(
            refusal(host("on-failure", -1, false)),
            "invalid restart policy: maximum retry count cannot be negative"
        );
        assert_eq!(
            refusal(host("always", 0, true)),
            "can't create 'AutoRemove' container with restart policy"
        );
        assert!(check(&host("on-failure", 3, false)).is_ok());
        assert!(check(&host("no", 0, true)).is_ok());
    }

    #[test]
    fn run_lengths_come_from_the_recorded_times() {
        let ran = run_length(
            Some("2026-12-01T10:00:00.000000000Z"),
            Some("2026-12-01T10:00:12.500000000Z"),
        );
        assert_eq!(ran, Some(Duration::from_millis(12_500)));
        assert_eq!(run_length(None, Some("2026-12-01T10:00:00Z")), None);
    }
}
