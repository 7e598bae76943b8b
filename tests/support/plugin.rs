//! Driving the built binary the way a Nomad client does: launch it with Nomad's environment,
//! read the handshake line, and speak gRPC over its unix socket.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use nomad_systemd::plugin::proto::base::{self as base, base_plugin_client::BasePluginClient};
use nomad_systemd::plugin::proto::driver::{self as pb, driver_client::DriverClient};
use nomad_systemd::plugin::proto::goplugin::grpc_controller_client::GrpcControllerClient;
use rmpv::Value;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

pub const COOKIE_KEY: &str = "NOMAD_PLUGIN_MAGIC_COOKIE";
pub const COOKIE: &str = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255";

/// A plugin process, launched as Nomad launches it.
pub struct Plugin {
    child: Child,
    pub socket: PathBuf,
    pub handshake: String,
    stderr: Arc<Mutex<String>>,
}

/// The binary launched: the one cargo built, or `BENCH_NOMAD_SYSTEMD` where a benchmark
/// names a copy of it (`bench/run --guest` runs a copy on the guest's own disk, as the
/// baseline's programs are, not on the shared directory).
pub fn program() -> PathBuf {
    std::env::var_os("BENCH_NOMAD_SYSTEMD")
        .map_or_else(|| env!("CARGO_BIN_EXE_nomad-systemd").into(), PathBuf::from)
}

impl Plugin {
    /// Starts the binary with no arguments and Nomad's environment and waits for its
    /// handshake line.
    pub fn launch() -> Plugin {
        Plugin::launch_with(true, &[])
    }

    /// [`Plugin::launch`] with go-plugin's `PLUGIN_UNIX_SOCKET_DIR` set.
    pub fn launch_with_socket_dir(dir: &Path) -> Plugin {
        Plugin::launch_with(true, &[("PLUGIN_UNIX_SOCKET_DIR", dir.to_str().unwrap())])
    }

    /// [`Plugin::launch`], then closes the read ends of its stdout and stderr, as the death of
    /// the agent that launched it does.
    pub fn launch_orphaned() -> Plugin {
        Plugin::launch_with(false, &[])
    }

    /// [`Plugin::launch`] as the unprivileged `uid`/`gid`, running the binary at `program`
    /// (a copy that user can execute) with `env` added, from `/`.
    pub fn launch_as(uid: u32, gid: u32, program: &Path, env: &[(&str, &str)]) -> Plugin {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(program);
        // std drops root's supplementary groups when it switches the uid.
        command.uid(uid).gid(gid).current_dir("/");
        Plugin::spawn(command, true, env)
    }

    fn launch_with(keep_pipes: bool, env: &[(&str, &str)]) -> Plugin {
        Plugin::spawn(Command::new(program()), keep_pipes, env)
    }

