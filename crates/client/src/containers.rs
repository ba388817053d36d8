//! Container endpoints: create, lifecycle, list, inspect, wait, logs, resize,
//! top, rename.

use crate::body::ByteStream;
use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, ClientError, Result};
use berth_api::container::{
    ContainerInspect, ContainerPruneResponse, ContainerSummary, CreateRequest, CreateResponse,
    WaitResponse,
};
use berth_api::Filters;
use http::Method;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;

/// `GET /containers/{id}/top`: `ps` output split into columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopResponse {
    #[serde(deserialize_with = "crate::body::nullable")]
    pub titles: Vec<String>,
    #[serde(deserialize_with = "crate::body::nullable")]
    pub processes: Vec<Vec<String>>,
}

/// `GET /containers/json` parameters.
#[derive(Debug, Clone, Default)]
pub struct ListContainersOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Only the `limit` most recently created containers (any state).
    pub limit: Option<i64>,
    pub filters: Filters,
    /// Ask for `SizeRw` and `SizeRootFs` (`size=1`).
    pub size: bool,
}

/// `GET /containers/{id}/logs` parameters.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Number of lines from the end, or `all`.
    pub tail: Option<String>,
    /// Unix timestamp (`sec[.nanos]`) to start from.
    pub since: Option<String>,
    /// Unix timestamp (`sec[.nanos]`) to stop at.
    pub until: Option<String>,
    pub timestamps: bool,
}

/// What `POST /containers/{id}/wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// Returns at once if the container is not running (the default).
    #[default]
    NotRunning,
    /// The next time the container exits; used before starting it.
    NextExit,
    /// The container has exited and been removed (`--rm`).
    Removed,
}

impl WaitCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitCondition::NotRunning => "not-running",
            WaitCondition::NextExit => "next-exit",
            WaitCondition::Removed => "removed",
        }
    }
}

/// A wait whose request the daemon has accepted (headers received) and whose
/// result comes when the condition is met.
#[derive(Debug)]
pub struct PendingWait {
    body: Incoming,
}

impl PendingWait {
    /// Blocks until the container meets the condition.
    pub async fn result(self) -> Result<WaitResponse> {
        let body = self.body.collect().await?.to_bytes();
        serde_json::from_slice(&body).map_err(|e| ClientError::InvalidResponse(e.to_string()))
    }
}

fn container_path(id: &str, action: &str) -> String {
    format!("/containers/{}{action}", path_segment(id))
}

impl Client {
    /// `POST /containers/prune?filters=`: removes every container that is
    /// not running.
    pub async fn prune_containers(&self, filters: &Filters) -> Result<ContainerPruneResponse> {
        let mut query = Query::new();
        query.filters(filters);
        self.send_json(ApiRequest::post("/containers/prune").query(query))
            .await
    }

    /// `POST /containers/create?name=`.
    pub async fn create_container(
        &self,
        name: Option<&str>,
        body: &CreateRequest,
    ) -> Result<CreateResponse> {
        let mut query = Query::new();
        query.push_opt("name", name);
        let request = ApiRequest::post("/containers/create")
            .query(query)
            .json(body)?;
        self.send_json(request).await
    }

