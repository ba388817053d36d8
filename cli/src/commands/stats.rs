//! `berth stats`: live resource usage, computed from the daemon's samples
//! with docker's formulas and shown in docker's table (redrawn every half
//! second), or once with `--no-stream`.
//!
//! Without container names it shows every running container (all with
//! `-a`) and follows the event stream to add those that start and drop
//! those that die, as docker does.

use super::out;
use crate::format::table::ListFormat;
use crate::format::{binary_size, human_size, short_id};
use berth_api::Filters;
use berth_client::{
    BlkioStats, Client, ContainerStats, EventsOptions, ListContainersOptions, MemoryStats,
    NetworkStats,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Docker's default `stats` table.
const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// A container whose next sample takes longer than this shows `--`.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the table is redrawn while streaming.
const REFRESH: Duration = Duration::from_millis(500);
/// How often to look whether every container has reported once.
const FIRST_POLL: Duration = Duration::from_millis(20);
/// Clears the terminal and homes the cursor before each redraw.
const CLEAR_SCREEN: &str = "\x1b[2J\x1b[H";

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// One container's figures (docker's `StatsEntry`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsEntry {
    /// The container as the user named it, or its short id.
    pub container: String,
    /// `/name`, as the daemon reports it.
    pub name: String,
    pub id: String,
    pub cpu_percent: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percent: f64,
    pub network_rx: f64,
    pub network_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids: u64,
    /// No figures to show (an error, or no sample in time): `--`.
    pub invalid: bool,
}

/// CPU use between the sample and the previous one (`precpu_stats`): the
/// container's share of the host's CPU time, times the number of CPUs.
pub fn cpu_percent(sample: &ContainerStats) -> f64 {
    let (now, before) = (&sample.cpu_stats, &sample.precpu_stats);
    let cpu_delta = now.cpu_usage.total_usage as f64 - before.cpu_usage.total_usage as f64;
    let system_delta = now.system_cpu_usage as f64 - before.system_cpu_usage as f64;
    let cpus = match now.online_cpus {
        0 => now.cpu_usage.percpu_usage.len() as f64,
        n => f64::from(n),
    };
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the page cache that can be dropped: usage minus
/// `total_inactive_file` (cgroup v1) or `inactive_file` (v2), as docker,
/// cadvisor and the CRI count it.
pub fn memory_used(memory: &MemoryStats) -> f64 {
    if let Some(&inactive) = memory.stats.get("total_inactive_file") {
        if inactive < memory.usage {
            return (memory.usage - inactive) as f64;
        }
    }
    let inactive = memory.stats.get("inactive_file").copied().unwrap_or(0);
    if inactive < memory.usage {
        (memory.usage - inactive) as f64
    } else {
        memory.usage as f64
    }
}

/// `used` as a percentage of `limit`; 0 without a limit (not running).
pub fn memory_percent(used: f64, limit: f64) -> f64 {
    if limit != 0.0 {
        used / limit * 100.0
    } else {
        0.0
    }
}

/// Bytes read and written, summed over devices.
pub fn block_io(blkio: &BlkioStats) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for entry in &blkio.io_service_bytes_recursive {
        match entry.op.bytes().next() {
            Some(b'r' | b'R') => read = read.saturating_add(entry.value),
            Some(b'w' | b'W') => write = write.saturating_add(entry.value),
            _ => {}
        }
    }
    (read, write)
}

/// Bytes received and sent, summed over interfaces.
pub fn network_io(networks: &BTreeMap<String, NetworkStats>) -> (f64, f64) {
    networks.values().fold((0.0, 0.0), |(rx, tx), n| {
        (rx + n.rx_bytes as f64, tx + n.tx_bytes as f64)
    })
}

impl StatsEntry {
    /// Nothing known yet about `container`.
    fn new(container: &str) -> StatsEntry {
        StatsEntry {
            container: container.to_string(),
            ..StatsEntry::default()
        }
    }

    /// The figures of one sample.
    pub fn from_sample(container: &str, sample: &ContainerStats) -> StatsEntry {
        let memory = memory_used(&sample.memory_stats);
        let memory_limit = sample.memory_stats.limit as f64;
        let (block_read, block_write) = block_io(&sample.blkio_stats);
        let (network_rx, network_tx) = network_io(&sample.networks);
        StatsEntry {
            container: container.to_string(),
            name: sample.name.clone(),
            id: sample.id.clone(),
            cpu_percent: cpu_percent(sample),
            memory,
            memory_limit,
            memory_percent: memory_percent(memory, memory_limit),
            network_rx,
            network_tx,
            block_read: block_read as f64,
            block_write: block_write as f64,
            pids: sample.pids_stats.current,
            invalid: false,
        }
    }