    fn spawn(mut command: Command, keep_pipes: bool, env: &[(&str, &str)]) -> Plugin {
        let mut child = command
            .envs(env.iter().copied())
            .env(COOKIE_KEY, COOKIE)
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_PROTOCOL_VERSIONS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("launch the plugin");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let stderr_reader = move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        };
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut handshake = String::new();
        stdout
            .read_line(&mut handshake)
            .expect("read the handshake");
        if keep_pipes {
            std::thread::spawn(stderr_reader);
            // Anything more on stdout would be a protocol violation; keep reading to notice it.
            std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = stdout.read_to_string(&mut rest);
                assert!(
                    rest.is_empty(),
                    "plugin wrote to stdout after the handshake: {rest}"
                );
            });
        }
        let fields: Vec<&str> = handshake.trim_end().split('|').collect();
        assert!(
            fields.len() == 6 && fields[..3] == ["1", "2", "unix"] && fields[4] == "grpc",
            "unexpected handshake {handshake:?}; stderr: {}",
            stderr.lock().unwrap()
        );
        assert_eq!(fields[5], "", "the sixth field must stay empty for Nomad");
        Plugin {
            socket: PathBuf::from(fields[3]),
            child,
            handshake,
            stderr,
        }
    }

    /// A new client connection (h2c over the unix socket, authority "unused" like go-plugin).
    pub async fn connect(&self) -> Connection {
        let socket = self.socket.clone();
        let channel = Endpoint::from_static("http://unused")
            .connect_with_connector(tower::service_fn(move |_| {
                let socket = socket.clone();
                async move { UnixStream::connect(socket).await.map(TokioIo::new) }
            }))
            .await
            .expect("connect to the plugin socket");
        Connection {
            base: BasePluginClient::new(channel.clone()),
            driver: DriverClient::new(channel.clone()),
            controller: GrpcControllerClient::new(channel.clone()),
            channel,
        }
    }

    /// Launches and configures a plugin as Nomad's driver manager does (launch #3).
    pub async fn configured() -> (Plugin, Connection) {
        let plugin = Plugin::launch();
        let mut conn = plugin.connect().await;
        conn.set_config(Vec::new(), nomad_config())
            .await
            .expect("SetConfig");
        (plugin, conn)
    }

    /// [`Plugin::launch`], configured with the agent's `config { ... }` block given as
    /// attribute pairs (cty msgpack, see [`cty_object`]) and Nomad's settings
    /// ([`nomad_config`]); panics if SetConfig fails.
    pub async fn configured_with(settings: &[(&str, Value)]) -> (Plugin, Connection) {
        let plugin = Plugin::launch();
        let mut conn = plugin.connect().await;
        conn.set_config(cty_object(settings), nomad_config())
            .await
            .expect("SetConfig");
        (plugin, conn)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The plugin process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the plugin's status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS")
    }

    /// How many threads the plugin process has.
    pub fn threads(&self) -> usize {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the plugin's status")
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("Threads")
    }

    /// How many file descriptors the plugin process holds.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("the plugin's fds")
            .count()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.kill_9();
    }
}

pub struct Connection {
    pub base: BasePluginClient<Channel>,
    pub driver: DriverClient<Channel>,
    pub controller: GrpcControllerClient<Channel>,
    /// The connection itself, for go-plugin's other services.
    pub channel: Channel,
}

impl Connection {
    /// SetConfig with the agent's `config` block (cty msgpack) and Nomad's settings, `None`
    /// being the loader's validation launch.
    pub async fn set_config(
        &mut self,
        msgpack: Vec<u8>,
        nomad: Option<base::NomadConfig>,
    ) -> Result<(), tonic::Status> {
        self.base
            .set_config(base::SetConfigRequest {
                msgpack_config: msgpack,
                nomad_config: nomad,
                plugin_api_version: "v0.1.0".into(),
            })
            .await
            .map(drop)
    }

    pub async fn start(&mut self, task: pb::TaskConfig) -> Result<pb::TaskHandle, tonic::Status> {
        let response = self
            .driver
            .start_task(pb::StartTaskRequest { task: Some(task) })
            .await?;
        Ok(response
            .into_inner()
            .handle
            .expect("StartTask returns a handle"))
    }

    pub async fn wait(&mut self, id: &str) -> pb::WaitTaskResponse {
        self.driver
            .wait_task(pb::WaitTaskRequest { task_id: id.into() })
            .await
            .expect("WaitTask")
            .into_inner()
    }

    /// WaitTask on a connection of its own, as Nomad keeps one open for each task while
    /// making other calls.
    pub fn wait_in_background(&self, id: &str) -> tokio::task::JoinHandle<pb::WaitTaskResponse> {
        let mut driver = self.driver.clone();
        let task_id = id.to_string();
        tokio::spawn(async move {
            driver
                .wait_task(pb::WaitTaskRequest { task_id })
                .await
                .expect("WaitTask")
                .into_inner()
        })
    }

