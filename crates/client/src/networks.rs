//! Network endpoints: create, list, inspect, remove, prune, connect,
//! disconnect.

use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use berth_api::network::{
    ConnectRequest, DisconnectRequest, Network, NetworkCreateRequest, NetworkCreateResponse,
    PruneResponse,
};
use berth_api::Filters;
use http::Method;

fn network_path(id: &str, action: &str) -> String {
    format!("/networks/{}{action}", path_segment(id))
}

fn filters_query(filters: &Filters) -> Query {
    let mut query = Query::new();
    query.filters(filters);
    query
}

impl Client {
    /// `POST /networks/create`.
    pub async fn create_network(
        &self,
        body: &NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse> {
        self.send_json(ApiRequest::post("/networks/create").json(body)?)
            .await
    }

    /// `GET /networks?filters=`.
    pub async fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>> {
        let request = ApiRequest::get("/networks").query(filters_query(filters));
        self.send_json(request).await
    }

    /// `GET /networks/{id}?verbose=` as the daemon sent it, for printing.
    pub async fn inspect_network_raw(&self, id: &str, verbose: bool) -> Result<serde_json::Value> {
        let mut query = Query::new();
        query.flag("verbose", verbose);
        self.send_json(ApiRequest::get(network_path(id, "")).query(query))
            .await
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove_network(&self, id: &str) -> Result<()> {
        self.send_ok(ApiRequest::new(Method::DELETE, network_path(id, "")))
            .await
    }

    /// `POST /networks/prune?filters=`: removes the networks no container
    /// uses.
    pub async fn prune_networks(&self, filters: &Filters) -> Result<PruneResponse> {
        let request = ApiRequest::post("/networks/prune").query(filters_query(filters));
        self.send_json(request).await
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect_network(&self, id: &str, body: &ConnectRequest) -> Result<()> {
        self.send_ok(ApiRequest::post(network_path(id, "/connect")).json(body)?)
            .await
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(&self, id: &str, body: &DisconnectRequest) -> Result<()> {
        self.send_ok(ApiRequest::post(network_path(id, "/disconnect")).json(body)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names_are_escaped_in_paths() {
        assert_eq!(
            network_path("my net", "/connect"),
            "/networks/my%20net/connect"
        );
        assert_eq!(network_path("app", ""), "/networks/app");
    }

    #[test]
    fn empty_filters_send_no_query() {
        assert_eq!(filters_query(&Filters::default()).encode(), "");
        let mut filters = Filters::default();
        filters.insert("driver", "bridge");
        assert_eq!(
            filters_query(&filters).encode(),
            "?filters=%7B%22driver%22%3A%5B%22bridge%22%5D%7D"
        );
    }
}