    /// `POST /containers/{id}/start`; starting a running container succeeds.
    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.send_ok(ApiRequest::post(container_path(id, "/start")))
            .await
    }

    /// `POST /containers/{id}/stop?t=&signal=`.
    pub async fn stop_container(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let mut query = Query::new();
        query.push_opt("t", timeout).push_opt("signal", signal);
        let request = ApiRequest::post(container_path(id, "/stop")).query(query);
        self.send_ok(request).await
    }

    /// `POST /containers/{id}/restart?t=&signal=`.
    pub async fn restart_container(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let mut query = Query::new();
        query.push_opt("t", timeout).push_opt("signal", signal);
        let request = ApiRequest::post(container_path(id, "/restart")).query(query);
        self.send_ok(request).await
    }

    /// `POST /containers/{id}/kill?signal=` (the daemon defaults to SIGKILL).
    pub async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<()> {
        let mut query = Query::new();
        query.push_opt("signal", signal);
        let request = ApiRequest::post(container_path(id, "/kill")).query(query);
        self.send_ok(request).await
    }

    /// `DELETE /containers/{id}?force=&v=`.
    pub async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let mut query = Query::new();
        query.flag("force", force).flag("v", volumes);
        let request = ApiRequest::new(Method::DELETE, container_path(id, "")).query(query);
        self.send_ok(request).await
    }

    /// `GET /containers/json?all=&limit=&filters=`.
    pub async fn list_containers(
        &self,
        options: &ListContainersOptions,
    ) -> Result<Vec<ContainerSummary>> {
        let mut query = Query::new();
        query
            .flag("all", options.all)
            .push_opt("limit", options.limit.filter(|l| *l > 0))
            .flag("size", options.size)
            .filters(&options.filters);
        self.send_json(ApiRequest::get("/containers/json").query(query))
            .await
    }

    /// `GET /containers/{id}/json`.
    pub async fn inspect_container(&self, id: &str) -> Result<ContainerInspect> {
        self.send_json(ApiRequest::get(container_path(id, "/json")))
            .await
    }

    /// `GET /containers/{id}/json` as the daemon sent it, for printing.
    pub async fn inspect_container_raw(&self, id: &str) -> Result<serde_json::Value> {
        self.send_json(ApiRequest::get(container_path(id, "/json")))
            .await
    }

    /// Sends `POST /containers/{id}/wait?condition=` and returns once the
    /// daemon has accepted it; [`PendingWait::result`] gives the exit status.
    /// Send it before starting a container to be sure to see it exit.
    pub async fn begin_wait(&self, id: &str, condition: WaitCondition) -> Result<PendingWait> {
        let mut query = Query::new();
        if condition != WaitCondition::NotRunning {
            query.push("condition", condition.as_str());
        }
        let request = ApiRequest::post(container_path(id, "/wait")).query(query);
        let response = self.send(request).await?;
        Ok(PendingWait {
            body: response.into_body(),
        })
    }

    /// Waits for a container to meet `condition` and returns its exit status.
    pub async fn wait_container(&self, id: &str, condition: WaitCondition) -> Result<WaitResponse> {
        self.begin_wait(id, condition).await?.result().await
    }

    /// `GET /containers/{id}/logs`: multiplexed unless the container has a
    /// TTY (see [`crate::demux`]).
    pub async fn container_logs(&self, id: &str, options: &LogsOptions) -> Result<ByteStream> {
        let mut query = Query::new();
        query
            .flag("follow", options.follow)
            .flag("stdout", options.stdout)
            .flag("stderr", options.stderr)
            .push_opt("since", options.since.as_deref())
            .push_opt("until", options.until.as_deref())
            .flag("timestamps", options.timestamps)
            .push_opt("tail", options.tail.as_deref());
        let request = ApiRequest::get(container_path(id, "/logs")).query(query);
        let response = self.send(request).await?;
        Ok(ByteStream::new(response.into_body()))
    }

    /// `POST /containers/{id}/resize?h=&w=`: the TTY's size in characters.
    pub async fn resize_container(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let mut query = Query::new();
        query
            .push("h", height.to_string())
            .push("w", width.to_string());
        let request = ApiRequest::post(container_path(id, "/resize")).query(query);
        self.send_ok(request).await
    }

    /// `GET /containers/{id}/top?ps_args=`: the container's processes, as
    /// `ps` with `ps_args` (the daemon's default is `-ef`) shows them.
    pub async fn top_container(&self, id: &str, ps_args: Option<&str>) -> Result<TopResponse> {
        let mut query = Query::new();
        query.push_opt("ps_args", ps_args);
        self.send_json(ApiRequest::get(container_path(id, "/top")).query(query))
            .await
    }

    /// `POST /containers/{id}/rename?name=`.
    /// `POST /containers/{id}/pause`.
    pub async fn pause_container(&self, id: &str) -> Result<()> {
        self.send_ok(ApiRequest::post(container_path(id, "/pause")))
            .await
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn unpause_container(&self, id: &str) -> Result<()> {
        self.send_ok(ApiRequest::post(container_path(id, "/unpause")))
            .await
    }

    pub async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let mut query = Query::new();
        query.push("name", name);
        self.send_ok(ApiRequest::post(container_path(id, "/rename")).query(query))
            .await
    }
}