    /// ExecTask of `command` in the task `id`, killed after `timeout` if one is given.
    pub async fn exec(
        &mut self,
        id: &str,
        command: &[&str],
        timeout: Option<Duration>,
    ) -> Result<pb::ExecTaskResponse, tonic::Status> {
        let timeout = timeout.map(|t| prost_types::Duration {
            seconds: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        });
        self.driver
            .exec_task(pb::ExecTaskRequest {
                task_id: id.into(),
                command: command.iter().map(|c| c.to_string()).collect(),
                timeout,
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// The Fingerprint stream's first message, as Nomad's driver manager reads it on connect.
    pub async fn first_fingerprint(&mut self) -> pb::FingerprintResponse {
        self.driver
            .fingerprint(pb::FingerprintRequest {})
            .await
            .unwrap()
            .into_inner()
            .message()
            .await
            .unwrap()
            .expect("a first fingerprint")
    }

    /// RecoverTask of task `id` from the handle its StartTask returned.
    pub async fn recover(&mut self, id: &str, handle: pb::TaskHandle) -> Result<(), tonic::Status> {
        self.driver
            .recover_task(pb::RecoverTaskRequest {
                task_id: id.to_string(),
                handle: Some(handle),
            })
            .await
            .map(|_| ())
    }

    pub async fn destroy(&mut self, id: &str) {
        self.driver
            .destroy_task(pb::DestroyTaskRequest {
                task_id: id.into(),
                force: true,
            })
            .await
            .expect("DestroyTask");
    }
}

/// StopTask as Nomad sends it: `signal` ("" for the job's default) then SIGKILL after
/// `seconds`.
pub async fn stop(
    driver: &mut DriverClient<Channel>,
    id: &str,
    signal: &str,
    seconds: i64,
) -> Result<(), tonic::Status> {
    driver
        .stop_task(pb::StopTaskRequest {
            task_id: id.into(),
            timeout: Some(prost_types::Duration { seconds, nanos: 0 }),
            signal: signal.into(),
        })
        .await
        .map(drop)
}

/// What Nomad's client sends on the real launch: its port range and a 2-core topology.
pub fn nomad_config() -> Option<base::NomadConfig> {
    let core = |id| base::ClientTopologyCore {
        core_id: id,
        base_speed: 2000,
        ..Default::default()
    };
    Some(base::NomadConfig {
        driver: Some(base::NomadDriverConfig {
            client_max_port: 14512,
            client_min_port: 14000,
            topology: Some(base::ClientTopology {
                node_ids: vec![0],
                cores: vec![core(0), core(1)],
                ..Default::default()
            }),
        }),
    })
}

/// cty msgpack of an object as go-cty writes it: keys sorted bytewise, values as given.
pub fn cty_object(pairs: &[(&str, Value)]) -> Vec<u8> {
    let sorted: BTreeMap<&str, &Value> = pairs.iter().map(|(k, v)| (*k, v)).collect();
    let map = Value::Map(
        sorted
            .into_iter()
            .map(|(k, v)| (Value::from(k), v.clone()))
            .collect(),
    );
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &map).expect("encode");
    out
}

/// A cty list of strings, as go-cty writes `["a", "b"]`: a msgpack array of strings.
pub fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

/// A cty map of strings, as go-cty writes `{ k = "v" }`: a msgpack map of string to string,
/// in the order given.
pub fn string_map(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), Value::from(*v)))
            .collect(),
    )
}

/// A job's `config` running `/bin/sh -c script`, with further `options` after `command` and
/// `args`; attributes not given are absent (unlike [`driver_config`], which sets them nil).
pub fn shell_config(script: &str, options: &[(&str, Value)]) -> Vec<u8> {
    let mut pairs = vec![
        ("command", Value::from("/bin/sh")),
        ("args", strings(&["-c", script])),
    ];
    pairs.extend(options.iter().cloned());
    cty_object(&pairs)
}

/// A job's `config { unit = "..." }`: run the installed unit `unit`.
pub fn unit_config(unit: &str) -> Vec<u8> {
    cty_object(&[("unit", Value::from(unit))])
}

/// The unit the plugin runs `task` as (its transient unit name, from Nomad's task id).
pub fn task_unit(task: &pb::TaskConfig) -> nomad_systemd::core::UnitName {
    let instance = task.id.rsplit('/').next().unwrap_or_default();
    nomad_systemd::core::UnitName::for_task(&task.alloc_id, &task.name, instance)
}

/// The unit a started task runs as, as its handle's driver state records it.
pub fn handle_unit(handle: &pb::TaskHandle) -> nomad_systemd::core::UnitName {
    let state: serde_json::Value = serde_json::from_slice(&handle.driver_state).unwrap();
    nomad_systemd::core::UnitName::parse(state["unit"].as_str().unwrap()).unwrap()
}

