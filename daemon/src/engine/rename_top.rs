//! Rename and top: small operations on an existing container (Docker's
//! `rename` and `top` endpoints).

use super::{Container, Engine};
use berth_api::container::valid_container_name;
use berth_api::ApiError;
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

/// `GET /containers/{id}/top`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

impl Engine {
    pub fn rename(&self, reference: &str, new_name: &str) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        if new_name.is_empty() {
            return Err(ApiError::invalid("Neither old nor new names may be empty"));
        }
        if !valid_container_name(new_name) {
            return Err(ApiError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let new_name = format!("/{}", new_name.trim_start_matches('/'));
        let old_name = container.record().name.clone();
        if old_name == new_name {
            return Err(ApiError::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        self.reserve_name(&new_name, &container.id)?;
        container.record().name = new_name.clone();
        if let Err(e) = self.save(&container) {
            container.record().name = old_name;
            self.release_name(&new_name, &container.id);
            return Err(e);
        }
        self.release_name(&old_name, &container.id);
        self.container_event(&container, "rename", &[("oldName", old_name)]);
        Ok(())
    }

    /// Runs `ps` on the host with Docker's default `-ef` (or `ps_args`) and
    /// keeps the rows of processes in the container's pid namespace.
    pub async fn top(&self, reference: &str, ps_args: Option<&str>) -> Result<Top, ApiError> {
        let container = self.lookup(reference)?;
        let pid = running_pid(&container)?;
        let pids = pids_in_namespace_of(pid)?;
        let args: Vec<String> = ps_args
            .filter(|a| !a.trim().is_empty())
            .unwrap_or("-ef")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let output = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| ApiError::system(format!("running ps: {e}")))?;
        if !output.status.success() {
            return Err(ApiError::system(format!(
                "ps: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&output.stdout), &pids)
    }
}

fn running_pid(container: &Container) -> Result<i32, ApiError> {
    let record = container.record();
    if !record.running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            record.id
        )));
    }
    Ok(record.state.pid)
}

/// Host pids of every process whose pid namespace is the one of `pid`.
fn pids_in_namespace_of(pid: i32) -> Result<HashSet<i32>, ApiError> {
    let ns = |p: &str| std::fs::metadata(format!("/proc/{p}/ns/pid")).map(|m| (m.dev(), m.ino()));
    let target = ns(&pid.to_string())
        .map_err(|e| ApiError::system(format!("reading the container's pid namespace: {e}")))?;
    let mut pids = HashSet::new();
    for entry in std::fs::read_dir("/proc").map_err(|e| ApiError::system(e.to_string()))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(p) = name.parse::<i32>() else { continue };
        if ns(name).is_ok_and(|n| n == target) {
            pids.insert(p);
        }
    }
    Ok(pids)
}

/// Keeps the `ps` rows whose PID is in `pids`; the last column may hold spaces.
fn parse_ps(output: &str, pids: &HashSet<i32>) -> Result<Top, ApiError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_column = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ApiError::invalid("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_column].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let last = titles.len() - 1;
        let mut row: Vec<String> = fields[..last].iter().map(|f| f.to_string()).collect();
        row.push(fields[last..].join(" "));
        processes.push(row);
    }
    Ok(Top { titles, processes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_are_filtered_by_pid_and_keep_the_command_whole() {
        let output = "UID PID PPID C STIME TTY TIME CMD\n\
                      root 10 1 0 10:00 ? 00:00:00 sleep 300\n\
                      root 11 10 0 10:00 ? 00:00:00 sh -c echo hi\n\
                      root 99 1 0 10:00 ? 00:00:00 /sbin/init\n";
        let pids: HashSet<i32> = [10, 11].into_iter().collect();
        let top = parse_ps(output, &pids).unwrap();
        assert_eq!(top.titles.len(), 8);
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[1][7], "sh -c echo hi");
        assert!(parse_ps("USER COMMAND\nroot x\n", &pids).is_err());
    }

    #[test]
    fn own_namespace_contains_this_process() {
        let me = std::process::id() as i32;
        assert!(pids_in_namespace_of(me).unwrap().contains(&me));
    }
}