    /// Zeroes the figures, keeping who it is (docker's `SetErrorAndReset`).
    fn reset(&mut self) {
        *self = StatsEntry {
            container: std::mem::take(&mut self.container),
            name: std::mem::take(&mut self.name),
            id: std::mem::take(&mut self.id),
            invalid: true,
            ..StatsEntry::default()
        };
    }

    /// The `--format` placeholders, as docker's stats context shows them
    /// (keys in the order docker's `json` output has them).
    fn row(&self, trunc: bool) -> Value {
        let invalid_or = |text: String| if self.invalid { "--".to_string() } else { text };
        let pair = |a: String, b: String| format!("{a} / {b}");
        let name = match self.name.get(1..) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "--".to_string(),
        };
        json!({
            "BlockIO": invalid_or(pair(
                human_size(self.block_read as i64),
                human_size(self.block_write as i64),
            )),
            "CPUPerc": invalid_or(format!("{:.2}%", self.cpu_percent)),
            "Container": self.container,
            "ID": if trunc { short_id(&self.id) } else { self.id.clone() },
            "MemPerc": invalid_or(format!("{:.2}%", self.memory_percent)),
            "MemUsage": if self.invalid {
                "-- / --".to_string()
            } else {
                pair(binary_size(self.memory as i64), binary_size(self.memory_limit as i64))
            },
            "Name": name,
            "NetIO": invalid_or(pair(
                human_size(self.network_rx as i64),
                human_size(self.network_tx as i64),
            )),
            "PIDs": invalid_or(self.pids.to_string()),
        })
    }
}

/// Column titles for each placeholder.
fn headers() -> Value {
    json!({
        "BlockIO": "BLOCK I/O",
        "CPUPerc": "CPU %",
        "Container": "CONTAINER",
        "ID": "CONTAINER ID",
        "MemPerc": "MEM %",
        "MemUsage": "MEM USAGE / LIMIT",
        "Name": "NAME",
        "NetIO": "NET I/O",
        "PIDs": "PIDS",
    })
}

/// One watched container.
struct Slot {
    entry: StatsEntry,
    error: Option<String>,
    /// A first sample, error or timeout has come in.
    reported: bool,
    collector: Option<JoinHandle<()>>,
}

/// The watched containers, in the order they were added, shared with the
/// tasks that collect their samples.
#[derive(Clone)]
struct Board {
    slots: Arc<Mutex<Vec<Slot>>>,
    client: Client,
    stream: bool,
}