/// Starts `task` as `user`, waits for it to exit and returns what it printed on stdout once
/// `END` arrived there (within 10 s); destroys the task. Panics if StartTask fails.
pub async fn run_task_as(
    conn: &mut Connection,
    alloc: &Alloc,
    mut task: pb::TaskConfig,
    user: &str,
) -> String {
    task.user = user.into();
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    conn.wait(&id).await;
    let out = alloc.wait_for_stdout("END", Duration::from_secs(10));
    conn.destroy(&id).await;
    out
}

/// A job's `config { command = ..., args = [...] }` for our schema, absent attributes nil.
pub fn driver_config(command: &str, args: &[&str]) -> Vec<u8> {
    cty_object(&[
        (
            "args",
            Value::Array(args.iter().map(|a| Value::from(*a)).collect()),
        ),
        ("command", Value::from(command)),
        ("group", Value::Nil),
        ("logging", Value::Nil),
        ("oom_score_adj", Value::Nil),
        ("working_dir", Value::Nil),
    ])
}

/// An allocation directory laid out as Nomad's client builds it, with the log FIFOs logmon
/// creates, and readers draining them (as logmon does) before the task starts.
pub struct Alloc {
    pub dir: tempfile::TempDir,
    pub id: String,
    pub task: String,
    stdout: Arc<Mutex<Received>>,
    stderr: Arc<Mutex<Received>>,
}

impl Alloc {
    pub fn new(task: &str) -> Alloc {
        Alloc::new_in(task, &std::env::temp_dir())
    }

    /// An allocation directory below `parent` (Nomad's data_dir), not the temp directory.
    pub fn new_in(task: &str, parent: &Path) -> Alloc {
        let alloc = Alloc::without_logs(task, parent);
        let logs = alloc.dir.path().join("alloc/logs");
        Alloc {
            stdout: drain(&logs.join(format!(".{task}.stdout.fifo"))),
            stderr: drain(&logs.join(format!(".{task}.stderr.fifo"))),
            ..alloc
        }
    }

