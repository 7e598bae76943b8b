//! What the bus and the manager say about themselves, for `doctor`: the manager's own cgroup,
//! the process serving the bus, and whether a name is served or can be started on it.

use zbus::fdo::DBusProxy;
use zbus::names::BusName;

use super::Systemd;
use crate::core::error::Result;

/// The bus daemon's own well-known name, which it answers for itself.
const BUS_DRIVER: &str = "org.freedesktop.DBus";

impl Systemd {
    /// The cgroup the manager runs its units below, as it names it: empty for PID 1 (the
    /// root), `/user.slice/user-1000.slice/user@1000.service` for a user manager.
    pub async fn manager_cgroup(&self) -> Result<String> {
        let _slot = self.slot().await;
        self.manager
            .control_group()
            .await
            .map_err(|e| self.classify("query", "the manager", e))
    }

    /// The pid of the process serving this bus (`dbus-daemon`, `dbus-broker`), as the bus
    /// itself reports it; `None` when it does not say.
    pub async fn bus_daemon_pid(&self) -> Option<u32> {
        let proxy = DBusProxy::new(&self.conn).await.ok()?;
        let name = BusName::try_from(BUS_DRIVER).ok()?;
        proxy.get_connection_unix_process_id(name).await.ok()
    }

    /// Whether `name` has an owner on this bus now or can be started by the bus on demand;
    /// `None` when the bus does not answer.
    pub async fn name_available(&self, name: &str) -> Option<bool> {
        let proxy = DBusProxy::new(&self.conn).await.ok()?;
        let bus_name = BusName::try_from(name).ok()?;
        if proxy.name_has_owner(bus_name).await.ok()? {
            return Some(true);
        }
        let activatable = proxy.list_activatable_names().await.ok()?;
        Some(activatable.iter().any(|n| n.as_str() == name))
    }
}