impl Board {
    fn new(client: &Client, stream: bool) -> Board {
        Board {
            slots: Arc::default(),
            client: client.clone(),
            stream,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts watching `container` unless it already is.
    fn add(&self, container: &str) {
        let mut slots = self.lock();
        if slots.iter().any(|s| s.entry.container == container) {
            return;
        }
        let collector = tokio::spawn(self.clone().collect(container.to_string()));
        slots.push(Slot {
            entry: StatsEntry::new(container),
            error: None,
            reported: false,
            collector: Some(collector),
        });
    }

    /// Stops watching `container` (dropping its slot stops its collector).
    fn remove(&self, container: &str) {
        self.lock().retain(|slot| slot.entry.container != container);
    }

    fn update(&self, container: &str, change: impl FnOnce(&mut Slot)) {
        if let Some(slot) = self
            .lock()
            .iter_mut()
            .find(|s| s.entry.container == container)
        {
            change(slot);
            slot.reported = true;
        }
    }

    fn fail(&self, container: &str, error: String) {
        self.update(container, |slot| {
            slot.entry.invalid = true;
            slot.error = Some(error);
        });
    }

    /// Reads samples for one container until its stream ends (or after the
    /// first one without streaming).
    async fn collect(self, container: String) {
        let request = self.client.container_stats(&container, self.stream);
        tokio::pin!(request);
        let mut samples = loop {
            match tokio::time::timeout(SAMPLE_TIMEOUT, &mut request).await {
                Ok(Ok(samples)) => break samples,
                Ok(Err(e)) => return self.fail(&container, e.to_string()),
                Err(_) => self.timed_out(&container),
            }
            if !self.stream {
                return;
            }
        };
        loop {
            match tokio::time::timeout(SAMPLE_TIMEOUT, samples.next()).await {
                Ok(Ok(Some(sample))) => self.update(&container, |slot| {
                    slot.entry = StatsEntry::from_sample(&container, &sample);
                    slot.error = None;
                }),
                Ok(Ok(None)) => return self.fail(&container, "EOF".to_string()),
                Ok(Err(e)) => return self.fail(&container, e.to_string()),
                Err(_) => self.timed_out(&container),
            }
            if !self.stream {
                return;
            }
        }
    }

    /// No sample in time: the figures are cleared until the next one.
    fn timed_out(&self, container: &str) {
        self.update(container, |slot| {
            slot.entry.reset();
            slot.error = Some("timeout waiting for stats".to_string());
        });
    }

    /// Waits until every container has reported once.
    async fn first_reports(&self) {
        while self.lock().iter().any(|slot| !slot.reported) {
            tokio::time::sleep(FIRST_POLL).await;
        }
    }

    fn errors(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter_map(|slot| slot.error.clone())
            .collect()
    }

    fn rows(&self, trunc: bool) -> Vec<Value> {
        self.lock()
            .iter()
            .map(|slot| slot.entry.row(trunc))
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Follows container events: starts add a container (creates too with
    /// `-a`), deaths drop it (unless `-a`). Subscribes before returning, so
    /// nothing that happens after the caller lists containers is missed.
    async fn follow_events(&self, all: bool) -> Option<JoinHandle<()>> {
        let mut filters = Filters::default();
        filters.insert("type", "container");
        let options = EventsOptions {
            filters,
            ..EventsOptions::default()
        };
        let mut events = self.client.events(&options).await.ok()?;
        let board = self.clone();
        Some(tokio::spawn(async move {
            while let Ok(Some(event)) = events.next().await {
                let id = short_id(&event.actor.id);
                match event.action.as_str() {
                    "start" => board.add(&id),
                    "create" if all => board.add(&id),
                    "die" if !all => board.remove(&id),
                    _ => {}
                }
            }
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(collector) = self.collector.take() {
            collector.abort();
        }
    }
}

/// `berth stats`.
pub async fn stats(client: &Client, args: StatsArgs) -> anyhow::Result<()> {
    let format = ListFormat::parse(args.format.as_deref(), false, DEFAULT_FORMAT)?;
    let stream = !args.no_stream;
    let board = Board::new(client, stream);
    let show_all = args.containers.is_empty();
    let mut follower = None;
    if show_all {
        if stream {
            follower = board.follow_events(args.all).await;
        }
        let options = ListContainersOptions {
            all: args.all,
            ..ListContainersOptions::default()
        };
        for container in client.list_containers(&options).await? {
            board.add(&short_id(&container.id));
        }
        board.first_reports().await;
    } else {
        for container in &args.containers {
            board.add(container);
        }
        board.first_reports().await;
        let errors = board.errors();
        if !errors.is_empty() {
            anyhow::bail!(errors.join("\n"));
        }
    }
    let trunc = !args.no_trunc;
    loop {
        let table = format.render(&headers(), &board.rows(trunc))?;
        if stream {
            out(&format!("{CLEAR_SCREEN}{table}"));
        } else {
            out(&table);
        }
        if !stream || (!show_all && board.is_empty()) {
            break;
        }
        tokio::time::sleep(REFRESH).await;
    }
    if let Some(follower) = follower {
        follower.abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_client::{BlkioEntry, CpuStats, CpuUsage, PidsStats};

    fn cpu(total: u64, system: u64, online: u32) -> CpuStats {
        CpuStats {
            cpu_usage: CpuUsage {
                total_usage: total,
                ..CpuUsage::default()
            },
            system_cpu_usage: system,
            online_cpus: online,
        }
    }

    fn memory(usage: u64, limit: u64, stats: &[(&str, u64)]) -> MemoryStats {
        MemoryStats {
            usage,
            limit,
            stats: stats.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..MemoryStats::default()
        }
    }

    #[test]
    fn cpu_percent_is_the_share_of_host_time_times_cpus() {
        let sample = ContainerStats {
            precpu_stats: cpu(1_000_000_000, 100_000_000_000, 4),
            cpu_stats: cpu(1_500_000_000, 102_000_000_000, 4),
            ..ContainerStats::default()
        };
        // Half a second of CPU time while the host's 4 CPUs spent 2s in
        // all: one whole CPU.
        assert!((cpu_percent(&sample) - 100.0).abs() < 1e-9);
        let mut v1 = sample.clone();
        v1.cpu_stats.online_cpus = 0;
        v1.cpu_stats.cpu_usage.percpu_usage = vec![1, 2];
        assert!((cpu_percent(&v1) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn cpu_percent_is_zero_without_a_previous_sample_or_progress() {
        let first = ContainerStats {
            cpu_stats: cpu(0, 5_000, 2),
            ..ContainerStats::default()
        };
        assert_eq!(cpu_percent(&first), 0.0);
        let idle = ContainerStats {
            precpu_stats: cpu(100, 1_000, 2),
            cpu_stats: cpu(100, 2_000, 2),
            ..ContainerStats::default()
        };
        assert_eq!(cpu_percent(&idle), 0.0);
        let stopped = ContainerStats::default();
        assert_eq!(cpu_percent(&stopped), 0.0);
    }

    #[test]
    fn memory_excludes_inactive_file_cache() {
        let v1 = memory(
            100 << 20,
            1 << 30,
            &[
                ("total_inactive_file", 30 << 20),
                ("inactive_file", 1 << 20),
            ],
        );
        assert_eq!(memory_used(&v1), (70u64 << 20) as f64);
        let v2 = memory(100 << 20, 1 << 30, &[("inactive_file", 40 << 20)]);
        assert_eq!(memory_used(&v2), (60u64 << 20) as f64);
        let no_stats = memory(5_000, 10_000, &[]);
        assert_eq!(memory_used(&no_stats), 5_000.0);
        // More cache than usage (racy counters): usage as is.
        let odd = memory(100, 1_000, &[("inactive_file", 200)]);
        assert_eq!(memory_used(&odd), 100.0);
        assert_eq!(memory_percent(250.0, 1_000.0), 25.0);
        assert_eq!(memory_percent(250.0, 0.0), 0.0);
    }

    #[test]
    fn block_and_network_io_are_summed() {
        let blkio = BlkioStats {
            io_service_bytes_recursive: [
                ("Read", 100),
                ("write", 7),
                ("Sync", 1),
                ("read", 5),
                ("Total", 112),
                ("", 9),
            ]
            .iter()
            .map(|(op, value)| BlkioEntry {
                op: op.to_string(),
                value: *value,
                ..BlkioEntry::default()
            })
            .collect(),
        };
        assert_eq!(block_io(&blkio), (105, 7));
        let networks: BTreeMap<String, NetworkStats> = [("eth0", 10, 20), ("eth1", 1, 2)]
            .iter()
            .map(|(name, rx, tx)| {
                (
                    name.to_string(),
                    NetworkStats {
                        rx_bytes: *rx,
                        tx_bytes: *tx,
                        ..NetworkStats::default()
                    },
                )
            })
            .collect();
        assert_eq!(network_io(&networks), (11.0, 22.0));
    }

    fn sample() -> ContainerStats {
        ContainerStats {
            name: "/web".into(),
            id: "0123456789abcdef0123".into(),
            precpu_stats: cpu(1_000, 1_000_000, 2),
            cpu_stats: cpu(4_000, 1_200_000, 2),
            memory_stats: memory(3 << 20, 16 << 20, &[("inactive_file", 1 << 20)]),
            pids_stats: PidsStats {
                current: 3,
                limit: 0,
            },
            blkio_stats: BlkioStats {
                io_service_bytes_recursive: vec![BlkioEntry {
                    op: "read".into(),
                    value: 4_264_000,
                    ..BlkioEntry::default()
                }],
            },
            networks: [(
                "eth0".to_string(),
                NetworkStats {
                    rx_bytes: 1_296,
                    tx_bytes: 0,
                    ..NetworkStats::default()
                },
            )]
            .into_iter()
            .collect(),
            ..ContainerStats::default()
        }
    }

    fn table(entries: &[StatsEntry], format: Option<&str>) -> String {
        let format = ListFormat::parse(format, false, DEFAULT_FORMAT).unwrap();
        let rows: Vec<Value> = entries.iter().map(|e| e.row(true)).collect();
        format.render(&headers(), &rows).unwrap()
    }

    #[test]
    fn the_table_reads_like_docker() {
        let entry = StatsEntry::from_sample("web", &sample());
        let want = "\
CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK I/O     PIDS
0123456789ab   web       3.00%     2MiB / 16MiB        12.50%    1.3kB / 0B   4.26MB / 0B   3
";
        assert_eq!(table(&[entry], None), want);
    }

    #[test]
    fn invalid_entries_show_dashes() {
        let mut entry = StatsEntry::from_sample("web", &sample());
        entry.reset();
        let never = StatsEntry {
            invalid: true,
            ..StatsEntry::new("db")
        };
        let text = table(
            &[entry, never],
            Some("{{.Container}}|{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"),
        );
        assert_eq!(
            text,
            "web|web|--|-- / --|--|--|--|--\ndb|--|--|-- / --|--|--|--|--\n"
        );
    }

    #[test]
    fn json_rows_have_dockers_keys() {
        let entry = StatsEntry::from_sample("web", &sample());
        let text = table(&[entry], Some("json"));
        assert_eq!(
            text,
            "{\"BlockIO\":\"4.26MB / 0B\",\"CPUPerc\":\"3.00%\",\"Container\":\"web\",\"ID\":\"0123456789ab\",\"MemPerc\":\"12.50%\",\"MemUsage\":\"2MiB / 16MiB\",\"Name\":\"web\",\"NetIO\":\"1.3kB / 0B\",\"PIDs\":\"3\"}\n"
        );
    }
}