    /// The directories alone, without log FIFOs or their readers: for many tasks whose
    /// output goes to `/dev/null` (benchmarks), where a reader thread each would be noise.
    pub fn without_logs(task: &str, parent: &Path) -> Alloc {
        let dir = tempfile::tempdir_in(parent).expect("temp dir");
        for sub in ["alloc/logs", "alloc/data", "alloc/tmp"]
            .iter()
            .map(|s| s.to_string())
            .chain(
                ["local", "secrets", "tmp"]
                    .iter()
                    .map(|s| format!("{task}/{s}")),
            )
        {
            let path = dir.path().join(&sub);
            std::fs::create_dir_all(&path).unwrap();
        }
        for entry in walk(dir.path()) {
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        Alloc {
            dir,
            id: uuid::Uuid::new_v4().to_string(),
            task: task.into(),
            stdout: Arc::default(),
            stderr: Arc::default(),
        }
    }

    /// Nomad's TaskConfig for a fresh run of this task.
    pub fn task_config(&self, driver_config: Vec<u8>) -> pb::TaskConfig {
        let instance = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let logs = self.dir.path().join("alloc/logs");
        let env = [
            ("NOMAD_ALLOC_ID", self.id.as_str()),
            ("NOMAD_TASK_NAME", self.task.as_str()),
            ("NOMAD_ALLOC_DIR", "/alloc"),
            ("NOMAD_TASK_DIR", "/local"),
            ("NOMAD_SECRETS_DIR", "/secrets"),
        ];
        pb::TaskConfig {
            id: format!("{}/{}/{instance}", self.id, self.task),
            name: self.task.clone(),
            msgpack_driver_config: driver_config,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            resources: Some(pb::Resources {
                allocated_resources: Some(pb::AllocatedTaskResources {
                    cpu: Some(pb::AllocatedCpuResources { cpu_shares: 100 }),
                    memory: Some(pb::AllocatedMemoryResources {
                        memory_mb: 64,
                        memory_max_mb: 0,
                    }),
                    networks: vec![],
                }),
                linux_resources: Some(pb::LinuxResources {
                    cpu_shares: 100,
                    memory_limit_bytes: 64 << 20,
                    ..Default::default()
                }),
                ports: vec![],
            }),
            alloc_dir: self.dir.path().display().to_string(),
            stdout_path: logs
                .join(format!(".{}.stdout.fifo", self.task))
                .display()
                .to_string(),
            stderr_path: logs
                .join(format!(".{}.stderr.fifo", self.task))
                .display()
                .to_string(),
            task_group_name: "group".into(),
            job_name: "plugin-test".into(),
            alloc_id: self.id.clone(),
            job_id: "plugin-test".into(),
            namespace: "default".into(),
            ..Default::default()
        }
    }

    /// Gives the allocation's directories and log FIFOs to `uid`/`gid`, as they are when
    /// Nomad's agent runs as that user.
    pub fn hand_to(&self, uid: u32, gid: u32) {
        let owner = (
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        );
        for entry in walk(self.dir.path()) {
            nix::unistd::chown(&entry, owner.0, owner.1).expect("chown");
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Waits until the task's stdout (as read from its FIFO) contains `text`.
    pub fn wait_for_stdout(&self, text: &str, timeout: Duration) -> String {
        wait_for_output(&self.stdout, text, timeout)
    }

    /// Waits until `count` bytes have arrived on the task's stdout FIFO; returns how long
    /// they took from the first byte to the last.
    pub fn wait_for_stdout_bytes(&self, count: u64, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let seen = self.stdout.lock().unwrap();
                if seen.count >= count
                    && let (Some(first), Some(last)) = (seen.first, seen.last)
                {
                    return last - first;
                }
            }
            assert!(Instant::now() < deadline, "stdout stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether anything at all arrived on the task's stdout FIFO.
    pub fn has_stdout(&self) -> bool {
        self.stdout.lock().unwrap().count > 0
    }

    pub fn wait_for_stderr(&self, text: &str, timeout: Duration) -> String {
        wait_for_output(&self.stderr, text, timeout)
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            for e in std::fs::read_dir(&out[i]).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

/// Makes a FIFO and keeps a reader on it, collecting what arrives.
fn drain(path: &Path) -> Arc<Mutex<Received>> {
    use std::os::unix::fs::OpenOptionsExt;
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    // A reader exists from now on (logmon's is waiting in open() before StartTask); this one
    // never reads, it only makes the plugin's non-blocking open for writing succeed.
    let present = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .expect("open the FIFO's read end");
    let collected = Arc::new(Mutex::new(Received::default()));
    let sink = collected.clone();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // Blocks until the plugin opens the write end.
        let Ok(mut fifo) = std::fs::File::open(&path) else {
            return;
        };
        drop(present);
        // Nomad's logmon copies with Go's io.Copy, 32 KiB at a time.
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = fifo.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut seen = sink.lock().unwrap();
            let now = Instant::now();
            seen.first.get_or_insert(now);
            seen.last = Some(now);
            seen.count += n as u64;
            // Tests look at the start of the output; benchmarks only count.
            if seen.bytes.len() < KEEP {
                seen.bytes.extend_from_slice(&buf[..n]);
            }
        }
    });
    collected
}

/// How much of a stream the harness keeps.
const KEEP: usize = 1 << 20;

/// What arrived on one FIFO.
#[derive(Default)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub count: u64,
    /// When the first and the latest bytes arrived.
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

fn wait_for_output(buf: &Arc<Mutex<Received>>, text: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = String::from_utf8_lossy(&buf.lock().unwrap().bytes).into_owned();
        if seen.contains(text) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} did not arrive within {timeout:?}; got {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A configured plugin with one running task (as the default user, `nobody`, in Nomad's
/// layout), once the task has written `alloc/up`; returns the plugin, its connection, the
/// allocation and the task id.
pub async fn task_running(name: &str) -> (Plugin, Connection, Alloc, String) {
    let (plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new(name);
    let task = alloc.task_config(driver_config(
        "/bin/sh",
        &["-c", "echo up > /alloc/up; while :; do sleep 0.1; done"],
    ));
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let up = alloc.path("alloc/up");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !up.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", up.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    (plugin, conn, alloc, id)
}
