//! berth-client: async client for the Docker Engine API over a Unix socket.
